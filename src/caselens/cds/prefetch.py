"""Prefetch: what the service asks the EHR to send with each call, and the record it makes.

The templates come from each input's FHIR mapping (``features.json``): the Patient, and per
resource type one search of this patient's resources holding any mapped code. CDS Hooks 2.0
prefetch tokens are the hook's context fields (``{{context.patientId}}``) and the user's ids;
it has no relative date, so the searches carry no date filter: the intake applies each
input's look-back window to the case date itself, and names a value found only before it as
stale rather than missing.

The EHR answers each key with a resource, a search Bundle, or null (it could not fetch it).
The resources are gathered into one collection Bundle and read by the FHIR intake
(:mod:`caselens.fhir`), with its size, depth and entry limits, as an uploaded record is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from caselens.model.bundle import ModelBundle
from caselens.model.fhir_mapping import FhirMapping
from caselens.workflow import InputsFromRecord

#: The prefetch key of the patient's own resource.
PATIENT_KEY = "patient"
#: The token CDS Hooks replaces with the patient in context.
PATIENT_TOKEN = "{{context.patientId}}"
#: Types whose search parameter ``code`` matches the element a mapping reads by default.
#: (Encounter's class/type and custom code paths have no single search parameter, so those
#: searches ask for all of the patient's resources of the type.)
CODE_SEARCHABLE = frozenset(
    {"Observation", "Condition", "MedicationRequest", "MedicationStatement", "Procedure"}
)
#: Longest code list put in one search URL (EHRs limit URL length; beyond it, no filter).
MAX_CODES_PER_SEARCH = 100
#: Most resources gathered from one call's prefetch (the intake bounds the Bundle again).
MAX_PREFETCH_RESOURCES = 20_000


class PrefetchMissing(Exception):
    """A prefetch key the service needs was not sent (or was null): the EHR must send it or
    give the service FHIR access (CDS Hooks answers 412)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


class PrefetchInvalid(Exception):
    """A prefetch value is not a FHIR resource or Bundle; the message says which key."""


def _mappings(bundle: ModelBundle) -> list[FhirMapping]:
    return [
        spec.fhir
        for spec in bundle.features
        if spec.fhir is not None and not spec.fhir.entered_by_hand
    ]


def prefetch_templates(bundle: ModelBundle) -> dict[str, str]:
    """The model's prefetch templates, one key per resource type its mapping reads."""
    templates = {PATIENT_KEY: f"Patient/{PATIENT_TOKEN}"}
    by_type: dict[str, list[FhirMapping]] = {}
    for mapping in _mappings(bundle):
        if mapping.resource_type not in (None, "Patient"):
            by_type.setdefault(mapping.resource_type, []).append(mapping)
    for resource_type in sorted(by_type):
        mappings = by_type[resource_type]
        query = f"{resource_type}?patient={PATIENT_TOKEN}"
        codes = sorted({f"{c.system}|{c.code}" for m in mappings for c in m.codes})
        filtered = (
            resource_type in CODE_SEARCHABLE
            and all(m.code_path is None for m in mappings)
            and len(codes) <= MAX_CODES_PER_SEARCH
        )
        if filtered:
            query += "&code=" + ",".join(codes)
        templates[resource_type.lower()] = query
    return templates


def _resources_of(key: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise PrefetchInvalid(f"prefetch '{key[:60]}': expected a FHIR resource or Bundle")
    if value["resourceType"] != "Bundle":
        return [value]
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise PrefetchInvalid(f"prefetch '{key[:60]}': the Bundle's 'entry' is not a list")
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            found.append(resource)
    return found


def record_from_prefetch(templates: Mapping[str, str], prefetch: Any) -> bytes:
    """One collection Bundle (JSON bytes) of every resource the prefetch holds.

    Raises
    ------
    PrefetchMissing
        Naming the template keys that were not sent or were null.
    PrefetchInvalid
        When a value is not a resource or a Bundle, or there are too many resources.
    """
    if prefetch is not None and not isinstance(prefetch, dict):
        raise PrefetchInvalid("prefetch: expected an object of prefetch keys")
    sent = prefetch or {}
    absent = [key for key in templates if sent.get(key) is None]
    if absent:
        raise PrefetchMissing(absent)
    resources: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for key in templates:
        for resource in _resources_of(key, sent[key]):
            ident = (str(resource.get("resourceType")), str(resource.get("id")))
            if resource.get("id") is not None and ident in seen:
                continue  # the same resource under two keys is one resource
            seen.add(ident)
            resources.append(resource)
            if len(resources) > MAX_PREFETCH_RESOURCES:
                raise PrefetchInvalid(
                    f"prefetch: more than {MAX_PREFETCH_RESOURCES:,} resources in one call"
                )
    bundle = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = [{"resource": r} for r in resources]  # type: ignore[assignment]
    return json.dumps(bundle).encode("utf-8")


def inputs_from_prefetch(
    bundle: ModelBundle,
    prefetch: Any,
    *,
    patient_id: str,
    case_date: dt.date,
) -> InputsFromRecord:
    """What the prefetched record gives for each of the model's inputs, read by the FHIR
    intake (every value with its source; every gap named per input, never defaulted).

    Raises
    ------
    PrefetchMissing, PrefetchInvalid
        See :func:`record_from_prefetch`; a record the intake refuses is PrefetchInvalid.
    """
    from caselens.errors import CaseLensError
    from caselens.fhir import case_from_record, read_fhir_bundle
    from caselens.workflow import intake_sources

    data = record_from_prefetch(prefetch_templates(bundle), prefetch)
    try:
        record = read_fhir_bundle(data)
        intake = case_from_record(
            bundle.features, record, case_date=case_date, patient_id=patient_id
        )
    except CaseLensError as exc:
        raise PrefetchInvalid(f"prefetch: the record cannot be read ({exc})") from exc
    return InputsFromRecord(intake_sources(intake, bundle.features))
