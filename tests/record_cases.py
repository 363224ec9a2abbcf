"""Patient records for the record-intake tests: a copy of the sample heart-disease bundle whose
inputs carry a FHIR mapping, and FHIR R4 Bundles for it built with ``fhir.resources`` (R4B
models), with the problems a real record has (a stale value, a unit not allowed, two values
that disagree on one day)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from caselens.settings import SAMPLE_MODELS_DIR

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CASE_DATE = dt.date(2026, 11, 30)
PATIENT_ID = "pat-0042"

#: The heart model's inputs the record gives, by their mapping (the rest are entered by hand).
HEART_MAPPINGS: dict[str, dict] = {
    "age": {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"},
    "sex": {
        "resource_type": "Patient",
        "value_path": "gender",
        "value_map": {"female": "Female", "male": "Male"},
    },
    "resting_bp": {
        "resource_type": "Observation",
        "codes": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}],
        "value_path": "valueQuantity",
        "units": ["mm[Hg]"],
        "unit": "mm[Hg]",
        "window_days": 365,
    },
    "cholesterol": {
        "resource_type": "Observation",
        "codes": [{"system": LOINC, "code": "2093-3", "display": "Cholesterol"}],
        "value_path": "valueQuantity",
        "units": ["mg/dL", "mmol/L"],
        "unit": "mg/dL",
        "molar_mass_g_per_mol": 386.65,
        "window_days": 365,
    },
    "max_heart_rate": {
        "resource_type": "Observation",
        "codes": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}],
        "value_path": "valueQuantity",
        "units": ["/min"],
        "unit": "/min",
        "combine": "max",
        "window_days": 365,
    },
    "chest_pain": {"entered_by_hand": True, "by_hand_reason": "Asked at the visit."},
}
RECORD_INPUTS = tuple(HEART_MAPPINGS)[:5]


def mapped_heart_bundle(models_dir: Path) -> Path:
    """A copy of the sample heart-disease bundle in ``models_dir`` with :data:`HEART_MAPPINGS`
    in its features.json (the model file and card are untouched)."""
    folder = models_dir / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    path = folder / "features.json"
    data = json.loads(path.read_text())
    for feature in data["features"]:
        if feature["name"] in HEART_MAPPINGS:
            feature["fhir"] = HEART_MAPPINGS[feature["name"]]
    path.write_text(json.dumps(data, indent=2))
    return folder


def _observation(
    rid: str, code: str, value: float, unit: str, when: dt.date, patient: str
) -> Observation:
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "id": rid,
            "meta": {"versionId": "1"},
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": when.isoformat(),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
    )


def heart_record(
    *,
    patient_id: str = PATIENT_ID,
    stale_cholesterol: bool = False,
    bp_unit: str = "mm[Hg]",
    conflicting_bp: bool = False,
) -> bytes:
    """A collection Bundle for one patient: born 1963-04-12, male, systolic 142 mm Hg, total
    cholesterol 5.5 mmol/L (≈ 213 mg/dL), heart rates 150 and 162 /min.

    ``stale_cholesterol`` dates the cholesterol two years before :data:`CASE_DATE` (outside
    the 365-day window); ``bp_unit`` writes the blood pressure in another unit (e.g. 'kPa',
    not allowed); ``conflicting_bp`` adds a second systolic value on the same day that
    disagrees (a conflict)."""
    day = CASE_DATE - dt.timedelta(days=20)
    cholesterol_day = CASE_DATE - dt.timedelta(days=730) if stale_cholesterol else day
    resources = [
        Patient.model_validate(
            {
                "resourceType": "Patient",
                "id": patient_id,
                "meta": {"versionId": "3"},
                "gender": "male",
                "birthDate": "1963-04-12",
            }
        ),
        _observation("bp-1", "8480-6", 142, bp_unit, day, patient_id),
        _observation("chol-1", "2093-3", 5.5, "mmol/L", cholesterol_day, patient_id),
        _observation("hr-1", "8867-4", 150, "/min", day - dt.timedelta(days=40), patient_id),
        _observation("hr-2", "8867-4", 162, "/min", day, patient_id),
    ]
    if conflicting_bp:
        resources.append(_observation("bp-2", "8480-6", 128, bp_unit, day, patient_id))
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [BundleEntry.model_validate({"resource": r}) for r in resources],
        }
    )
    return bundle.model_dump_json(exclude_none=True).encode("utf-8")
