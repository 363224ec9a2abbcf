"""A patient's FHIR record → a case: every input with where it came from, or what is wrong.

:func:`case_from_record` reads each input of a feature schema by its FHIR mapping
(:mod:`caselens.model.fhir_mapping`) from a record read by :func:`read_fhir_bundle`. Each input
becomes a :class:`FieldFromRecord`: its value in the schema's unit with the resources it came
from, or a named problem (no value in the window, a stale value, a unit not allowed, two
conflicting values, an unknown code, a value the schema refuses). Nothing is ever defaulted
silently: only a value the mapping states for absence (``when_absent``) fills an absent input,
and its message says so. Whatever the record cannot give is asked for by hand
(:meth:`RecordIntake.needs_by_hand`).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from caselens.errors import CaseValidationError
from caselens.explain.cases.fields import validate_inputs
from caselens.explain.cases.record_sources import FROM_RECORD, RecordStatus
from caselens.fhir._quoting import clip
from caselens.fhir.matching import Candidates, PatientResources, code_text, codings
from caselens.fhir.record import (
    FhirRecord,
    RecordEntry,
    read_fhir_bundle,
    select_patient,
)
from caselens.fhir.values import Reading, mapped, readings_of
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping import FhirMapping

__all__ = [
    "FieldFromRecord",
    "FieldStatus",
    "RecordIntake",
    "SourceResource",
    "case_from_record",
    "read_fhir_bundle",
]

#: What the intake found for one input: one list, the one the recorded report keeps.
FieldStatus = RecordStatus
#: The statuses whose value the case may use; every other input is entered by hand.
USABLE_STATUSES: frozenset[str] = FROM_RECORD


@dataclass(frozen=True)
class SourceResource:
    """One resource a value came from, as the record names it."""

    resource_type: str
    resource_id: str
    version: str | None
    date: str | None  # ISO date/time as in the record

    @property
    def reference(self) -> str:
        """'Observation/chol-1' (with '/_history/<version>' when the record gives one)."""
        base = f"{self.resource_type}/{self.resource_id}"
        return f"{base}/_history/{self.version}" if self.version else base


@dataclass(frozen=True)
class FieldFromRecord:
    """One input as read from the record: its value and sources, or what is wrong."""

    feature: str
    value: float | str | None  # in the schema's unit / category; None when not filled
    status: FieldStatus
    message: str  # clinician words: where it came from, or exactly what is wrong
    sources: tuple[SourceResource, ...]
    original: str | None  # as the record had it, e.g. "5.2 mmol/L"; None if nothing

    @property
    def usable(self) -> bool:
        """Whether the case may use the value (filled from the record or stated absent)."""
        return self.status in USABLE_STATUSES


@dataclass(frozen=True)
class RecordIntake:
    """A case read from one patient's record, every schema input in schema order.

    Attributes
    ----------
    patient : SourceResource or None
        The Patient resource (None when the record holds none and a patient id chose).
    case_date : datetime.date
        The day the case is about; windows look back from it, ages are taken at it.
    fields : dict
        Feature name → :class:`FieldFromRecord`, for every input of the schema.
    notes : tuple of str
        What the record held that was not used: other patients' resources, malformed
        entries, types CaseLens does not read.
    other_patients : int
        Resources about another patient, ignored.
    """

    patient: SourceResource | None
    case_date: datetime.date
    fields: dict[str, FieldFromRecord]
    notes: tuple[str, ...] = ()
    other_patients: int = 0
    malformed_entries: int = 0
    unused: dict[str, int] = field(default_factory=dict)

    def values(self) -> dict[str, float | str]:
        """The inputs the case may use: filled from the record or stated absent."""
        return {
            name: item.value
            for name, item in self.fields.items()
            if item.usable and item.value is not None
        }

    def needs_by_hand(self) -> list[str]:
        """The inputs the clinician must enter, in schema order."""
        return [name for name, item in self.fields.items() if not item.usable]

    @property
    def sources(self) -> tuple[SourceResource, ...]:
        """Every resource a used value came from (each once, in schema order)."""
        seen: dict[str, SourceResource] = {}
        for item in self.fields.values():
            if item.usable:
                for source in item.sources:
                    seen.setdefault(source.reference, source)
        return tuple(seen.values())


def _source(entry: RecordEntry, date: str | None) -> SourceResource:
    return SourceResource(
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        version=entry.version,
        date=date,
    )


def _named(entry: RecordEntry, date: str | None) -> str:
    when = f" of {clip(date[:10])}" if date else ""
    return f"{entry.resource_type} '{clip(entry.resource_id)}'{when}"


def _named_source(source: SourceResource) -> str:
    when = f" of {clip(source.date[:10])}" if source.date else ""
    return f"{source.resource_type} '{clip(source.resource_id)}'{when}"


def _field(
    feature: FeatureSpec,
    status: FieldStatus,
    message: str,
    *,
    value: float | str | None = None,
    sources: tuple[SourceResource, ...] = (),
    original: str | None = None,
) -> FieldFromRecord:
    return FieldFromRecord(feature.name, value, status, message, sources, original)


def _window_text(mapping: FhirMapping, case_date: datetime.date) -> str:
    if mapping.window_days is None:
        return f"up to the case date {case_date.isoformat()}"
    return f"in the {mapping.window_days} days up to the case date {case_date.isoformat()}"


def _absent(feature: FeatureSpec, mapping: FhirMapping, what: str, extra: str) -> FieldFromRecord:
    """Nothing usable found: the mapping's stated value, else asked for by hand."""
    if mapping.when_absent is not None:
        stated = mapping.when_absent
        shown = f"{stated:g}" if isinstance(stated, float | int) else stated
        return _checked(
            feature,
            stated,
            "stated_absent",
            lambda _checked_value: (
                f"{feature.label}: {what}{extra}; the model's owners "
                f"state '{shown}' for that, so it is used."
            ),
            (),
            None,
        )
    return _field(feature, "no_value", f"{feature.label}: {what}{extra}; enter it by hand.")


def _checked(
    feature: FeatureSpec,
    value: float | str,
    status: FieldStatus,
    message: Callable[[float | str], str],
    sources: tuple[SourceResource, ...],
    original: str | None,
) -> FieldFromRecord:
    """The value through the schema's own checks (limits, whole numbers, categories); only a
    value that passes is described (``message`` of the checked value)."""
    one = FeatureSchema(features=(feature,))
    try:
        case = validate_inputs({feature.name: value}, one, source="fhir")
    except CaseValidationError as exc:
        why = " ".join(p.message for p in exc.problems)
        where = f" in {_named_source(sources[0])}" if sources else ""
        return _field(
            feature,
            "invalid_value",
            f"{why} The record has {original or value}{where}; enter it by hand.",
            sources=sources,
            original=original,
        )
    checked = case.values[feature.name]
    return _field(
        feature, status, message(checked), value=checked, sources=sources, original=original
    )


def _skipped_text(found: Candidates) -> str:
    parts = [f"{count} marked {status}" for status, count in sorted(found.excluded.items())]
    if found.after_case_date:
        parts.append(f"{found.after_case_date} dated after the case date")
    if found.undated:
        parts.append(f"{found.undated} without a date")
    if found.current_stay:
        parts.append("the stay being assessed")
    return f" (not used: {', '.join(parts)})" if parts else ""


def _unknown_drug(
    feature: FeatureSpec, mapping: FhirMapping, found: Candidates
) -> FieldFromRecord | None:
    """Nothing matched while some resources name a drug the record does not hold: absence is
    not known, so no stated value fills it (None when every drug is known)."""
    if not found.unknown_drug:
        return None
    return _field(
        feature,
        "no_value",
        f"{feature.label}: no {mapping.resource_type} coded {code_text(mapping)} found, but "
        f"{found.unknown_drug} {mapping.resource_type} resource(s) name a Medication the record "
        "does not hold, so whether one of them is this drug is unknown; enter it by hand.",
    )


def _problem(
    feature: FeatureSpec, reading: Reading, sources: tuple[SourceResource, ...]
) -> FieldFromRecord:
    assert reading.problem is not None
    where = f" in {_named_source(sources[0])}" if sources else ""
    return _field(
        feature,
        reading.problem,
        f"{feature.label}{where}: {reading.why}; enter it by hand.",
        sources=sources,
        original=reading.original or None,
    )


def _finish(
    feature: FeatureSpec,
    mapping: FhirMapping,
    reading: Reading,
    sources: tuple[SourceResource, ...],
) -> FieldFromRecord:
    """A combined reading through the value map or bands, then the schema's checks."""
    if reading.problem is not None:
        return _problem(feature, reading, sources)
    assert reading.value is not None
    value = mapped(reading.value, mapping)
    if isinstance(value, Reading):
        return _problem(feature, value, sources)
    if reading.converted and feature.kind == "integer" and isinstance(value, float):
        value = float(round(value))  # a converted measurement, to the schema's whole unit
    origin = ", ".join(_named_source(source) for source in sources[:3])
    more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""

    def message(checked: float | str) -> str:
        shown = feature.describe_value(checked)
        recorded = (
            f", recorded as {reading.original}"
            if reading.original and reading.original != shown
            else ""
        )
        return f"{feature.label}: {shown} from {origin}{more}{recorded}."

    return _checked(feature, value, "filled", message, sources, reading.original or None)


def _patient_field(
    feature: FeatureSpec,
    mapping: FhirMapping,
    patient: RecordEntry | None,
    case_date: datetime.date,
) -> FieldFromRecord:
    """An input read from the Patient resource (age, sex): no window, one resource."""
    if patient is None:
        return _absent(feature, mapping, "the record holds no Patient resource", "")
    sources = (_source(patient, None),)
    readings = _readings(feature, mapping, patient, case_date)
    if isinstance(readings, FieldFromRecord):
        return readings
    if not readings:
        return _absent(
            feature,
            mapping,
            f"the Patient resource has no value at '{clip(mapping.value_path)}'",
            "",
        )
    return _one_of(feature, mapping, [(readings, patient, None)], sources)


def _readings(
    feature: FeatureSpec, mapping: FhirMapping, entry: RecordEntry, case_date: datetime.date
) -> list[Reading] | FieldFromRecord:
    try:
        return readings_of(entry.data, mapping, case_date)
    # A FHIRPath that fails on this record's data is this input's problem, never a traceback.
    except Exception as exc:
        return _field(
            feature,
            "invalid_value",
            f"{feature.label}: the value at '{clip(mapping.value_path)}' in "
            f"{_named(entry, None)} cannot be read ({clip(str(exc))}); enter it by hand.",
            sources=(_source(entry, None),),
        )


def _one_of(
    feature: FeatureSpec,
    mapping: FhirMapping,
    group: list[tuple[list[Reading], RecordEntry, str | None]],
    sources: tuple[SourceResource, ...],
) -> FieldFromRecord:
    """One value from readings that should agree (one date's resources): else a conflict."""
    flat = [(reading, entry, date) for readings, entry, date in group for reading in readings]
    problems = [reading for reading, _, _ in flat if reading.problem is not None]
    if problems:
        return _problem(feature, problems[0], sources)
    distinct: dict[object, tuple[Reading, RecordEntry, str | None]] = {}
    for reading, entry, date in flat:
        distinct.setdefault(reading.value, (reading, entry, date))
    if len(distinct) > 1:
        shown = [
            f"{reading.original} in {_named(entry, date)}"
            for reading, entry, date in list(distinct.values())[:3]
        ]
        return _field(
            feature,
            "conflict",
            f"{feature.label}: the record holds different values for the same date: "
            f"{' and '.join(shown)}; check which is right and enter it by hand.",
            sources=sources,
            original=" / ".join(reading.original for reading, _, _ in distinct.values()),
        )
    return _finish(feature, mapping, flat[0][0], sources)


def _counted(
    feature: FeatureSpec, mapping: FhirMapping, found: Candidates, case_date: datetime.date
) -> FieldFromRecord:
    what = f"no {mapping.resource_type} coded {code_text(mapping)}"
    if not found.in_window:
        unknown = _unknown_drug(feature, mapping, found)
        if unknown is not None:
            return unknown
        return _absent(
            feature, mapping, f"{what} {_window_text(mapping, case_date)}", _skipped_text(found)
        )
    count = len(found.in_window)
    sources = tuple(_source(entry, date) for entry, date in found.in_window)
    value = float(count) if mapping.combine == "count" else 1.0
    reading = Reading(value, "")
    counted = _finish(feature, mapping, reading, sources)
    if found.current_stay and counted.status == "filled":
        # Say what was left out, so a count one below the clinician's own is explained.
        message = counted.message.removesuffix(".") + " (not counted: the stay being assessed)."
        counted = dataclasses.replace(counted, message=message)
    return counted


def _stale(
    feature: FeatureSpec, mapping: FhirMapping, found: Candidates, case_date: datetime.date
) -> FieldFromRecord | None:
    """The newest value found before the window, named as stale (None if there is none)."""
    older = sorted(found.before_window, key=lambda pair: pair[1] or "", reverse=True)
    for entry, date in older:
        readings = _readings(feature, mapping, entry, case_date)
        if isinstance(readings, FieldFromRecord) or not readings:
            continue
        original = readings[0].original or "a value"
        return _field(
            feature,
            "stale",
            f"{feature.label}: the newest value in the record, {original} in "
            f"{_named(entry, date)}, is older than the "
            f"{mapping.window_days}-day window before the case date {case_date.isoformat()}; "
            "it is not used: enter a current value by hand.",
            sources=(_source(entry, date),),
            original=original,
        )
    return None


def _valued(
    feature: FeatureSpec, mapping: FhirMapping, found: Candidates, case_date: datetime.date
) -> FieldFromRecord:
    """latest / earliest / max / min over the values found in the window."""
    valued: list[tuple[list[Reading], RecordEntry, str | None]] = []
    for entry, date in found.in_window:
        readings = _readings(feature, mapping, entry, case_date)
        if isinstance(readings, FieldFromRecord):
            return readings
        if readings:
            valued.append((readings, entry, date))
    if not valued and found.in_window:
        return _without_value(feature, mapping, found)
    if not valued:
        stale = _stale(feature, mapping, found, case_date)
        if stale is not None:
            return stale
        unknown = _unknown_drug(feature, mapping, found)
        if unknown is not None:
            return unknown
        what = f"no {mapping.resource_type} coded {code_text(mapping)} with a value"
        return _absent(
            feature, mapping, f"{what} {_window_text(mapping, case_date)}", _skipped_text(found)
        )
    if mapping.combine in ("latest", "earliest"):
        days = [date[:10] if date else "" for _, _, date in valued]
        dated = [day for day in days if day] or [""]
        target = max(dated) if mapping.combine == "latest" else min(dated)
        group = [item for item, day in zip(valued, days, strict=True) if day == target]
        sources = tuple(_source(entry, date) for _, entry, date in group)
        return _one_of(feature, mapping, group, sources)
    return _extreme(feature, mapping, valued)


def _without_value(
    feature: FeatureSpec, mapping: FhirMapping, found: Candidates
) -> FieldFromRecord:
    """Resources in the window hold the input but no value (a test done, its result absent):
    it was not 'not measured', so no stated value fills it."""
    entries = [entry for entry, _ in found.in_window]
    reasons = sorted(
        {str(code) for entry in entries for _, code in codings(entry.data.get("dataAbsentReason"))}
    )
    why = f" (data absent: {clip(', '.join(reasons))})" if reasons else ""
    return _field(
        feature,
        "no_value",
        f"{feature.label}: {len(entries)} {mapping.resource_type} resource(s) coded "
        f"{code_text(mapping)} in the window hold no value{why}; enter it by hand.",
        sources=tuple(_source(entry, date) for entry, date in found.in_window),
    )


def _extreme(
    feature: FeatureSpec,
    mapping: FhirMapping,
    valued: list[tuple[list[Reading], RecordEntry, str | None]],
) -> FieldFromRecord:
    flat = [(reading, entry, date) for readings, entry, date in valued for reading in readings]
    for reading, entry, date in flat:
        if reading.problem is not None:
            return _problem(feature, reading, (_source(entry, date),))
        if not isinstance(reading.value, float):
            return _field(
                feature,
                "invalid_value",
                f"{feature.label}: {mapping.combine} needs numbers, but {_named(entry, date)} "
                f"gives '{reading.original}'; enter it by hand.",
                sources=(_source(entry, date),),
                original=reading.original,
            )
    pick = max if mapping.combine == "max" else min
    reading, entry, date = pick(flat, key=lambda item: item[0].value)  # type: ignore[arg-type,return-value]
    return _finish(feature, mapping, reading, (_source(entry, date),))


def _read_feature(
    feature: FeatureSpec, resources: PatientResources, case_date: datetime.date
) -> FieldFromRecord:
    mapping = feature.fhir
    if mapping is None:
        return _field(
            feature,
            "not_mapped",
            f"{feature.label}: the model says nothing about where this is in a FHIR record; "
            "enter it by hand.",
        )
    if mapping.entered_by_hand:
        reason = f" ({mapping.by_hand_reason})" if mapping.by_hand_reason else ""
        return _field(
            feature,
            "entered_by_hand",
            f"{feature.label}: entered by hand{reason}; the record does not hold it.",
        )
    if mapping.resource_type == "Patient":
        return _patient_field(feature, mapping, resources.patient, case_date)
    try:
        found = resources.candidates(mapping, case_date)
    # A code or date path that fails on this record is this input's problem, not a traceback.
    except Exception as exc:
        return _field(
            feature,
            "invalid_value",
            f"{feature.label}: the record's {mapping.resource_type} resources could not be "
            f"searched ({clip(str(exc))}); enter it by hand.",
        )
    if mapping.combine in ("count", "any"):
        return _counted(feature, mapping, found, case_date)
    return _valued(feature, mapping, found, case_date)


def _notes(
    record: FhirRecord, other_patients: int, no_subject: int, duplicates: int
) -> tuple[str, ...]:
    notes = [problem.message for problem in record.problems[:20]]
    if len(record.problems) > 20:
        notes.append(f"… and {len(record.problems) - 20} more malformed entries left out.")
    if other_patients:
        notes.append(f"{other_patients} resource(s) about another patient were ignored.")
    if no_subject:
        notes.append(f"{no_subject} resource(s) naming no patient were ignored.")
    if duplicates:
        notes.append(f"{duplicates} entries repeating a resource (same type and id) read once.")
    if record.not_read:
        kinds = ", ".join(f"{kind} ({count})" for kind, count in sorted(record.not_read.items()))
        notes.append(f"Resources of types CaseLens does not read: {kinds}.")
    return tuple(notes)


def case_from_record(
    schema: FeatureSchema,
    record: FhirRecord,
    *,
    case_date: datetime.date,
    patient_id: str | None = None,
) -> RecordIntake:
    """Every input of ``schema`` read from a patient's record by its FHIR mapping.

    Parameters
    ----------
    schema : FeatureSchema
        The model's inputs; each input's ``fhir`` mapping says where it is in a record.
    record : FhirRecord
        From :func:`read_fhir_bundle`.
    case_date : datetime.date
        The day the case is about: windows look back from it, later resources are not used,
        ages are whole years at it.
    patient_id : str, optional
        Which Patient, when the record holds several.

    Returns
    -------
    RecordIntake
        One :class:`FieldFromRecord` per input, in schema order.

    Raises
    ------
    FhirRecordError
        The record holds no Patient, several without ``patient_id``, or not the one asked for.
    """
    chosen = select_patient(record, patient_id)
    resources = PatientResources(chosen)
    fields = {feature.name: _read_feature(feature, resources, case_date) for feature in schema}
    return RecordIntake(
        patient=_source(chosen.patient, None) if chosen.patient is not None else None,
        case_date=case_date,
        fields=fields,
        notes=_notes(record, chosen.other_patients, chosen.no_subject, chosen.duplicates),
        other_patients=chosen.other_patients,
        malformed_entries=len(record.problems),
        unused=dict(record.not_read),
    )
