"""The clinician's third way into a case, headless (AppTest): a FHIR record uploaded, every input's
source or problem in a table, only the problem inputs asked by hand, the report with its sources,
and the reviewer's replay showing them from the stored report."""

from __future__ import annotations

import json

import pytest

from app_helpers import audit_entries, shown, signed_in
from caselens.explain import CaseReport
from components.case_input import RECORD_CHOICE
from record_cases import CASE_DATE, heart_record

pytestmark = pytest.mark.usefixtures("app_env")

PREFIX = "case_heart-disease"
#: What the clinician types: the inputs the heart mapping leaves to them, and the two the
#: record spoils (a stale cholesterol, a blood pressure in kPa).
HAND = {
    "chest_pain": "Atypical angina",
    "resting_bp": 138.0,
    "cholesterol": 241.0,
    "resting_ecg": "Normal",
    "max_heart_rate": 150.0,
    "exercise_angina": "No",
    "st_depression": 1.2,
    "st_slope": "Flat",
    "major_vessels": 0.0,
    "thallium_test": "Normal",
}


def _pick_heart(at):
    box = at.selectbox(key="case_model")
    return box.select(next(o for o in box.options if "(heart-disease " in o)).run()


def _uploaded(at, data: bytes):
    at.radio(key=f"{PREFIX}_source").set_value(RECORD_CHOICE)
    at = at.run()
    at.date_input(key=f"{PREFIX}_record_date").set_value(CASE_DATE)
    at.file_uploader(key=f"{PREFIX}_record_upload").upload("record.json", data, "application/json")
    return at.run()


def _source_tables(at) -> list:
    """The "where the values came from" tables on the page (AppTest keeps no dataframe key)."""
    return [d.value for d in at.dataframe if "Where it came from" in d.value.columns]


def _hand_widgets(at) -> dict[str, object]:
    marker = f"{PREFIX}_record_by_hand_field_"
    widgets = [*at.selectbox, *at.number_input]
    return {w.key.removeprefix(marker): w for w in widgets if (w.key or "").startswith(marker)}


def test_a_record_with_problems_shows_its_sources_asks_only_for_them_and_reports_them(
    heart_bundle,
):
    record = heart_record(
        heart_bundle,
        variants={"cholesterol": "stale", "fasting_glucose_high": "other_unit"},
        bp_unit="kPa",
    )
    at = _pick_heart(signed_in("dr.lee"))
    at = _uploaded(at, record)
    assert not at.exception
    [table] = _source_tables(at)
    rows = table.set_index("Input")
    assert rows.loc["Age", "Value used"] == "51 years"
    assert rows.loc["Age", "From the record?"] == "From the record"
    assert "Patient/pat-0042/_history/1" in rows.loc["Age", "Where it came from"]
    glucose = rows.loc["Fasting blood sugar > 120 mg/dL"]
    assert glucose["Value used"].startswith("No") and "mmol/L" in glucose["Where it came from"]
    assert rows.loc["Serum cholesterol", "Value used"] == "to enter by hand"
    assert rows.loc["Serum cholesterol", "From the record?"] == "Only an old value in the record"
    assert "recorded as 298 mg/dL" in rows.loc["Serum cholesterol", "Where it came from"]
    assert "older than" in rows.loc["Serum cholesterol", "Note"]
    assert rows.loc["Resting blood pressure", "From the record?"] == "A unit that is not allowed"
    assert "Observation/bp-1/_history/2" in rows.loc["Resting blood pressure", "Where it came from"]
    assert rows.loc["Chest pain type", "From the record?"] == "Not held in the record"
    assert "3 of 13 inputs from the record, 10 to enter by hand" in shown(at.caption)
    assert not at.metric  # nothing explained before the clinician enters the rest

    widgets = _hand_widgets(at)
    assert set(widgets) == set(HAND)  # exactly the inputs with a problem, no others
    for name, value in HAND.items():
        widgets[name].set_value(value)
    at = at.button(key=f"FormSubmitter:{PREFIX}_record_by_hand_form-Explain").click().run()
    at.text_input(key="case_patient_ref_heart-disease_fhir_").input("MRN-77")
    at = at.run()
    assert not at.exception
    assert at.metric, shown(at.error)
    assert "Where the values came from" in [e.label for e in at.expander]

    # Signing in drew the first demo patient; the record's case is its own entry.
    [entry] = [e for e in audit_entries() if e.action == "viewed" and e.patient_ref == "MRN-77"]
    stored = CaseReport.from_json(entry.report_json)
    sources = stored.case.record_sources
    assert sources.patient_id == "pat-0042" and sources.case_date == CASE_DATE.isoformat()
    assert set(sources.entered_by_hand()) == set(HAND)
    assert stored.case.values()["cholesterol"] == 241.0
    assert json.loads(entry.report_json)["case"]["source"] == "fhir"

    at.session_state[f"{PREFIX}_report_sources"] = True
    at = at.run()
    intake_table, shown_table = _source_tables(at)  # folded intake table, then the report's
    assert intake_table.equals(table)
    after = shown_table.set_index("Input")
    assert after.loc["Serum cholesterol", "Value used"] == "241 mg/dL"
    assert after.loc["Serum cholesterol", "Where it came from"].startswith(
        "Entered by hand · not used from the record: Observation/"
    )
    assert after.loc["Chest pain type", "Where it came from"] == "Entered by hand"
    assert after.loc["Serum cholesterol", "From the record?"].endswith(": entered by hand")
    assert "Entered by hand: " in shown(at.caption)

    # The reviewer's replay draws the same table from the stored report.
    reviewer = signed_in("rev.kim")
    reviewer.query_params["entry"] = str(entry.seq)
    reviewer.session_state[f"audit_{entry.seq}_sources"] = True
    reviewer = reviewer.run()
    assert not reviewer.exception
    [replayed] = _source_tables(reviewer)
    assert replayed.equals(shown_table)


def test_a_file_that_is_not_a_fhir_bundle_is_refused_in_words_and_nothing_is_recorded():
    at = _uploaded(_pick_heart(signed_in("dr.lee")), b'{"resourceType": "Patient", "id": "x"}')
    assert not at.exception
    assert shown(at.error).startswith("Patient record:")
    assert not at.metric
    assert all(e.patient_ref != "pat-0042" for e in audit_entries())


def test_markup_in_a_record_is_shown_as_text_in_the_table_never_as_markup(heart_bundle):
    payload = "<script>window.__pwned=1</script>"  # a unit is free text in a record
    at = _uploaded(_pick_heart(signed_in("dr.lee")), heart_record(heart_bundle, bp_unit=payload))
    assert not at.exception
    [table] = _source_tables(at)
    row = table.set_index("Input").loc["Resting blood pressure"]
    assert row["Value used"] == "to enter by hand"
    assert payload in row["Where it came from"]  # the grid draws it as plain text
    markdown = [*at.markdown, *at.caption, *at.error, *at.warning, *at.info, *at.subheader]
    assert all("<script" not in element.value for element in markdown)


def test_with_a_fhir_server_configured_the_record_is_read_by_patient_id(
    heart_bundle, monkeypatch, tmp_path
):
    """CASELENS_FHIR_URL set: the clinician may read the record from the server by patient id
    (the token from its file); the same table follows, and a refusal is said plainly."""
    from fhir_server import FhirTestServer, running
    from record_cases import PATIENT_ID

    record = heart_record(heart_bundle, variants={"cholesterol": "stale"})
    token_file = tmp_path / "fhir.token"
    token_file.write_text("site-token\n", encoding="ascii")
    with running(FhirTestServer([record], token="site-token")) as base:
        monkeypatch.setenv("CASELENS_FHIR_URL", base)
        monkeypatch.setenv("CASELENS_FHIR_TOKEN_FILE", str(token_file))
        at = _pick_heart(signed_in("dr.lee"))
        at.radio(key=f"{PREFIX}_source").set_value(RECORD_CHOICE)
        at = at.run()
        assert at.radio(key=f"{PREFIX}_record_way").value == "The FHIR server"
        at.date_input(key=f"{PREFIX}_record_date").set_value(CASE_DATE)
        at.text_input(key=f"{PREFIX}_record_patient").set_value(PATIENT_ID)
        at = at.run()
        assert not _source_tables(at)  # nothing is read before the click
        at = at.button(key=f"{PREFIX}_record_fetch").click().run()
        assert not at.exception
        [table] = _source_tables(at)
        rows = table.set_index("Input")
        assert rows.loc["Age", "Value used"] == "51 years"
        assert (
            rows.loc["Serum cholesterol", "From the record?"] == "Only an old value in the record"
        )
        [read] = [e for e in audit_entries() if e.action == "record_read"]
        assert read.detail()["server"] == base
        at.text_input(key=f"{PREFIX}_record_patient").set_value("nobody-here")
        at = at.button(key=f"{PREFIX}_record_fetch").click().run()
        [refusal] = [e.value for e in at.error]
        assert "Patient record from" in refusal and "not found on the server" in refusal
        assert not _source_tables(at)  # the earlier patient's table is not left on screen
