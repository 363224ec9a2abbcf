"""A case from the patient's record in real Chromium: the clinician uploads a synthetic FHIR
Bundle, sees every input's source or problem, fills only the inputs the record could not give,
and gets the report with "Where the values came from"; the reviewer's replay shows the same
section from the stored entry. Screenshots of both roles."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import expect

from caselens.bench.app import HEART, choose_option, model_label, wait_for_report
from caselens.explain.report import CaseReport
from caselens.model.bundle import load_bundle
from caselens.settings import SAMPLE_MODELS_DIR
from record_cases import heart_record

from .helpers import FIRST_REPORT_MS, SCREEN, assert_png, go_to, settled, shot

RECORD_CHOICE = "From the patient's record (FHIR)"
#: What the clinician types for the inputs the record could not give.
BY_HAND = {
    "chest_pain": "Atypical angina",
    "resting_bp": "138",
    "cholesterol": "241",
    "resting_ecg": "Normal",
    "max_heart_rate": "150",
    "exercise_angina": "No",
    "st_depression": "1.2",
    "st_slope": "Flat",
    "major_vessels": "0",
    "thallium_test": "Normal",
}


def test_a_record_upload_asks_only_for_the_missing_inputs_and_the_report_shows_its_sources(
    signed_in, audit_entries, screenshots: Path, tmp_path: Path
):
    bundle = load_bundle(SAMPLE_MODELS_DIR / HEART)
    # Dated before the server's today, the date the page starts with (shown, not changed).
    record = tmp_path / "record.json"
    record.write_bytes(
        heart_record(
            bundle,
            variants={"cholesterol": "stale", "fasting_glucose_high": "other_unit"},
            bp_unit="kPa",
            case_date=dt.datetime.now(dt.UTC).date(),
        )
    )
    page = signed_in("dr.lee", viewport=SCREEN)
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)  # the first demo patient, as before
    choose_option(page, "Model", model_label(HEART))
    page.get_by_text(RECORD_CHOICE, exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(record))

    expect(
        page.get_by_text(re.compile(r"3 of 13 inputs from the record, 10 to enter"))
    ).to_be_visible()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expect(page.get_by_test_id("stDateInput").locator("input")).to_have_value(today)
    form = page.get_by_test_id("stForm")
    expect(form).to_have_count(1)
    # Only the inputs to enter by hand are asked: one widget each, none of the record's.
    labels = {f.name: f.label for f in bundle.features}
    widgets = form.get_by_test_id("stSelectbox").or_(form.get_by_test_id("stNumberInput"))
    expect(widgets).to_have_count(len(BY_HAND))
    for name in ("age", "sex", "fasting_glucose_high"):
        expect(form.get_by_text(labels[name], exact=False)).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    settled(page)
    intake = shot(page, screenshots, "record_intake_clinician")

    for name, value in BY_HAND.items():
        feature = bundle.features[name]
        if feature.kind == "category":
            # Scrolled into view first: below the fold, the option list opens off screen.
            box = form.get_by_test_id("stSelectbox").filter(
                has=page.get_by_text(labels[name], exact=True)
            )
            box.scroll_into_view_if_needed()
            box.get_by_role("combobox").click()
            page.get_by_role("option", name=value, exact=True).click()
        else:
            box = form.get_by_test_id("stNumberInput").filter(has_text=labels[name])
            box.locator("input").fill(value)
    form.get_by_role("button", name="Explain").click()
    reference = page.get_by_role("textbox", name="Patient reference (MRN or encounter number)")
    reference.fill("MRN-4242")
    reference.press("Enter")
    wait_for_report(page, timeout_ms=FIRST_REPORT_MS)

    [entry] = audit_entries(action="viewed", patient_ref="MRN-4242")
    stored = CaseReport.from_json(entry.report_json)
    sources = stored.case.record_sources
    assert set(sources.entered_by_hand()) == set(BY_HAND)
    assert stored.case.values()["cholesterol"] == 241.0
    assert sources.field("cholesterol").status == "stale"
    assert sources.field("age").from_record and sources.case_date == today

    page.get_by_text("Where the values came from", exact=True).click()
    section = page.get_by_test_id("stExpander").filter(has_text="Where the values came from")
    expect(section.get_by_text(re.compile(r"Entered by hand: "))).to_be_visible()
    expect(section.get_by_test_id("stDataFrame")).to_be_visible()
    settled(page)
    report = shot(page, screenshots, "record_report_clinician")

    reviewer = signed_in("rev.kim", viewport=SCREEN)
    go_to(reviewer, f"/audit_trail?entry={entry.seq}")
    expect(reviewer.get_by_role("heading", name=re.compile(r"^As shown to "))).to_be_visible()
    reviewer.get_by_text("Where the values came from", exact=True).click()
    replayed = reviewer.get_by_test_id("stExpander").filter(has_text="Where the values came from")
    expect(replayed.get_by_text(re.compile(r"3 of 13 inputs from the record"))).to_be_visible()
    expect(replayed.get_by_test_id("stDataFrame")).to_be_visible()
    settled(reviewer)
    replay = shot(reviewer, screenshots, "record_replay_reviewer")
    for path in (intake, report, replay):
        assert_png(path)
