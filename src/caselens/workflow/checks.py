"""Checks of what a person types at the door (patient references, own estimates) and of
what may be shown to whom (a hypothetical report, never to a patient)."""

from __future__ import annotations

import json
import math
import re

from caselens.explain.cases import Case
from caselens.workflow.errors import WorkflowError

#: Why a what-if or counterfactual report is never shown to a patient (nor previewed as
#: one): its values are not the patient's recorded values, so it is not their result.
HYPOTHETICAL_NOT_FOR_PATIENTS = (
    "a what-if or counterfactual result is not the patient's own result, so it is never "
    "shown to a patient"
)

#: A patient reference: letters, digits and ``. _ -``, 1–64 characters, starting with a
#: letter or digit (an MRN, an encounter number or a study id; never free text).
PATIENT_REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def check_patient_ref(text: str | None) -> str:
    """A patient reference as typed, checked; raises WorkflowError saying what is expected."""
    value = (text or "").strip()
    if not value:
        raise WorkflowError("Patient reference: required before a report is shown and recorded.")
    if not PATIENT_REF_PATTERN.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise WorkflowError(
            f"Patient reference: '{shown}' is not valid. Use 1–64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (e.g. MRN-004211)."
        )
    return value


def check_own_estimate(value: object) -> int:
    """A clinician's own estimate out of 100: a whole number from 0 to 100, or a
    :class:`WorkflowError` that says what was given and what is expected."""
    expected = "Your estimate: expected a whole number from 0 to 100"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkflowError(f"{expected}, got {str(value)[:20]!r}.")
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= 100:
        raise WorkflowError(f"{expected}, got {value:g}.")
    return int(value)


def case_key(model_id: str, case: Case) -> tuple[str, str, str]:
    """The key a session keeps a case's report and estimate under: model, patient, inputs
    (and, for a case read from a record, where its values came from: the same values from
    another record are another report)."""
    inputs = json.dumps(case.values, sort_keys=True, default=str)
    if case.record_sources is not None:
        inputs += "\n" + case.record_sources.model_dump_json()
    return (model_id, case.case_id or "", inputs)
