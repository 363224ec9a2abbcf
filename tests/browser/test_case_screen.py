"""The clinician's first screen in real Chromium at 1440×900: the estimate step first (the
default for clinicians), the result card above the fold, cues that follow the sign, a narrow
range printed with distinct ends, feedback with no preset answer.

This folder's shared server runs with estimate-first off (it times the report itself); these
tests start their own server with the site default, on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from caselens.bench.app import (
    AppServer,
    choose_option,
    open_options,
    probability_value,
    wait_for_report,
)
from caselens.workflow.display import format_interval

from .helpers import (
    FIRST_REPORT_MS,
    SCREEN,
    demo_options,
    expected_probabilities,
    model_label,
    open_signed_in,
    read_entries,
)

HEART, READMISSION = "heart-disease", "readmission-30d"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[AppServer]:
    """A demo-mode server with the site's estimate-first default (on for clinicians)."""
    data = tmp_path_factory.mktemp("case-screen") / "data"
    data.mkdir(parents=True)
    app = AppServer(
        data, log_file=data.parent / "streamlit.log", env={"CASELENS_ESTIMATE_FIRST": "on"}
    )
    try:
        app.start(timeout=90)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def clinician(browser: Any, server: AppServer) -> Iterator[Page]:
    """dr.lee at 1440×900, signed in once: the Case page, waiting for an estimate."""
    page = open_signed_in(
        browser, server.url, "dr.lee", viewport=SCREEN, timeout_ms=FIRST_REPORT_MS
    )
    yield page
    page.context.close()


def _skip_estimate(page: Page) -> None:
    page.get_by_role("button", name="Skip: show the result without my estimate").click()


def _card(page: Page) -> Any:
    return page.locator(".st-key-result_card")


def _show(page: Page, model_id: str, option: str, *, first: bool = False) -> None:
    """Choose the model and patient, skip the estimate (again, if a rerun for the previous
    choice was still on screen), and wait for that patient's report."""
    budget_s = (FIRST_REPORT_MS if first else 90_000) / 1000
    deadline = time.monotonic() + budget_s
    choose_option(page, "Model", model_label(model_id))
    # Until the rerun for a new model is drawn (the first report of a model in a server pays
    # the explainer's warm-up), the patient list that opens is the previous model's: open it
    # again until it offers this patient.
    while True:
        open_options(page, "Demo patient")
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
            page.keyboard.press("Escape")
    expected = expected_probabilities(model_id)[option]
    value = probability_value(page)
    skip = page.get_by_role("button", name="Skip: show the result without my estimate")
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        try:
            expect(value).to_have_text(expected, timeout=5_000)
            break
        except AssertionError:
            if skip.count():
                skip.first.click()
    wait_for_report(page, expected)


def test_estimate_first_hides_the_report_until_a_skip_that_is_recorded(clinician, server):
    page = clinician
    form = page.get_by_test_id("stForm").filter(has_text="Your estimate first")
    expect(form).to_be_visible(timeout=FIRST_REPORT_MS)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    estimate = form.get_by_role("spinbutton")
    expect(estimate).to_have_value("")  # no preset number
    assert not read_entries(server.data_dir, action="viewed")
    _skip_estimate(page)
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)
    [skipped] = read_entries(server.data_dir, action="own_estimate_skipped")
    [viewed] = read_entries(server.data_dir, action="viewed")
    assert skipped.seq < viewed.seq and skipped.patient_ref == viewed.patient_ref == "H-01"


def _extreme(model_id: str, which: str) -> str:
    """The demo patient with the lowest or the highest probability of a sample model."""
    expected = expected_probabilities(model_id)
    ranked = sorted(expected, key=lambda option: float(expected[option].removesuffix("%")))
    return ranked[0] if which == "lowest" else ranked[-1]


@pytest.mark.parametrize("which", ["lowest", "highest"])
@pytest.mark.parametrize("model_id", [HEART, READMISSION])
def test_the_result_card_is_above_the_fold_and_its_cues_follow_the_side(
    clinician, screenshots: Path, sample_bundles, model_id, which
):
    page = clinician
    option = _extreme(model_id, which)
    threshold = sample_bundles[model_id].card.decision_threshold
    probability = float(expected_probabilities(model_id)[option].removesuffix("%")) / 100
    # The sample models' lowest and highest demo patients lie on either side.
    side, arrow, colour = (
        ("Above", "arrow_upward", "red")
        if probability > threshold
        else ("Below", "arrow_downward", "blue")
    )
    assert side == ("Below" if which == "lowest" else "Above")
    _show(page, model_id, option, first=model_id == READMISSION)
    card = _card(page)
    expect(card).to_be_visible()
    name = f"case-{model_id}-{option.split(' ')[0]}-{side.lower()}-1440x900.png"
    page.screenshot(path=str(screenshots / name))
    box = card.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= SCREEN["height"], box
    assert box["x"] >= 0 and box["x"] + box["width"] <= SCREEN["width"], box
    badge = card.get_by_text(re.compile(rf"{side} the \d+% threshold by [\d.]+ points$"))
    expect(badge.first).to_be_visible()
    # The badge's icon and colour come from the same side as its words.
    holder = card.locator("span", has=page.get_by_text(arrow, exact=True)).first
    expect(holder).to_contain_text(side)
    style = holder.evaluate("e => getComputedStyle(e).color")
    red, _, blue = (int(x) for x in re.findall(r"\d+", style)[:3])
    assert (red > blue) if colour == "red" else (blue > red), style
    # Three factors with this patient's values, and the way to Model facts, on the card.
    expect(card.get_by_text(re.compile(r"^[▲▼] .+ = .+: [+−][\d.]+ points$"))).to_have_count(3)
    facts = card.get_by_role("button", name=re.compile("Model facts for this model"))
    expect(facts).to_be_visible()
    # The owners' next steps for this side, beside the badge, inside the card (above the fold).
    steps = sample_bundles[model_id].card.next_steps
    count = len(steps.for_probability(probability, threshold)[0]) + sum(
        len(b.steps) for b in steps.bands if b.covers(probability)
    )
    expect(card.get_by_role("button", name=f"Model owners' next steps ({count})")).to_be_visible()


def test_a_narrow_range_is_printed_with_ends_that_differ(clinician, server):
    page = clinician
    option = demo_options(READMISSION)[0]
    _show(page, READMISSION, option)
    patient_ref = option.split(" — ")[0]
    viewed = read_entries(
        server.data_dir, action="viewed", model_id=READMISSION, patient_ref=patient_ref
    )[-1]
    from caselens.explain.report import CaseReport

    interval = CaseReport.from_json(viewed.report_json).confidence.interval
    value = _card(page).get_by_test_id("stMetric").nth(1).get_by_test_id("stMetricValue")
    printed = format_interval(interval.low, interval.high)
    expect(value).to_have_text(printed)
    ends = re.fullmatch(r"([\d.]+)% to ([\d.]+)%", printed)
    assert (ends and ends[1] != ends[2]) or printed.startswith("about ")


def test_feedback_has_no_preset_answer(clinician):
    page = clinician
    form = page.get_by_test_id("stForm").filter(has_text="This report is")
    expect(form.get_by_role("radio")).to_have_count(3)
    for radio in form.get_by_role("radio").all():
        expect(radio).not_to_be_checked()
