"""Which of a patient's resources hold an input: type and codes, status, clinical date, window.

Defaults follow each type's usual elements (a mapping may name others with ``code_path`` and
``date_path``): the codes of Observation.code, Condition.code, Encounter.class (an R4 Coding)
and Encounter.type, MedicationRequest/MedicationStatement.medicationCodeableConcept and
Procedure.code; the date of Observation.effective[x] (else issued), Condition.onset[x] (else
recordedDate), Encounter.period.start, MedicationRequest.authoredOn,
MedicationStatement.effective[x] (else dateAsserted) and Procedure.performed[x].
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from caselens.fhir.record import PatientRecord, RecordEntry
from caselens.model.fhir_mapping import KNOWN_CODE_SYSTEMS, FhirMapping

#: The elements holding a type's codes when the mapping names no ``code_path``.
DEFAULT_CODE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Observation": ("code",),
    "Condition": ("code",),
    "Encounter": ("class", "type"),
    "MedicationRequest": ("medicationCodeableConcept",),
    "MedicationStatement": ("medicationCodeableConcept",),
    "Procedure": ("code",),
}
#: The elements holding a type's clinical date, first present wins (element, part of it).
DEFAULT_DATE_ELEMENTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "Observation": (
        ("effectiveDateTime", None),
        ("effectivePeriod", "start"),
        ("effectiveInstant", None),
        ("issued", None),
    ),
    "Condition": (("onsetDateTime", None), ("onsetPeriod", "start"), ("recordedDate", None)),
    "Encounter": (("period", "start"),),
    "MedicationRequest": (("authoredOn", None),),
    "MedicationStatement": (
        ("effectiveDateTime", None),
        ("effectivePeriod", "start"),
        ("dateAsserted", None),
    ),
    "Procedure": (("performedDateTime", None), ("performedPeriod", "start")),
}
#: Statuses that say a resource must not be used: recorded in error, cancelled, refuted, or
#: saying the thing did not happen (a medication not taken, a procedure not done).
EXCLUDED_STATUSES: dict[str, frozenset[str]] = {
    "Observation": frozenset({"entered-in-error", "cancelled"}),
    "Condition": frozenset({"entered-in-error", "refuted"}),
    "Encounter": frozenset({"entered-in-error", "cancelled"}),
    "MedicationRequest": frozenset({"entered-in-error", "cancelled"}),
    "MedicationStatement": frozenset({"entered-in-error", "not-taken"}),
    "Procedure": frozenset({"entered-in-error", "not-done"}),
}
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)


def day_of(text: Any) -> datetime.date | None:
    """The calendar day of a FHIR date or dateTime as written ('2024-05-01T10:00:00Z' → that
    day); a year or year-month gives its first day; anything else None."""
    if not isinstance(text, str):
        return None
    found = _DATE.match(text)
    if found is None:
        return None
    year, month, day = found.group(1), found.group(2) or "01", found.group(3) or "01"
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def codings(value: Any) -> Iterator[tuple[str | None, str]]:
    """(system, code) of every Coding in a Coding, a CodeableConcept or a list of them."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("coding"), list):
            yield from codings(item["coding"])
        elif isinstance(item.get("code"), str):
            system = item.get("system")
            yield (system if isinstance(system, str) else None), item["code"]


def status_of(entry: RecordEntry) -> str | None:
    """The status that decides whether a resource may be used (Condition: verification)."""
    if entry.resource_type == "Condition":
        found = [code for _, code in codings(entry.data.get("verificationStatus"))]
        return found[0] if found else None
    status = entry.data.get("status")
    return status if isinstance(status, str) else None


def is_excluded(entry: RecordEntry) -> str | None:
    """The status that excludes a resource ('entered-in-error' …), or None if it may be used."""
    status = status_of(entry)
    excluded = EXCLUDED_STATUSES.get(entry.resource_type, frozenset())
    return status if status in excluded else None


def default_date(entry: RecordEntry) -> str | None:
    """A resource's clinical date as written in the record, by its type's usual elements."""
    for element, part in DEFAULT_DATE_ELEMENTS.get(entry.resource_type, ()):
        value = entry.data.get(element)
        if part is not None:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return None


@lru_cache(maxsize=512)
def compiled_path(expression: str) -> Any:
    """A FHIRPath expression compiled once (R4 model); raises on an invalid expression."""
    import fhirpathpy
    from fhirpathpy.models import models

    return fhirpathpy.compile(expression, model=models["r4"])


def evaluate(expression: str, data: dict[str, Any]) -> list[Any]:
    """The FHIRPath expression's results on one resource's JSON object."""
    return list(compiled_path(expression)(data))


def code_text(mapping: FhirMapping) -> str:
    """The mapping's codes in words: 'LOINC 2093-3 (Cholesterol) or LOINC 14647-2'."""
    shown = [
        f"{KNOWN_CODE_SYSTEMS.get(c.system, c.system)} {c.code}"
        + (f" ({c.display})" if c.display else "")
        for c in mapping.codes[:3]
    ]
    more = f" or {len(mapping.codes) - 3} other codes" if len(mapping.codes) > 3 else ""
    return " or ".join(shown) + more


@dataclass
class Candidates:
    """The resources holding one input, split by where their date falls."""

    in_window: list[tuple[RecordEntry, str | None]] = field(default_factory=list)
    before_window: list[tuple[RecordEntry, str | None]] = field(default_factory=list)
    after_case_date: int = 0
    undated: int = 0
    excluded: dict[str, int] = field(default_factory=dict)


class PatientResources:
    """One patient's resources, indexed by type and by code once, so each input is found in
    time linear in the resources of its type."""

    def __init__(self, patient_record: PatientRecord) -> None:
        self.patient = patient_record.patient
        self.by_type: dict[str, list[RecordEntry]] = {}
        for entry in patient_record.resources:
            self.by_type.setdefault(entry.resource_type, []).append(entry)
        self._code_index: dict[tuple[str, str | None], dict[tuple[str | None, str], list]] = {}

    def _index(self, resource_type: str, code_path: str | None) -> dict:
        key = (resource_type, code_path)
        if key not in self._code_index:
            index: dict[tuple[str | None, str], list[RecordEntry]] = {}
            for entry in self.by_type.get(resource_type, []):
                if code_path is None:
                    found = [
                        coding
                        for element in DEFAULT_CODE_ELEMENTS.get(resource_type, ())
                        for coding in codings(entry.data.get(element))
                    ]
                else:
                    found = list(codings(evaluate(code_path, entry.data)))
                for coding in dict.fromkeys(found):
                    index.setdefault(coding, []).append(entry)
            self._code_index[key] = index
        return self._code_index[key]

    def matching(self, mapping: FhirMapping) -> list[RecordEntry]:
        """The resources of the mapping's type carrying any of its codes, in record order."""
        assert mapping.resource_type is not None
        index = self._index(mapping.resource_type, mapping.code_path)
        found: dict[int, RecordEntry] = {}
        for code in mapping.codes:
            for entry in index.get((code.system, code.code), []):
                found[entry.index] = entry
        return [found[i] for i in sorted(found)]

    def candidates(self, mapping: FhirMapping, case_date: datetime.date) -> Candidates:
        """The matching resources that may be used, split by the mapping's window."""
        result = Candidates()
        start = (
            case_date - datetime.timedelta(days=mapping.window_days)
            if mapping.window_days is not None
            else None
        )
        for entry in self.matching(mapping):
            status = is_excluded(entry)
            if status is not None:
                result.excluded[status] = result.excluded.get(status, 0) + 1
                continue
            written = (
                default_date(entry)
                if mapping.date_path is None
                else next((d for d in evaluate(mapping.date_path, entry.data) if d), None)
            )
            written = written if isinstance(written, str) else None
            day = day_of(written)
            if day is None:
                if start is not None:
                    result.undated += 1
                else:
                    result.in_window.append((entry, None))
            elif day > case_date:
                result.after_case_date += 1
            elif start is not None and day < start:
                result.before_window.append((entry, written))
            else:
                result.in_window.append((entry, written))
        return result
