"""Both sample models' FHIR mappings: every demo case written to a synthetic record (R4B-built)
reads back into the same case, and what the record cannot say is asked for by hand."""

from __future__ import annotations

import json

import pytest

from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.synthetic import synthetic_record, writable
from caselens.model.bundle import load_feature_schema
from caselens.model.bundle_layout import DEMO_CASES_FILE, FEATURES_FILE
from caselens.settings import SAMPLE_MODELS_DIR
from fhir_records import CASE_DATE

SAMPLES = ("heart-disease", "readmission-30d")
#: readmission's count of earlier inpatient stays, beside the index stay the other inputs read.
EARLIER_STAYS = "number_inpatient"


def _sample(model_id: str):
    folder = SAMPLE_MODELS_DIR / model_id
    schema = load_feature_schema(folder / FEATURES_FILE)
    cases = json.loads((folder / DEMO_CASES_FILE).read_text(encoding="utf-8"))
    return schema, cases


@pytest.mark.parametrize("model_id", SAMPLES)
def test_every_demo_case_reads_back_from_its_record(model_id):
    schema, cases = _sample(model_id)
    for number, case in enumerate(cases):
        values = {k: v for k, v in case["inputs"].items() if writable(schema[k], v)}
        data = synthetic_record(schema, values, case_date=CASE_DATE, seed=number)
        intake = case_from_record(schema, read_fhir_bundle(data), case_date=CASE_DATE)
        for name, field in intake.fields.items():
            mapping = schema[name].fhir
            where = f"{case['case_id']} {name}"
            if mapping is None or mapping.entered_by_hand:
                assert field.status in ("entered_by_hand", "not_mapped"), where
                assert name in intake.needs_by_hand(), where
            elif name not in values:
                assert field.status == "no_value", where
            elif name == EARLIER_STAYS:
                # The stay being assessed is in the record and never counted among them.
                assert field.usable and field.value == values[name], (where, field)
                assert "the stay being assessed" in field.message, where
            elif mapping.combine == "count" and values[name] == 0 and mapping.when_absent is None:
                # None in the record and no stated value for that: asked, never defaulted.
                assert field.status == "no_value" and field.value is None, where
            else:
                assert field.usable and field.value == values[name], (where, field)


@pytest.mark.parametrize("model_id", SAMPLES)
def test_a_demo_case_names_its_sources_and_its_by_hand_reasons(model_id):
    schema, cases = _sample(model_id)
    values = {k: v for k, v in cases[0]["inputs"].items() if writable(schema[k], v)}
    data = synthetic_record(schema, values, case_date=CASE_DATE, seed=1)
    ids = {e["resource"]["id"] for e in json.loads(data)["entry"]}
    intake = case_from_record(schema, read_fhir_bundle(data), case_date=CASE_DATE)
    assert {s.resource_id for s in intake.sources} <= ids
    for name in intake.needs_by_hand():
        mapping = schema[name].fhir
        if mapping is not None and mapping.entered_by_hand:
            assert mapping.by_hand_reason[:30] in intake.fields[name].message


def test_heart_cholesterol_in_mmol_per_litre_converts_and_a_bp_panel_component_is_read():
    schema, cases = _sample("heart-disease")
    values = {k: v for k, v in cases[0]["inputs"].items() if writable(schema[k], v)}
    data = synthetic_record(
        schema, values, case_date=CASE_DATE, seed=4, variants={"cholesterol": "other_unit"}
    )
    intake = case_from_record(schema, read_fhir_bundle(data), case_date=CASE_DATE)
    cholesterol = intake.fields["cholesterol"]
    assert cholesterol.value == values["cholesterol"]
    assert cholesterol.original.endswith("mmol/L")
    # A blood-pressure panel (85354-9) holds the systolic value in a component.
    bundle = json.loads(data)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource.get("code", {}).get("coding", [{}])[0].get("code") == "8480-6":
            quantity = resource.pop("valueQuantity")
            resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
            resource["component"] = [
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                    "valueQuantity": quantity,
                },
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                    "valueQuantity": {**quantity, "value": 70},
                },
            ]
    panel = case_from_record(
        schema, read_fhir_bundle(json.dumps(bundle).encode()), case_date=CASE_DATE
    )
    assert panel.fields["resting_bp"].value == values["resting_bp"]
