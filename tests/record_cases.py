"""Patient records for the record-intake tests (workflow, app, browser): FHIR R4 Bundles for the
sample heart-disease model, written by the synthetic record builder (``caselens.fhir.synthetic``,
R4B models) where its mapping reads them, with the problems a real record has on purpose (a
stale value, a unit not allowed, two values that disagree on one day).

The blood pressure is written here as a LOINC blood-pressure panel (85354-9) with its systolic
component, as EHRs send it, also built with ``fhir.resources``: the builder does not write the
sample mapping's union path for it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from fhir.resources.R4B.observation import Observation

from caselens.fhir.synthetic import Variant, synthetic_record
from caselens.model.bundle import ModelBundle

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CASE_DATE = dt.date(2026, 11, 30)
PATIENT_ID = "pat-0042"
#: The demo patient whose values the record holds.
DEMO = "H-03"
SEED = 20261130
#: Systolic pressure written in the panel (the demo's own value for H-03).
SYSTOLIC = 140.0


def record_inputs(bundle: ModelBundle) -> set[str]:
    """The inputs the model's mapping reads from a record (the rest are entered by hand)."""
    return {f.name for f in bundle.features if f.fhir is not None and not f.fhir.entered_by_hand}


def _bp_panel(rid: str, systolic: float, unit: str, when: str, patient_id: str) -> dict:
    panel = Observation.model_validate(
        {
            "resourceType": "Observation",
            "id": rid,
            "meta": {"versionId": "2"},
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": when,
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                    "valueQuantity": {
                        "value": systolic,
                        "unit": unit,
                        "system": UCUM,
                        "code": unit,
                    },
                },
                {
                    "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                    "valueQuantity": {
                        "value": 85,
                        "unit": "mm[Hg]",
                        "system": UCUM,
                        "code": "mm[Hg]",
                    },
                },
            ],
        }
    )
    return json.loads(panel.model_dump_json(exclude_none=True))


def heart_record(
    bundle: ModelBundle,
    *,
    patient_id: str = PATIENT_ID,
    variants: Mapping[str, Variant] | None = None,
    bp_unit: str = "mm[Hg]",
    conflicting_bp: bool = False,
    case_date: dt.date = CASE_DATE,
) -> bytes:
    """A searchset Bundle ($everything) holding demo :data:`DEMO`'s values for ``bundle``.

    ``variants`` are the builder's problems per input (e.g. ``{"cholesterol": "stale"}``);
    ``bp_unit`` writes the systolic pressure in another unit (``'kPa'``: not allowed);
    ``conflicting_bp`` adds a second panel on the same day with another systolic value;
    values are dated before ``case_date``."""
    values = bundle.demo_case(DEMO).inputs
    data = json.loads(
        synthetic_record(
            bundle.features,
            values,
            case_date=case_date,
            seed=SEED,
            variants={**(variants or {}), "resting_bp": "missing"},
            patient_id=patient_id,
        )
    )
    when = f"{(case_date - dt.timedelta(days=12)).isoformat()}T10:30:00Z"
    panels = [_bp_panel("bp-1", SYSTOLIC, bp_unit, when, patient_id)]
    if conflicting_bp:
        panels.append(_bp_panel("bp-2", SYSTOLIC - 14, bp_unit, when, patient_id))
    for panel in panels:
        data["entry"].append(
            {
                "fullUrl": f"https://fhir.example.org/r4/Observation/{panel['id']}",
                "resource": panel,
                "search": {"mode": "match"},
            }
        )
    return json.dumps(data).encode("utf-8")
