"""The Monitoring page in a real browser, on a server of this module's own.

Before the server starts, ``caselens monitor simulate`` writes a simulated run (readmission
model, two months of 400 predictions, num_lab_procedures half missing from month 2) into the
trail of the server's data folder. The reviewer then opens Monitoring, chooses that run, sees
it labelled SIMULATED DATA with its charts and table, checks it (the alert is recorded) and is
offered no suspension for a simulated alert; a clinician typing /monitoring is refused, and
the refusal is recorded. A screenshot of the page is saved for a person to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.audit import AuditStore, load_key
from caselens.bench.app import REPO_ROOT, AppServer, open_options

from .helpers import (
    assert_png,
    axe_problems,
    go_to,
    open_signed_in,
    read_entries,
    settled,
    shot,
    title,
)

pytestmark = pytest.mark.browser

MODEL = "readmission-30d"
CHECK = "Check now (alerts are recorded)"


def _simulate(data: Path) -> str:
    """Write a simulated run into the data folder's trail with the engine; its run id."""
    env = dict(os.environ)
    for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_MODELS_DIR"):
        env.pop(name, None)
    env["CASELENS_DATA_DIR"] = str(data)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "caselens"),
            "monitor",
            "simulate",
            "--model",
            MODEL,
            "--months",
            "2",
            "--per-month",
            "400",
            "--shift",
            "missing:num_lab_procedures@2",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"SIMULATED run (\w+):", done.stdout)
    assert found, done.stdout
    return found.group(1)


@pytest.fixture(scope="module")
def monitored(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo-mode server whose trail already holds a simulated run; its url, folder, run."""
    root = tmp_path_factory.mktemp("monitoring")
    data = root / "data"
    data.mkdir()
    run_id = _simulate(data)
    server = AppServer(data, log_file=root / "streamlit.log")
    try:
        server.start(timeout=90)
        yield {"url": server.url, "data": data, "run_id": run_id}
    finally:
        server.stop()


def _choose(page: Page, label: str, option: Any) -> None:
    open_options(page, label)
    page.get_by_role("option", name=option).click()


def test_reviewer_sees_a_simulated_run_checks_it_and_cannot_suspend(
    browser, monitored, screenshots
):
    data, run_id = monitored["data"], monitored["run_id"]
    page = open_signed_in(browser, monitored["url"], "rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text("Monitoring", exact=True).click()
    expect(title(page, "Monitoring")).to_be_visible()

    _choose(page, "Model", re.compile(rf"\({re.escape(MODEL)}\)$"))
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(
        re.compile(rf"\({re.escape(MODEL)}\)$")
    )
    _choose(page, "Data", f"Simulated run {run_id}")
    expect(page.get_by_text("SIMULATED DATA", exact=False)).to_be_visible()
    expect(page.get_by_text(f"run {run_id}", exact=False).first).to_be_visible()

    charts = page.locator(".js-plotly-plot")
    # Four period charts and the newest period's subgroup AUROCs with their intervals.
    expect(charts).to_have_count(5)
    for i in range(5):
        expect(charts.nth(i)).to_be_visible()
    expect(page.get_by_role("heading", name="Every number")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_role("button", name="Download these figures (CSV)")).to_be_visible()

    # Judged on load: the simulated crossing "would alert" before anyone checks.
    expect(page.get_by_text("Would alert").first).to_be_visible()
    expect(page.get_by_text("No limit is crossed", exact=False)).to_have_count(0)
    # The subgroup grid, opened, is named for assistive technology and holds its rows (the
    # grid is the canvas's fallback content, which Playwright counts as hidden).
    # The newest period's subgroup table: figures with intervals, small groups said.
    expect(page.get_by_role("heading", name="Subgroups (fairness)")).to_be_visible()
    table = page.get_by_role("region", name="Figures by subgroup, each with its interval")
    expect(table).to_be_visible()
    cells = table.get_by_role("gridcell", include_hidden=True)
    expect(cells.filter(has_text=re.compile(r"^fewer than 10 patients$")).first).to_be_attached()
    gaps = page.get_by_role("region", name=re.compile("^Largest gap between the groups"))
    expect(gaps).to_be_visible()
    seen = read_entries(data, action="subgroup_figures_viewed", actor_id="rev.kim")
    assert any(e.detail()["simulated_run"] == run_id for e in seen), seen
    page.locator("summary", has_text="Subgroup AUROC against the reference").click()
    subgroups = page.get_by_role("region", name="Performance by subgroup and period")
    expect(subgroups).to_be_visible()
    grid = subgroups.get_by_role("grid", include_hidden=True)
    expect(grid.get_by_role("columnheader", name="Group", include_hidden=True)).to_have_count(1)
    expect(grid.get_by_role("gridcell", include_hidden=True).first).to_be_attached()
    assert_png(shot(page, screenshots, "monitoring_reviewer_before_check"))
    before = len(read_entries(data, action="alert_raised"))
    page.get_by_role("button", name=CHECK).click()
    expect(page.get_by_text(re.compile(r"^Checked: \d+ new alert\(s\) raised"))).to_be_visible()
    raised = read_entries(data, action="alert_raised")[before:]
    assert raised, "checking the simulated run recorded no alert_raised entry"
    assert all("(simulated)" in e.detail()["message"] for e in raised)
    expect(page.get_by_text("num_lab_procedures", exact=False).first).to_be_visible()
    # A simulated alert is never a reason to suspend the model.
    expect(page.get_by_role("button", name="Suspend this model")).to_have_count(0)
    viewed = read_entries(data, action="monitoring_viewed", actor_id="rev.kim")
    assert any(e.detail().get("simulated_run") == run_id for e in viewed)

    # The page reruns after the check: wait until it is drawn again, nothing stale.
    expect(charts).to_have_count(5)
    expect(page.locator("[data-stale='true']")).to_have_count(0)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    assert_png(shot(page, screenshots, "monitoring"))
    # WCAG 2.2 AA with a run's charts and tables drawn (the shared server has none to show).
    settled(page)
    assert axe_problems(page) == []


def test_a_clinician_typing_monitoring_is_refused_and_recorded(browser, monitored):
    data = monitored["data"]
    page = open_signed_in(browser, monitored["url"], "dr.lee")
    expect(title(page, "Case")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Monitoring")).to_have_count(0)
    go_to(page, "/monitoring")
    expect(page.get_by_text("may not open the Monitoring page", exact=False)).to_be_visible()
    expect(title(page, "Monitoring")).to_have_count(0)
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    refused = read_entries(data, action="access_refused", actor_id="dr.lee")
    assert any(e.detail().get("page") == "monitoring" for e in refused), [
        e.detail() for e in refused
    ]


HEART = "heart-disease"


@pytest.fixture(scope="module")
def live_breach(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server whose heart-disease plan judges drift from five predictions, its trail
    holding the nine demo patients' reports as shown to a clinician (PSI 0.48 > 0.2): the
    scheduled check of the server records the alert with nobody clicking."""
    import json
    import shutil

    from caselens.explain.cases import validate_inputs
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR
    from monitoring_fixtures import make_workflow
    from monitoring_fixtures import signed_in as engine_signed_in

    root = tmp_path_factory.mktemp("live_breach")
    data, models = root / "data", root / "models"
    data.mkdir()
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, models / HEART)
    (models / HEART / "monitoring.json").write_text(json.dumps({"min_predictions": 5}))
    bundle = load_bundle(models / HEART)
    (root / "accounts").mkdir()
    key = load_key(data / "audit.key", create=True, env={})
    with AuditStore.open(data / "audit.sqlite", key=key) as store:
        engine = make_workflow(root / "accounts", store, {HEART: bundle})
        doctor = engine_signed_in(engine, "dr.lee")
        for demo in bundle.demo_cases:
            case = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
            engine.show_report(doctor, HEART, case, patient_ref=demo.case_id)
    server = AppServer(
        data, log_file=root / "streamlit.log", env={"CASELENS_MODELS_DIR": str(models)}
    )
    try:
        server.start(timeout=90)
        yield {"url": server.url, "data": data}
    finally:
        server.stop()


def test_the_server_records_a_live_alert_unasked_and_admin_sees_it_everywhere(
    browser, live_breach, screenshots
):
    data = live_breach["data"]
    # The first session starts the schedule.
    page = open_signed_in(browser, live_breach["url"], "admin")
    expect(title(page, "Users")).to_be_visible()
    deadline = time.monotonic() + 180
    while not read_entries(data, action="alert_raised"):
        assert time.monotonic() < deadline, "the scheduled check recorded no alert in 180 s"
        time.sleep(1)
    raised = read_entries(data, action="alert_raised")
    assert {e.actor_id for e in raised} == {"system:monitor-scheduler"}
    assert {e.actor_role for e in raised} == {"system"}  # nobody pressed anything

    page.get_by_test_id("stSidebarNav").get_by_text("Model status", exact=True).click()
    expect(title(page, "Model status")).to_be_visible()
    expect(page.get_by_text(f"Active, with {len(raised)} monitoring alerts")).to_be_visible()
    expect(page.get_by_text("PSI 0.484", exact=False).first).to_be_visible()
    assert_png(shot(page, screenshots, "model_status_admin"))

    page.get_by_test_id("stSidebarNav").get_by_text("Monitoring", exact=True).click()
    expect(title(page, "Monitoring")).to_be_visible()
    expect(page.get_by_text("Alert recorded").first).to_be_visible()
    expect(page.get_by_text("Would alert")).to_have_count(0)
    expect(page.get_by_role("button", name="Suspend this model").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    expect(page.locator("[data-stale='true']")).to_have_count(0)
    assert_png(shot(page, screenshots, "monitoring_admin"))
    assert not read_entries(data, action="model_suspended")  # a check never suspends
