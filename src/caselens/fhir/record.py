"""A FHIR R4 Bundle read as untrusted data: bounded, then parsed entry by entry.

:func:`read_fhir_bundle` takes the bytes of an uploaded Bundle (a ``$everything`` searchset,
a collection or a transaction). Size, JSON nesting depth and entry count are checked before
anything is parsed, so a hostile file is refused in time linear in its size. Each entry of a
type CaseLens reads is then validated with the R4B models of ``fhir.resources`` (the default
models are R5, which would drop R4-only data silently); a malformed entry is named (its
index, type and what is wrong) and left out rather than refusing the whole record. Nothing in
a record is ever executed.

:func:`select_patient` picks the patient (the only one, or the one asked for) and keeps only
the resources whose subject is that patient, counting the others.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, get_args

from caselens.errors import FhirRecordError
from caselens.fhir._quoting import clip
from caselens.model.bounded import json_nesting_depth
from caselens.model.fhir_mapping import FhirResourceType

#: Largest Bundle accepted (bytes): a long $everything export is a few MB; 20 MB leaves room
#: while keeping parsing under a few seconds on a small server.
MAX_FHIR_BUNDLE_BYTES = 20 * 1024 * 1024
#: Deepest ``[``/``{`` nesting: R4 resources nest about 12 levels, a Bundle adds 3.
MAX_FHIR_JSON_DEPTH = 48
#: Entries in one Bundle: a decade of a chronically ill patient's $everything stays below it.
MAX_BUNDLE_ENTRIES = 20_000
#: Characters of one text (key or value) in an entry CaseLens reads; narrative and notes are
#: short, and a value this long can only be an attack or a mistake.
MAX_FHIR_TEXT_CHARS = 200_000
#: Digits of a JSON integer (Python refuses to read more than 4,300; no FHIR integer has 20).
MAX_JSON_INT_DIGITS = 40
#: Bundle types read: a $everything export (searchset), a collection, a transaction.
READ_BUNDLE_TYPES = ("searchset", "collection", "transaction")
#: The resource types CaseLens reads (the mapping's types); other entries are counted only.
READ_RESOURCE_TYPES: tuple[str, ...] = (
    *get_args(FhirResourceType),
    # Not about a patient itself: what a MedicationRequest/Statement's medicationReference names.
    "Medication",
)
#: Malformed entries named one by one in a record's notes; the rest are counted.
MAX_NAMED_PROBLEMS = 20


@dataclass(frozen=True)
class RecordEntry:
    """One resource of the record, validated with the R4B models, kept as its JSON object."""

    index: int
    resource_type: str
    resource_id: str
    version: str | None
    full_url: str | None
    data: dict[str, Any] = field(repr=False, compare=False)

    @property
    def subject_reference(self) -> str | None:
        """The reference to the patient the resource is about (``subject`` or ``patient``)."""
        for key in ("subject", "patient"):
            reference = self.data.get(key)
            if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
                return reference["reference"]
        return None


@dataclass(frozen=True)
class EntryProblem:
    """A Bundle entry left out: where it is and what is wrong with it."""

    index: int
    resource_type: str | None
    message: str


@dataclass(frozen=True)
class FhirRecord:
    """A patient's record as read from a Bundle: the resources CaseLens reads and what was not.

    Attributes
    ----------
    bundle_type : str
    entry_count : int
        Entries in the Bundle.
    resources : tuple of RecordEntry
        Every valid entry of a type CaseLens reads (Patient included), in Bundle order.
    problems : tuple of EntryProblem
        Entries left out because they are malformed, each named.
    not_read : dict
        Resource type → entries of types CaseLens does not read (Medication, Claim …).
    """

    bundle_type: str
    entry_count: int
    resources: tuple[RecordEntry, ...]
    problems: tuple[EntryProblem, ...] = ()
    not_read: dict[str, int] = field(default_factory=dict)

    @property
    def patients(self) -> tuple[RecordEntry, ...]:
        """The Patient resources in the record."""
        return tuple(r for r in self.resources if r.resource_type == "Patient")


@dataclass(frozen=True)
class PatientRecord:
    """One patient's part of a record: the Patient and the resources about them."""

    patient: RecordEntry | None
    patient_id: str
    resources: tuple[RecordEntry, ...]
    other_patients: int
    no_subject: int
    #: Medication resources by every key a reference may use ('Medication/m1', a fullUrl).
    medications: dict[str, RecordEntry] = field(default_factory=dict)
    #: Entries repeating a resource already read (same type and id), read once.
    duplicates: int = 0


def _refuse(message: str) -> FhirRecordError:
    return FhirRecordError(f"The FHIR record was refused: {message}")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"an integer of {len(text):,} digits")
    return int(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"a number beyond any float ({clip(text)})")
    return number


def _no_constant(name: str) -> float:
    raise ValueError(f"'{name}' is not a JSON number")


def _parse_json(data: bytes) -> Any:
    """The Bundle's JSON, bounded in size and depth before it is parsed."""
    if not isinstance(data, bytes | bytearray):
        raise _refuse(f"expected the file's bytes, got a {type(data).__name__}.")
    if len(data) > MAX_FHIR_BUNDLE_BYTES:
        raise _refuse(
            f"the file is {len(data):,} bytes; the limit is {MAX_FHIR_BUNDLE_BYTES:,} bytes "
            f"({MAX_FHIR_BUNDLE_BYTES // (1024 * 1024)} MB)."
        )
    if not bytes(data).strip():
        raise _refuse("the file is empty; expected a FHIR R4 Bundle in JSON.")
    depth = json_nesting_depth(bytes(data))
    if depth > MAX_FHIR_JSON_DEPTH:
        raise _refuse(
            f"the JSON is nested {depth:,} levels deep; the limit is {MAX_FHIR_JSON_DEPTH}."
        )
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(f"the file is not UTF-8 text (byte {exc.start} cannot be read).") from exc
    try:
        return json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise _refuse(
            f"the file is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    except (ValueError, RecursionError) as exc:  # a refused number; depth was checked first
        raise _refuse(f"the JSON holds {clip(str(exc))}.") from exc


def _bundle_entries(bundle: Any) -> tuple[str, list[Any]]:
    """The Bundle's type and entries, refusing anything that is not a Bundle of a read type."""
    if not isinstance(bundle, dict):
        raise _refuse(f"expected a JSON object (a FHIR Bundle), got a JSON {_json_kind(bundle)}.")
    kind = bundle.get("resourceType")
    if kind != "Bundle":
        shown = f"'{clip(kind)}'" if isinstance(kind, str) else "no resourceType"
        raise _refuse(
            f"expected a FHIR Bundle (resourceType 'Bundle'), got {shown}; export the "
            "patient's record as a Bundle ($everything, a collection or a transaction)."
        )
    bundle_type = bundle.get("type")
    if bundle_type not in READ_BUNDLE_TYPES:
        shown = f"'{clip(bundle_type)}'" if isinstance(bundle_type, str) else "no type"
        raise _refuse(
            f"the Bundle's type is {shown}; expected one of: {', '.join(READ_BUNDLE_TYPES)}."
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise _refuse(f"the Bundle's 'entry' is a JSON {_json_kind(entries)}; expected a list.")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise _refuse(
            f"the Bundle has {len(entries):,} entries; the limit is {MAX_BUNDLE_ENTRIES:,}."
        )
    return bundle_type, entries


def _json_kind(value: Any) -> str:
    names = {dict: "object", list: "list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "number")


def _long_text(value: Any) -> str | None:
    """Where the first text over ``MAX_FHIR_TEXT_CHARS`` sits in parsed JSON, walked flat."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_FHIR_TEXT_CHARS:
                return path or "(top level)"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if len(key) > MAX_FHIR_TEXT_CHARS:
                    return child_path[:80]
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def _validation_text(exc: Exception) -> str:
    """What is wrong with an entry, from the R4B model's refusal (first two errors)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"it cannot be read ({type(exc).__name__})"
    try:
        found = errors()
    except Exception:  # a malformed error object is still only a refusal
        return f"it cannot be read ({type(exc).__name__})"
    parts = []
    for error in found[:2]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{clip(where) or '(resource)'}: {clip(str(error.get('msg', '')))}")
    more = f" (and {len(found) - 2} more)" if len(found) > 2 else ""
    return "; ".join(parts) + more


def _read_entry(index: int, entry: Any) -> RecordEntry | EntryProblem | str | None:
    """One entry: a valid resource, a problem, the name of a type not read, or None (empty)."""
    if not isinstance(entry, dict):
        return EntryProblem(index, None, f"Entry {index}: expected a JSON object.")
    resource = entry.get("resource")
    if resource is None:
        return None  # a transaction's DELETE or a search's outcome-less entry: nothing to read
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return EntryProblem(index, None, f"Entry {index}: the resource has no resourceType.")
    kind = resource["resourceType"]
    if kind not in READ_RESOURCE_TYPES:
        return clip(kind)
    where = _long_text(entry)
    if where is not None:
        return EntryProblem(
            index,
            kind,
            f"Entry {index} ({kind}): the text at '{clip(where)}' is over "
            f"{MAX_FHIR_TEXT_CHARS:,} characters long.",
        )
    return _validated(index, kind, entry, resource)


def _validated(
    index: int, kind: str, entry: dict[str, Any], resource: dict[str, Any]
) -> RecordEntry | EntryProblem:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(kind).model_validate(resource)
    # Any failure of the model on untrusted data is this entry's problem, never a traceback.
    except Exception as exc:
        return EntryProblem(index, kind, f"Entry {index} ({kind}): {_validation_text(exc)}.")
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        return EntryProblem(index, kind, f"Entry {index} ({kind}): the resource has no id.")
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    full_url = entry.get("fullUrl")
    return RecordEntry(
        index=index,
        resource_type=kind,
        resource_id=resource_id,
        version=version if isinstance(version, str) else None,
        full_url=full_url if isinstance(full_url, str) else None,
        data=resource,
    )


def read_fhir_bundle(data: bytes) -> FhirRecord:
    """Read a FHIR R4 Bundle (JSON bytes) as untrusted data.

    Parameters
    ----------
    data : bytes
        The Bundle as uploaded: at most ``MAX_FHIR_BUNDLE_BYTES`` bytes, nested at most
        ``MAX_FHIR_JSON_DEPTH`` levels, with at most ``MAX_BUNDLE_ENTRIES`` entries.

    Returns
    -------
    FhirRecord
        Every valid resource of a type CaseLens reads; malformed entries are named in
        ``problems`` and left out; entries of other types are counted in ``not_read``.

    Raises
    ------
    FhirRecordError
        When the file is too large, too deep, not JSON, not a Bundle of a read type, or has
        too many entries: the message says which limit or what was expected.
    """
    bundle_type, entries = _bundle_entries(_parse_json(data))
    resources: list[RecordEntry] = []
    problems: list[EntryProblem] = []
    not_read: Counter[str] = Counter()
    for index, entry in enumerate(entries):
        outcome = _read_entry(index, entry)
        if isinstance(outcome, RecordEntry):
            resources.append(outcome)
        elif isinstance(outcome, EntryProblem):
            problems.append(outcome)
        elif isinstance(outcome, str):
            not_read[outcome] += 1
    return FhirRecord(
        bundle_type=bundle_type,
        entry_count=len(entries),
        resources=tuple(resources),
        problems=tuple(problems),
        not_read=dict(not_read),
    )


def reference_key(reference: str) -> str:
    """A reference without its server base and version: 'Patient/p1' or the 'urn:…' as is."""
    if reference.startswith("urn:"):
        return reference
    head = reference.split("/_history/", 1)[0]
    parts = head.rstrip("/").split("/")
    return "/".join(parts[-2:])


def select_patient(record: FhirRecord, patient_id: str | None = None) -> PatientRecord:
    """The patient a case is about and the resources whose subject is that patient.

    Parameters
    ----------
    record : FhirRecord
    patient_id : str, optional
        Which Patient to read when the record holds several (its resource id). Without a
        Patient resource in the record, the resources referring to ``Patient/<patient_id>``.

    Raises
    ------
    FhirRecordError
        No Patient and no ``patient_id``; several Patients and no ``patient_id``; or a
        ``patient_id`` the record does not hold while it holds other Patients.
    """
    patients = record.patients
    ids = ", ".join(f"'{clip(p.resource_id)}'" for p in patients[:10])
    if patient_id is None:
        if not patients:
            raise _refuse("the Bundle holds no Patient; expected exactly one.")
        if len(patients) > 1:
            raise _refuse(
                f"the Bundle holds {len(patients)} Patients ({ids}); choose one by its id."
            )
        chosen: RecordEntry | None = patients[0]
    else:
        matches = [p for p in patients if p.resource_id == patient_id]
        if patients and not matches:
            raise _refuse(f"the Bundle holds no Patient '{clip(patient_id)}'; it holds {ids}.")
        if len(matches) > 1:
            raise _refuse(f"the Bundle holds Patient '{clip(patient_id)}' more than once.")
        chosen = matches[0] if matches else None
    chosen_id = chosen.resource_id if chosen is not None else str(patient_id)
    keys = {f"Patient/{chosen_id}"}
    if chosen is not None and chosen.full_url:
        keys.add(reference_key(chosen.full_url))
    kept: dict[tuple[str, str], RecordEntry] = {}
    medications: dict[str, RecordEntry] = {}
    other = no_subject = duplicates = 0
    for resource in record.resources:
        if resource.resource_type == "Patient":
            continue
        if resource.resource_type == "Medication":
            medications[f"Medication/{resource.resource_id}"] = resource
            if resource.full_url:
                medications[reference_key(resource.full_url)] = resource
            continue
        reference = resource.subject_reference
        if reference is None:
            no_subject += 1
        elif reference_key(reference) in keys:
            key = (resource.resource_type, resource.resource_id)
            if key in kept:
                # The same resource twice (a search page repeated, an include): read once, the
                # newer version when both say which.
                duplicates += 1
                if _newer(resource, kept[key]):
                    kept[key] = resource
            else:
                kept[key] = resource
        else:
            other += 1
    ordered = tuple(sorted(kept.values(), key=lambda entry: entry.index))
    return PatientRecord(
        chosen, chosen_id, ordered, other, no_subject, medications, duplicates=duplicates
    )


def _newer(candidate: RecordEntry, kept: RecordEntry) -> bool:
    versions = (candidate.version or "", kept.version or "")
    if all(v.isdigit() for v in versions):
        return int(versions[0]) > int(versions[1])
    return False
