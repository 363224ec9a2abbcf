"""Recording a display in the audit trail before it renders, with real reports and a real
SQLite trail; a write that fails raises ``AuditWriteError`` and leaves no entry."""

from __future__ import annotations

import hashlib
import math
import sqlite3

import pytest

from caselens.access import Viewer
from caselens.audit import AuditStore
from caselens.audit.errors import AuditEventError, AuditWriteError
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer, CaseReport, displayed_digest, displayed_text
from caselens.workflow.display import record_display, record_event

KEY = bytes.fromhex("5a" * 32)
OTHER_KEY = bytes.fromhex("a5" * 32)
CLINICIAN = Viewer(user_id="dr.lee", name="Dr. Ana Lee", role="clinician")
PATIENT = Viewer(
    user_id="p.h01",
    name="H-01",
    role="patient",
    patient_ref="H-01",
    patient_model_id="heart-disease",
)


def _report(bundle) -> CaseReport:
    demo = bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
    return CaseExplainer(bundle).explain(case)


@pytest.fixture(scope="module")
def reports(sample_bundles) -> dict[str, CaseReport]:
    return {model_id: _report(bundle) for model_id, bundle in sample_bundles.items()}


@pytest.fixture(scope="module")
def heart_report(reports) -> CaseReport:
    return reports["heart-disease"]


@pytest.fixture()
def trail_path(tmp_path):
    return tmp_path / "audit.sqlite"


@pytest.fixture()
def store(trail_path):
    with AuditStore.open(trail_path, key=KEY) as opened:
        yield opened


# -- what a display writes --------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["heart-disease", "readmission-30d"])
def test_a_display_writes_one_entry_with_the_report_its_digest_and_its_model(
    store, reports, model_id
):
    report = reports[model_id]
    returned = record_display(
        store,
        report,
        CLINICIAN,
        audience="clinician",
        session_id="s-123",
        detail={"page": "case"},
    )
    stored = store.entries()
    assert stored == [returned]
    entry = store.get(returned.seq)
    assert entry.seq == 1
    assert (entry.actor_id, entry.actor_name, entry.actor_role) == (
        "dr.lee",
        "Dr. Ana Lee",
        "clinician",
    )
    assert (entry.audience, entry.action, entry.session_id) == ("clinician", "viewed", "s-123")
    assert entry.detail() == {"page": "case"}
    assert entry.patient_ref == report.case.case_id is not None
    assert (entry.model_id, entry.model_version, entry.model_sha256) == (
        report.model.model_id,
        report.model.version,
        report.model.sha256,
    )
    assert entry.report_json == report.to_json()
    assert CaseReport.from_json(entry.report_json) == report
    text = displayed_text(report, "clinician")
    assert report.narrative.clinician_summary in text
    assert entry.rendered_digest == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert entry.rendered_digest == displayed_digest(report, "clinician")
    result = store.verify(expected_head=store.head())
    assert result.ok and result.count == 1


def test_the_patient_view_records_the_digest_of_the_patient_words(store, heart_report):
    clinician = record_display(store, heart_report, CLINICIAN, audience="clinician")
    patient = record_display(
        store, heart_report, PATIENT, audience="patient", action="patient_viewed"
    )
    assert patient.rendered_digest == displayed_digest(heart_report, "patient")
    assert patient.rendered_digest != clinician.rendered_digest
    assert patient.report_json == clinician.report_json  # the same report, other words
    assert (patient.actor_role, patient.audience, patient.action) == (
        "patient",
        "patient",
        "patient_viewed",
    )
    assert patient.patient_ref == "H-01"


def test_displays_chain_and_the_chain_is_checked_with_the_server_key(store, trail_path, reports):
    first = record_display(store, reports["heart-disease"], CLINICIAN, audience="clinician")
    second = record_display(store, reports["readmission-30d"], CLINICIAN, audience="clinician")
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.entry_hash
    assert store.head() == (2, second.entry_hash)
    assert store.verify(expected_head=(2, second.entry_hash)).ok
    # Verification is not vacuous: the same entries under another key are not ours.
    with AuditStore.open(trail_path, key=OTHER_KEY, create=False) as stranger:
        result = stranger.verify()
    assert not result.ok
    assert result.broken.seq == 1 and result.broken.reason == "bad_signature"


# -- events that are not displays -------------------------------------------------------------


def test_an_event_without_a_report_stores_no_report_digest_or_model(store):
    entry = record_event(
        store,
        CLINICIAN,
        action="feedback",
        audience="clinician",
        patient_ref="H-07",
        detail={"text": "Too many factors listed"},
    )
    stored = store.get(entry.seq)
    assert stored.report_json is None and stored.rendered_digest is None
    assert (stored.model_id, stored.model_version, stored.model_sha256) == (None, None, None)
    assert stored.patient_ref == "H-07"
    assert stored.detail() == {"text": "Too many factors listed"}
    assert store.verify().ok


def test_an_event_about_a_report_not_shown_names_it_but_stores_no_report(store, heart_report):
    entry = record_event(
        store, CLINICIAN, action="exported", audience="clinician", report=heart_report
    )
    stored = store.get(entry.seq)
    assert stored.report_json is None and stored.rendered_digest is None
    assert stored.patient_ref == heart_report.case.case_id
    assert (stored.model_id, stored.model_sha256) == (
        heart_report.model.model_id,
        heart_report.model.sha256,
    )


# -- fail-closed ------------------------------------------------------------------------------


def test_a_display_the_trail_cannot_take_raises_and_writes_nothing(trail_path, heart_report):
    # Another process holds the trail's write lock longer than the store will wait: the
    # real "database is locked" failure, with a short busy timeout to keep the test quick.
    with AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2) as store:
        record_event(store, CLINICIAN, action="sign_in", audience="clinician")
        head = store.head()
        other = sqlite3.connect(trail_path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(AuditWriteError, match="could not be recorded"):
                record_display(store, heart_report, CLINICIAN, audience="clinician")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.head() == head
        assert [e.action for e in store.entries()] == ["sign_in"]
        assert store.verify(expected_head=head).ok
        # Once the lock is released the next display takes the next place in the chain.
        after = record_display(store, heart_report, CLINICIAN, audience="clinician")
        assert after.seq == 2 and after.prev_hash == head[1]
        assert store.verify().ok


def test_a_trail_replaced_by_a_directory_refuses_the_display(trail_path, heart_report):
    store = AuditStore.open(trail_path, key=KEY)
    try:
        record_event(store, CLINICIAN, action="sign_in", audience="clinician")
        store.close()  # drop the pooled connections so the next write opens the path again
        for suffix in ("", "-wal", "-shm"):
            trail_path.with_name(trail_path.name + suffix).unlink(missing_ok=True)
        trail_path.mkdir()
        with pytest.raises(AuditWriteError):
            record_display(store, heart_report, CLINICIAN, audience="clinician")
    finally:
        store.close()
    assert trail_path.is_dir() and not any(trail_path.iterdir())


def test_an_event_the_trail_refuses_before_writing_is_an_audit_write_error(store, heart_report):
    with pytest.raises(AuditEventError, match="audience") as raised:
        record_display(store, heart_report, CLINICIAN, audience="nurse")  # type: ignore[arg-type]
    assert isinstance(raised.value, AuditWriteError)  # so the app fails closed on it too
    with pytest.raises(AuditWriteError, match="action"):
        record_display(store, heart_report, CLINICIAN, audience="clinician", action="Viewed!")
    assert store.entries() == []
    assert store.head()[0] == 0


def test_a_report_holding_nan_is_refused_as_an_audit_write_error(store, heart_report):
    data = heart_report.model_dump()
    data["confidence"]["probability"] = math.nan
    report = CaseReport.model_validate(data)  # pydantic floats accept NaN
    assert math.isnan(report.probability)
    try:
        with pytest.raises(AuditWriteError):
            record_display(store, report, CLINICIAN, audience="clinician")
    finally:
        assert store.entries() == []


# -- how every screen prints a range ------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from caselens.explain.interval_text import (  # noqa: E402
    MIN_PRINTED_WIDTH_POINTS,
    interval_decimals,
    printed_ends,
)
from caselens.workflow.display import format_interval, format_percent  # noqa: E402

_probability = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _ends(text: str) -> tuple[float, float]:
    low, high = text.removesuffix("%").split("% to ")
    return float(low), float(high)


@given(_probability, _probability)
def test_a_printed_range_never_shows_equal_ends_and_holds_the_computed_one(a, b):
    low, high = min(a, b), max(a, b)
    text = format_interval(low, high)
    if text.startswith("about "):
        # Only a range too narrow for one decimal is printed without ends.
        assert 100 * (high - low) < MIN_PRINTED_WIDTH_POINTS
        assert "uncertain by less than" in text
        return
    printed_low, printed_high = _ends(text)
    assert printed_low < printed_high
    # Rounded outwards: the printed range contains the computed one.
    assert printed_low <= 100 * low + 1e-9 and 100 * high - 1e-9 <= printed_high
    # ... and with enough decimals that it is not much wider (one unit at each end).
    unit = 10.0 ** -interval_decimals(low, high)
    assert printed_high - printed_low <= 100 * (high - low) + 2 * unit + 1e-9


@given(_probability, _probability)
def test_both_styles_print_the_same_ends(a, b):
    low, high = min(a, b), max(a, b)
    percent = format_interval(low, high)
    counted = format_interval(low, high, style="out_of_100")
    if percent.startswith("about "):
        assert counted.startswith("about ")
        return
    printed_low, printed_high = _ends(percent)
    decimals = interval_decimals(low, high)
    assert counted == (
        f"between {printed_low:.{decimals}f} and {printed_high:.{decimals}f} out of 100"
    )


@given(_probability, _probability)
def test_whole_people_round_outward_and_their_ends_always_differ(a, b):
    low, high = min(a, b), max(a, b)
    ends = printed_ends(low, high, style="whole_people")
    assert ends is not None
    first, last = ends
    assert first == int(first) and last == int(last)
    assert first <= 100 * low + 1e-9  # the lower end at or below the true lower end
    assert last >= 100 * high - 1e-9  # the upper end at or above the true upper end
    assert 0 <= first < last <= 100  # never "4 to 4"
    # Never wider than needed: one person at each end, or one in all for equal ends.
    assert last - first <= 100 * (high - low) + 2 + 1e-9


@pytest.mark.parametrize(
    ("low", "high", "ends"),
    [
        # The old patient helper printed these as one number ("Our best guess is 4 out of
        # 100") or, by float noise, one person too wide (100 × 0.07 is 7.000000000000001).
        (0.04, 0.04, (4, 5)),
        (0.07, 0.07, (7, 8)),
        (0.0, 0.0, (0, 1)),
        (1.0, 1.0, (99, 100)),
        (0.07, 0.29, (7, 29)),
        (0.0423, 0.0431, (4, 5)),
        (0.036283, 0.043412, (3, 5)),
    ],
)
def test_whole_people_ends_of_ranges_that_broke_the_old_patient_rule(low, high, ends):
    assert printed_ends(low, high, style="whole_people") == ends
    assert format_interval(low, high, style="whole_people") == (
        f"between {ends[0]} and {ends[1]} out of 100"
    )


def test_the_readmission_range_that_read_4_to_4_prints_distinct_ends():
    assert format_interval(0.036283, 0.043412) == "3.6% to 4.4%"
    assert format_interval(0.004423, 0.099814) == "0% to 10%"
    assert format_interval(0.0400, 0.0402) == "about 4.0%, uncertain by less than 0.1 points"
    assert format_percent(0.039) == "3.9%"


@pytest.mark.parametrize(
    ("low", "high"), [(0.2, 0.1), (-0.1, 0.5), (0.1, 1.5), (math.nan, 0.2), (0.1, math.inf)]
)
def test_a_range_that_is_not_one_is_refused_naming_the_end(low, high):
    with pytest.raises(ValueError, match=r"^(low|high): expected"):
        format_interval(low, high)
