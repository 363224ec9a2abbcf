"""Synthetic FHIR R4 records for tests and demonstrations (never a real patient).

:func:`synthetic_record` writes a Bundle that holds a case's values where each input's FHIR
mapping will look for them, built with the R4B models of ``fhir.resources`` (so every
resource is valid R4), so that case → record → case can be checked for any schema with a
mapping. Inputs read from the same kind of resource (the inpatient stay's length, priority and
admit source) share one resource, as in a real record. Variants per input make the record's
usual problems on purpose: a value missing, too old, two conflicting values, a unit that is not
allowed, a value in another allowed unit (cholesterol in mmol/L), a code the mapping does not
know, a resource marked entered-in-error, a value the schema refuses; ``other_patient`` adds
another patient's resources. The same seed gives the same Bundle, byte for byte.

Written value paths: a plain element (``valueQuantity``, ``birthDate``, ``gender``, ``period``),
an Observation component picked by its code, a coding picked by its system
(``priority.coding.where(system='…').code``), and the first writable alternative of a union
(``a | b``). A value the mapping states for absence (``when_absent``) is written as nothing. A
count below the resources other inputs already need (the index stay is an inpatient
encounter) reads back as that many, unless the mapping leaves out the stay being assessed
(``excludes_current_stay``): then that many earlier stays are written besides it. Anything
else is refused with a ValueError naming the input.
"""

from __future__ import annotations

import copy
import datetime
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from caselens.fhir.matching import (
    DEFAULT_CODE_ELEMENTS,
    codings,
    covers_case_date,
    default_date,
    evaluate,
)
from caselens.fhir.record import RecordEntry
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping import FhirMapping
from caselens.model.ucum_units import convert_quantity

Variant = Literal[
    "missing",
    "stale",
    "conflict",
    "wrong_unit",
    "other_unit",
    "unknown_code",
    "entered_in_error",
    "invalid_value",
]
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: A UCUM unit no mapping allows for a clinical value ('arbitrary unit').
NOT_ALLOWED_UNIT = "[arb'U]"
#: A code no mapping knows, written by the unknown-code variant.
UNKNOWN_CODE = "not-a-known-code"
#: FHIR's administrative genders: an unknown-code variant writes one the mapping lacks.
GENDERS = ("male", "female", "other", "unknown")
#: The most days before the case date an in-window value is dated (values are recent).
RECENT_DAYS = 60
#: Days further back than the window that a stale value is dated.
STALE_EXTRA_DAYS = (30, 400)
#: How far back counted resources of a mapping without a window are dated.
UNWINDOWED_DAYS = 730
#: Elements a code_path may name that hold a list of CodeableConcepts.
LIST_ELEMENTS = frozenset({"category", "type", "reasonCode", "bodySite"})
_ELEMENT = re.compile(r"[a-z][A-Za-z]*")
_COMPONENT = re.compile(
    r"component\.where\(code\.coding(?:\.code\s*=\s*'(?P<a>[^']+)'|\.where\(system\s*=\s*"
    r"'(?P<system>[^']+)'\s+and\s+code\s*=\s*'(?P<b>[^']+)'\)\.exists\(\))\)\.(?P<element>value\w+)"
)
_CODED = re.compile(
    r"(?P<path>[a-z]\w*(?:\.[a-z]\w*)*)\.coding\.where\(system\s*=\s*'(?P<system>[^']+)'\)\.code"
)


def _model(kind: str, data: dict[str, Any]) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(kind).model_validate({"resourceType": kind, **data})


def _record_value(feature: FeatureSpec, mapping: FhirMapping, value: float | str) -> Any:
    """The value as the record holds it: before the mapping's value map or bands."""
    if mapping.value_map is not None:
        for key, mapped in mapping.value_map.items():
            if mapped == value or (isinstance(value, str) and str(mapped).lower() == value.lower()):
                return key
        raise ValueError(f"{feature.name}: no code in the value map gives {value!r}")
    if mapping.bands is not None:
        bands = mapping.bands
        for position, band in enumerate(bands):
            if band.value == value:
                if band.lower is None:
                    following = bands[position + 1].lower if position + 1 < len(bands) else 0
                    return float(following or 0) - 1.0
                return float(band.lower) + (0.0 if band.lower_inclusive else 0.5)
        raise ValueError(f"{feature.name}: no band gives {value!r}")
    return value


def writable(feature: FeatureSpec, value: float | str | None) -> bool:
    """Whether :func:`synthetic_record` can write ``value`` for ``feature`` (its mapping has a
    code or band for it, or states it for absence)."""
    mapping = feature.fhir
    if mapping is None or mapping.entered_by_hand or value is None:
        return False
    if mapping.when_absent is not None and mapping.when_absent == value:
        return True
    try:
        _record_value(feature, mapping, value)
    except ValueError:
        return False
    return True


def _check_variant(feature: FeatureSpec, variant: Variant, value: float | str | None) -> None:
    """Refuse a variant the input's mapping cannot show (never silently write a clean value)."""
    mapping = feature.fhir
    if mapping is None or mapping.entered_by_hand:
        raise ValueError(f"{feature.name}: not read from a record, so no variant applies")
    coded = mapping.value_map is not None or (isinstance(value, str) and mapping.bands is None)
    numeric = not coded and mapping.derive is None
    if mapping.resource_type == "Patient":
        applies = {"missing"}
        applies |= {"unknown_code"} if mapping.value_map is not None else set()
        applies |= {"invalid_value"} if mapping.derive == "age_years" else set()
    elif mapping.combine in ("count", "any"):
        applies = {"missing", "entered_in_error"}
        applies |= {"stale"} if mapping.window_days is not None else set()
    else:
        applies = {"missing", "entered_in_error", "conflict"}
        applies |= {"stale"} if mapping.window_days is not None else set()
        applies |= {"unknown_code"} if coded else set()
        applies |= {"wrong_unit"} if numeric else set()
        applies |= {"invalid_value"} if numeric and mapping.bands is None else set()
        applies |= {"other_unit"} if numeric and len(mapping.units) > 1 else set()
    if variant not in applies:
        raise ValueError(
            f"{feature.name}: the variant '{variant}' does not apply to this input's mapping "
            f"(it can show: {', '.join(sorted(applies))})"
        )


def _concept(mapping: FhirMapping) -> dict[str, Any]:
    code = mapping.codes[0]
    coding = {"system": code.system, "code": code.code}
    if code.display:
        coding["display"] = code.display
    return {"coding": [coding], **({"text": code.display} if code.display else {})}


def _shell(mapping: FhirMapping, when: str, in_error: bool) -> tuple[str, dict[str, Any]]:
    """A resource of the mapping's type carrying its first code and a clinical date."""
    kind = mapping.resource_type
    assert kind is not None
    status = "entered-in-error" if in_error else None
    if kind == "Observation":
        data = {"status": status or "final", "code": _concept(mapping), "effectiveDateTime": when}
    elif kind == "Condition":
        data = {
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": status or "confirmed"}]},
            "code": _concept(mapping),
            "onsetDateTime": when,
            "recordedDate": when,
        }
    elif kind == "Encounter":
        code = mapping.codes[0]
        data = {"status": status or "finished", "period": {"start": when}}
        if code.system == ACT_CODE:
            data["class"] = {"system": code.system, "code": code.code}
        else:
            data["class"] = {"system": ACT_CODE, "code": "AMB"}
            data["type"] = [_concept(mapping)]
    elif kind == "MedicationRequest":
        data = {
            "status": status or "active",
            "intent": "order",
            "medicationCodeableConcept": _concept(mapping),
            "authoredOn": when,
        }
    elif kind == "MedicationStatement":
        data = {
            "status": status or "active",
            "medicationCodeableConcept": _concept(mapping),
            "effectiveDateTime": when,
        }
    else:
        data = {
            "status": status or "completed",
            "code": _concept(mapping),
            "performedDateTime": when,
        }
    if mapping.code_path is not None:
        _place_codes(data, mapping)
    return kind, data


def _place_codes(data: dict[str, Any], mapping: FhirMapping) -> None:
    """The mapping's code where its code_path looks (e.g. Condition.category)."""
    path = mapping.code_path or ""
    element = path.removesuffix(".coding")
    if not _ELEMENT.fullmatch(element):
        raise ValueError(f"the synthetic builder cannot write the code path '{path}'")
    data[element] = [_concept(mapping)] if element in LIST_ELEMENTS else _concept(mapping)


def _quantity(number: float, unit: str | None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": round(number, 6)}
    if unit:
        quantity.update({"unit": unit, "system": UCUM, "code": unit})
    return quantity


def _number_element(
    feature: FeatureSpec, mapping: FhirMapping, number: float, element: str, variant: Variant | None
) -> Any:
    if variant == "invalid_value":
        number = (feature.hard_max if feature.hard_max is not None else 1e6) * 2 + 1
    if element == "valueInteger":
        return int(number)
    if element == "valueBoolean":
        return bool(number)
    unit = mapping.unit
    if variant == "wrong_unit":
        unit = NOT_ALLOWED_UNIT
    elif variant == "other_unit":
        others = [u for u in mapping.units if u != mapping.unit]
        if not others:
            raise ValueError(f"{feature.name}: the mapping allows no other unit")
        number = convert_quantity(
            number, mapping.unit or "", others[0], molar_mass_g_per_mol=mapping.molar_mass_g_per_mol
        )
        unit = others[0]
    return _quantity(number, unit)


def _set(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


def _place(
    data: dict[str, Any],
    feature: FeatureSpec,
    mapping: FhirMapping,
    raw: Any,
    variant: Variant | None,
) -> None:
    """The record value at the mapping's value path (the first alternative the builder writes)."""
    if isinstance(raw, str) and variant == "unknown_code":
        raw = UNKNOWN_CODE
    for path in (mapping.value_path or "").split("|"):
        path = path.strip()
        component = _COMPONENT.fullmatch(path)
        coded = _CODED.fullmatch(path)
        if component is not None:
            element = component["element"]
            code = {
                "system": component["system"] or LOINC,
                "code": component["a"] or component["b"],
            }
            value = _number_element(feature, mapping, float(raw), element, variant)
            data.setdefault("component", []).append({"code": {"coding": [code]}, element: value})
        elif coded is not None:
            coding = {"system": coded["system"], "code": str(raw)}
            _set(data, coded["path"].split("."), {"coding": [coding]})
        elif _ELEMENT.fullmatch(path):
            if isinstance(raw, str):
                key = "valueCodeableConcept" if path == "value" else path
                data[key] = (
                    raw if key == "valueString" else {"coding": [{"code": raw}], "text": raw}
                )
            else:
                key = "valueQuantity" if path == "value" else path
                data[key] = _number_element(feature, mapping, float(raw), key, variant)
        else:
            continue
        return
    raise ValueError(f"{feature.name}: the synthetic builder cannot write '{mapping.value_path}'")


def _conflicting(feature: FeatureSpec, mapping: FhirMapping, value: float | str) -> float | str:
    """A different value the schema still accepts, for a conflict on the same date."""
    if isinstance(value, str):
        options = [c for c in (mapping.value_map or {}).values() if c != value]
        options += [b.value for b in mapping.bands or () if b.value != value]
        if not options:
            raise ValueError(f"{feature.name}: no other value to conflict with")
        return options[0]
    step = 1.0 if feature.kind == "integer" else round(abs(float(value)) * 0.1, 3) or 1.0
    higher = float(value) + step
    return higher if feature.hard_max is None or higher <= feature.hard_max else float(value) - step


class _Builder:
    """One patient's resources; ids, dates and times come from one seeded generator."""

    def __init__(self, case_date: datetime.date, seed: int, patient_id: str, bundle_type: str):
        self.rng = random.Random(seed)
        self.case_date = case_date
        self.patient_id = patient_id
        self.transaction = bundle_type == "transaction"
        self.patient_url = self.url("Patient", patient_id)
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.shared: dict[tuple, dict[str, Any]] = {}

    def url(self, kind: str, rid: str) -> str:
        if self.transaction:
            return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        return f"https://fhir.example.org/r4/{kind}/{rid}"

    def day_back(self, back: int) -> str:
        day = self.case_date - datetime.timedelta(days=back)
        hour, minute = self.rng.randint(7, 18), self.rng.choice((0, 15, 30, 45))
        return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"

    def when(self, window: int | None, variant: Variant | None, shortest: int = 0) -> str:
        """A clinical dateTime: recent within the window (at least ``shortest`` days back, so a
        stay of that length ends by the case date), or older than the window when stale."""
        if variant == "stale":
            if window is None:
                raise ValueError("a stale value needs a mapping with window_days")
            return self.day_back(window + self.rng.randint(*STALE_EXTRA_DAYS))
        latest = min(RECENT_DAYS, window if window is not None else RECENT_DAYS)
        return self.day_back(self.rng.randint(min(shortest, latest), latest))

    def add(self, kind: str, data: dict[str, Any], subject: str | None = None) -> dict[str, Any]:
        own = subject or (self.patient_url if self.transaction else f"Patient/{self.patient_id}")
        resource = {
            "id": f"{kind.lower()}-{self.rng.getrandbits(40):010x}",
            "meta": {"versionId": "1"},
            "subject": {"reference": own},
            **data,
        }
        self.pending.append((kind, resource))
        return resource

    def entries(self) -> list[tuple[str, Any]]:
        # Built as R4B models, so a resource the builder gets wrong fails here, not in a test.
        return [(self.url(kind, data["id"]), _model(kind, data)) for kind, data in self.pending]


def _shared_key(mapping: FhirMapping) -> tuple:
    code = mapping.codes[0]
    return (mapping.resource_type, code.system, code.code, mapping.code_path)


def _valued_inputs(
    schema: FeatureSchema, values: Mapping[str, Any], variants: Mapping[str, Variant]
) -> list[tuple[FeatureSpec, FhirMapping, Any, Variant | None]]:
    """The non-Patient inputs written as a value (not counted), with their record values."""
    found = []
    for feature in schema:
        mapping = feature.fhir
        if mapping is None or mapping.entered_by_hand or mapping.resource_type == "Patient":
            continue
        value, variant = values.get(feature.name), variants.get(feature.name)
        if value is None or variant == "missing":
            continue
        if variant is None and mapping.when_absent is not None and value == mapping.when_absent:
            continue  # the mapping states this value for "nothing in the record"
        if mapping.combine in ("count", "any"):
            continue
        found.append((feature, mapping, _record_value(feature, mapping, value), variant))
    return found


def _write_valued(builder: _Builder, inputs: list) -> None:
    """Each valued input in its resource: shared by inputs of the same type and code, its own
    when stale or entered-in-error; a conflict adds a same-day copy with another value."""
    windows: dict[tuple, list[int]] = {}
    stays: dict[tuple, int] = {}
    for _, mapping, raw, variant in inputs:
        key = _shared_key(mapping)
        if mapping.window_days is not None and variant not in ("stale", "entered_in_error"):
            windows.setdefault(key, []).append(mapping.window_days)
        if mapping.derive == "period_days":
            stays[key] = max(stays.get(key, 0), int(float(raw)))
    conflicts = []
    for feature, mapping, raw, variant in inputs:
        key = _shared_key(mapping)
        if variant in ("stale", "entered_in_error"):
            when = builder.when(mapping.window_days, variant, stays.get(key, 0))
            kind, data = _shell(mapping, when, variant == "entered_in_error")
            resource = builder.add(kind, data)
        elif key in builder.shared:
            resource = builder.shared[key]
        else:
            when = builder.when(min(windows.get(key, [RECENT_DAYS])), None, stays.get(key, 0))
            kind, data = _shell(mapping, when, False)
            resource = builder.shared[key] = builder.add(kind, data)
        _write_one(builder, resource, feature, mapping, raw, variant)
        if variant == "conflict":
            conflicts.append((resource, feature, mapping, raw))
    for resource, feature, mapping, raw in conflicts:
        twin = copy.deepcopy(resource)
        for name in ("id", "meta", "subject", "component"):
            twin.pop(name, None)
        other = _record_value(
            feature, mapping, _conflicting(feature, mapping, _mapped(mapping, raw))
        )
        _write_one(builder, twin, feature, mapping, other, None)
        builder.add(twin.pop("resourceType", mapping.resource_type), twin)


def _mapped(mapping: FhirMapping, raw: Any) -> Any:
    if mapping.value_map is not None:
        return mapping.value_map[raw]
    if mapping.bands is not None:
        chosen = None
        for band in mapping.bands:
            if (
                band.lower is None
                or raw > band.lower
                or (band.lower_inclusive and raw == band.lower)
            ):
                chosen = band.value
        return chosen
    return raw


def _write_one(
    builder: _Builder,
    resource: dict[str, Any],
    feature: FeatureSpec,
    mapping: FhirMapping,
    raw: Any,
    variant: Variant | None,
) -> None:
    if mapping.derive == "period_days":
        days = datetime.timedelta(days=int(float(raw)))
        if variant in ("stale", "entered_in_error"):
            start = datetime.date.fromisoformat(resource["period"]["start"][:10])
            end = start + days
        else:  # the stay being assessed ends on the case date (its discharge day)
            end = builder.case_date
            start = end - days
        resource["period"] = {"start": start.isoformat(), "end": end.isoformat()}
        return
    _place(resource, feature, mapping, raw, variant)
    if not evaluate(mapping.value_path or "", resource):
        raise ValueError(f"{feature.name}: the value path '{mapping.value_path}' finds nothing")


def _matches(mapping: FhirMapping, kind: str, data: dict[str, Any]) -> bool:
    """Whether a written resource carries the mapping's codes and is not in error."""
    if kind != mapping.resource_type or "entered-in-error" in str(data.get("status")):
        return False
    if mapping.code_path is None:
        found = {c for e in DEFAULT_CODE_ELEMENTS.get(kind, ()) for c in codings(data.get(e))}
    else:
        found = set(codings(evaluate(mapping.code_path, data)))
    return any((code.system, code.code) in found for code in mapping.codes)


def _write_counted(
    builder: _Builder,
    schema: FeatureSchema,
    values: Mapping[str, Any],
    variants: Mapping[str, Variant],
) -> None:
    """Each count or any input as that many resources, counting the ones already written
    (dated before them, so the latest stay stays the one the valued inputs read)."""
    for feature in schema:
        mapping = feature.fhir
        if mapping is None or mapping.entered_by_hand or mapping.combine not in ("count", "any"):
            continue
        value, variant = values.get(feature.name), variants.get(feature.name)
        if value is None or variant == "missing":
            continue
        number = float(_record_value(feature, mapping, value))
        wanted = int(number) if mapping.combine == "count" else int(number >= 1)
        window = mapping.window_days
        written = [
            data
            for kind, data in builder.pending
            if _matches(mapping, kind, data)
            and (window is None or _days_back(builder, kind, data) <= window)
        ]
        oldest = max((_days_back(builder, mapping.resource_type, d) for d in written), default=-1)
        if mapping.excludes_current_stay:  # the stay being assessed is not one of them
            written = [d for d in written if not covers_case_date(d, builder.case_date)]
            oldest = max(oldest, 0)  # an earlier stay began before the case date
        for _ in range(max(0, wanted - len(written))):
            latest = window if window is not None else UNWINDOWED_DAYS
            back = builder.rng.randint(min(oldest + 1, latest), latest)
            if variant == "stale":
                back = (window or 0) + builder.rng.randint(*STALE_EXTRA_DAYS)
            kind, data = _shell(mapping, builder.day_back(back), variant == "entered_in_error")
            builder.add(kind, data)


def _days_back(builder: _Builder, kind: str | None, data: dict[str, Any]) -> int:
    entry = RecordEntry(0, kind or "", data.get("id", ""), None, None, data)
    written = default_date(entry) or builder.case_date.isoformat()
    return (builder.case_date - datetime.date.fromisoformat(written[:10])).days


def _patient(
    builder: _Builder,
    schema: FeatureSchema,
    values: Mapping[str, float | str | None],
    variants: Mapping[str, Variant],
) -> Any:
    data: dict[str, Any] = {"id": builder.patient_id, "meta": {"versionId": "1"}, "active": True}
    for feature in schema:
        mapping = feature.fhir
        if mapping is None or mapping.resource_type != "Patient" or mapping.entered_by_hand:
            continue
        value, variant = values.get(feature.name), variants.get(feature.name)
        if value is None or variant == "missing":
            continue
        path = mapping.value_path or ""
        raw = _record_value(feature, mapping, value)
        if mapping.derive == "age_years":
            data[path] = _birth_date(builder, int(float(raw)), variant)
            continue
        if variant == "unknown_code":
            known = set(mapping.value_map or {})
            raw = next(g for g in GENDERS if g not in known) if path == "gender" else UNKNOWN_CODE
        data[path] = raw
    return _model("Patient", data)


def _birth_date(builder: _Builder, age: int, variant: Variant | None) -> str:
    if variant == "invalid_value":
        return (builder.case_date + datetime.timedelta(days=30)).isoformat()
    birthday = builder.case_date - datetime.timedelta(days=builder.rng.randint(1, 360))
    try:
        born = birthday.replace(year=birthday.year - age)
    except ValueError:  # 29 February in a year that has none
        born = datetime.date(birthday.year - age, 2, 28)
    return born.isoformat()


def synthetic_record(
    schema: FeatureSchema,
    values: Mapping[str, float | str | None],
    *,
    case_date: datetime.date,
    seed: int = 0,
    variants: Mapping[str, Variant] | None = None,
    other_patient: bool = False,
    bundle_type: Literal["searchset", "collection", "transaction"] = "searchset",
    patient_id: str = "patient-1",
) -> bytes:
    """A FHIR R4 Bundle (JSON bytes) holding ``values`` where the schema's mapping reads them.

    Parameters
    ----------
    schema : FeatureSchema
        Inputs with a ``fhir`` mapping are written; the rest (entered by hand, unmapped) not.
    values : mapping
        Feature → value in the schema's terms (None: nothing written).
    case_date : datetime.date
        Values are dated in the mapping's window before it; ages are taken at it.
    seed : int
        The same seed gives the same Bundle.
    variants : mapping, optional
        Feature → a problem to make on purpose (see :data:`Variant`).
    other_patient : bool
        Also write another patient's resources (the intake must ignore them).
    bundle_type : str
        'searchset' (a $everything answer), 'collection' or 'transaction' (urn:uuid refs).

    Raises
    ------
    ValueError
        A mapping or value the builder cannot write (a value path it does not know, a value no
        code or band gives, a stale variant without a window …), naming the input.
    """
    from fhir.resources.R4B.bundle import Bundle

    variants = dict(variants or {})
    for name, variant in variants.items():
        if name not in schema:
            raise ValueError(f"{name}: not an input of this schema")
        _check_variant(schema[name], variant, values.get(name))
    builder = _Builder(case_date, seed, patient_id, bundle_type)
    patient = _patient(builder, schema, values, variants)
    _write_valued(builder, _valued_inputs(schema, values, variants))
    _write_counted(builder, schema, values, variants)
    if other_patient:
        for kind, data in list(builder.pending):
            copied = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("id", "subject")}
            builder.add(kind, copied, subject="Patient/other-patient")
    entries = [(builder.patient_url, patient), *builder.entries()]
    bundle: dict[str, Any] = {"type": bundle_type, "entry": []}
    for url, resource in entries:
        entry: dict[str, Any] = {"fullUrl": url, "resource": resource}
        if bundle_type == "searchset":
            entry["search"] = {"mode": "match"}
        elif bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": resource.get_resource_type()}
        bundle["entry"].append(entry)
    if bundle_type == "searchset":
        bundle["total"] = len(entries)
    return Bundle.model_validate(bundle).model_dump_json().encode()
