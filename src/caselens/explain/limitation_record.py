"""One limitation statement (:class:`Limitation`) and how severities are ordered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["info", "caution", "warning"]
SEVERITY_ORDER: dict[str, int] = {"warning": 0, "caution": 1, "info": 2}


class Limitation(BaseModel):
    """One statement of when not to trust this result, for clinicians and for patients."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    clinician_text: str
    patient_text: str | None
    trigger: str
    #: True for a property of the model, the same for every patient (stated once for the
    #: model; does not count against ``MAX_CASE_RATE``).
    standing: bool = False
