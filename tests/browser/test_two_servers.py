"""Two app servers, one PostgreSQL: what a person does on one server holds on the other.

Two ``streamlit run`` servers (different ports, different data folders) share one audit trail
(``CASELENS_AUDIT_URL``, one ``CASELENS_AUDIT_KEY``) and one app database
(``CASELENS_APP_DB_URL``) on the session's test PostgreSQL. A clinician's report opened on
server A is in the trail a reviewer reads and verifies on server B; a model an administrator
suspends on server B shows no prediction on server A. The demo accounts (CASELENS_DEMO=1) are
seeded once, in the shared database. Without PostgreSQL or Chromium the test is skipped locally
and fails in CI (CI=true), as the fixtures it uses do.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from caselens.audit import AuditStore
from caselens.bench.app import (
    AppServer,
    choose_option,
    probability_value,
    wait_for_report,
)

from .helpers import (
    FIRST_REPORT_MS,
    H03,
    demo_options,
    expected_probabilities,
    go_to,
    open_signed_in,
    title,
)

pytestmark = pytest.mark.browser

SUSPENSION_REASON = "Calibration drift found in the monthly check"


@pytest.fixture()
def shared(browser: Any, new_pg_database: Callable[[str], str]) -> dict[str, str]:
    """The shared settings: an audit database, an app database and one audit key."""
    return {
        "CASELENS_AUDIT_URL": new_pg_database("two_servers_audit"),
        "CASELENS_APP_DB_URL": new_pg_database("two_servers_app"),
        "CASELENS_AUDIT_KEY": secrets.token_hex(32),
    }


@pytest.fixture()
def servers(shared: dict[str, str], tmp_path: Path) -> Iterator[tuple[AppServer, AppServer]]:
    """Servers A and B, started together, each with its own data folder; stopped after."""
    started = []
    try:
        for name in ("a", "b"):
            data = tmp_path / name / "data"
            data.mkdir(parents=True)
            server = AppServer(data, env=shared, log_file=tmp_path / f"{name}.log")
            started.append(server)
            server.launch()
        for server in started:
            server.wait_healthy(timeout=90)
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def test_a_report_on_one_server_is_verified_and_a_suspension_holds_on_the_other(
    browser, shared, servers
):
    server_a, server_b = servers
    assert server_a.port != server_b.port and server_a.data_dir != server_b.data_dir
    key = bytes.fromhex(shared["CASELENS_AUDIT_KEY"])

    # Server A: the clinician opens demo patient H-03 of heart-disease; it is recorded.
    clinician = open_signed_in(browser, server_a.url, "dr.lee")
    expect(title(clinician, "Case")).to_be_visible()
    expect(clinician.get_by_role("combobox", name="Model", exact=True)).to_have_value(
        re.compile(r"\(heart-disease ")
    )
    wait_for_report(clinician, timeout_ms=FIRST_REPORT_MS)  # the default patient, H-01
    choose_option(clinician, "Demo patient", H03)
    shown = wait_for_report(clinician, expected_probabilities("heart-disease")[H03])
    with AuditStore.open(shared["CASELENS_AUDIT_URL"], key=key, create=False) as store:
        entry = store.entries(action="viewed", patient_ref="H-03", actor_id="dr.lee")[-1]

    # Server B: the reviewer finds that entry in the shared trail and verifies the whole trail.
    reviewer = open_signed_in(browser, server_b.url, "rev.kim")
    expect(title(reviewer, "Audit trail")).to_be_visible()
    find = reviewer.get_by_role("textbox", name="Find a display: entry number or report id")
    find.fill(str(entry.seq))
    find.press("Enter")
    expect(reviewer.get_by_text(f"Entry #{entry.seq}, hash {entry.entry_hash}")).to_be_visible()
    expect(probability_value(reviewer)).to_have_text(shown)
    reviewer.get_by_role("button", name="Verify the whole trail").click()
    expect(reviewer.get_by_text(re.compile(r"^Intact: \d+ entries verified"))).to_be_visible()
    expect(reviewer.get_by_text(re.compile(r"^Broken at entry"))).to_have_count(0)

    # Server B: the administrator suspends heart-disease.
    admin = open_signed_in(browser, server_b.url, "admin")
    expect(title(admin, "Users")).to_be_visible()
    go_to(admin, "/model_status")
    expect(title(admin, "Model status")).to_be_visible()
    # The heart-disease form: the one holding its reason field (widget keys are CSS classes).
    heart_form = admin.get_by_test_id("stForm").filter(
        has=admin.locator(".st-key-status_reason_heart-disease")
    )
    heart_form.get_by_role("textbox", name="Reason (recorded)").fill(SUSPENSION_REASON)
    heart_form.get_by_role("button", name="Suspend", exact=True).click()
    expect(heart_form.get_by_role("button", name="Reinstate", exact=True)).to_be_visible()

    # Server A: the clinician's next run shows the suspension and no prediction.
    choose_option(clinician, "Demo patient", demo_options("heart-disease")[0])
    expect(
        clinician.get_by_text("This model is suspended, so it shows no prediction.", exact=False)
    ).to_be_visible()
    expect(clinician.get_by_text(SUSPENSION_REASON, exact=False)).to_be_visible()
    expect(probability_value(clinician)).to_have_count(0)

    # The trail both servers wrote is one intact chain, holding the suspension by admin.
    with AuditStore.open(shared["CASELENS_AUDIT_URL"], key=key, create=False) as store:
        assert store.verify().ok
        suspended = store.entries(action="model_suspended", actor_id="admin")
        assert [e.detail()["model_id"] for e in suspended] == ["heart-disease"]
        assert store.entries(action="viewed", patient_ref="H-03", actor_id="dr.lee")
