"""Synthetic FHIR R4 records for tests and demonstrations (never a real patient).

:func:`synthetic_record` writes a Bundle that holds a case's values where each input's FHIR
mapping will look for them, built with the R4B models of ``fhir.resources`` (so every
resource is valid R4), so that case → record → case can be checked for any schema with a
mapping. Variants per input make the record's usual problems on purpose: a value missing, too
old, two conflicting values, a unit that is not allowed, a value in another allowed unit
(cholesterol in mmol/L), a code the mapping does not know, a resource marked
entered-in-error, a value the schema refuses; ``other_patient`` adds another patient's
resources. The same seed gives the same Bundle, byte for byte.

The builder writes the value paths mappings use: a plain element (``valueQuantity``,
``birthDate``, ``gender`` …) and an Observation component
(``component.where(code.coding.code='8480-6').valueQuantity``); any other path is refused with
a ValueError naming it.
"""

from __future__ import annotations

import datetime
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from caselens.fhir.matching import evaluate
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
#: FHIR's administrative genders: an unknown-code variant writes one the mapping lacks.
GENDERS = ("male", "female", "other", "unknown")
#: The most days before the case date an in-window value is dated (values are recent).
RECENT_DAYS = 60
#: Days further back than the window that a stale value is dated.
STALE_EXTRA_DAYS = (30, 400)
_COMPONENT = re.compile(r"component\.where\(code\.coding\.code\s*=\s*'([^']+)'\)\.(value\w+)")
_ELEMENT = re.compile(r"[a-z][A-Za-z]*")


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


class _Builder:
    """Writes one patient's resources; ids, dates and times come from one seeded generator."""

    def __init__(self, case_date: datetime.date, seed: int, patient_id: str, bundle_type: str):
        self.rng = random.Random(seed)
        self.case_date = case_date
        self.patient_id = patient_id
        self.transaction = bundle_type == "transaction"
        self.entries: list[tuple[str, Any]] = []
        self.patient_url = self._url("Patient", patient_id)

    def _url(self, kind: str, rid: str) -> str:
        if self.transaction:
            return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        return f"https://fhir.example.org/r4/{kind}/{rid}"

    def new_id(self, kind: str) -> str:
        return f"{kind.lower()}-{self.rng.getrandbits(40):010x}"

    def when(self, mapping: FhirMapping, variant: Variant | None) -> str:
        """A clinical dateTime: recent within the window, or older than it when stale."""
        window = mapping.window_days
        if variant == "stale":
            if window is None:
                raise ValueError("a stale value needs a mapping with window_days")
            back = window + self.rng.randint(*STALE_EXTRA_DAYS)
        else:
            back = self.rng.randint(0, min(RECENT_DAYS, window if window is not None else 365))
        day = self.case_date - datetime.timedelta(days=back)
        hour, minute = self.rng.randint(7, 18), self.rng.choice((0, 15, 30, 45))
        return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"

    def add(self, kind: str, data: dict[str, Any], subject: str | None = None) -> dict[str, Any]:
        rid = self.new_id(kind)
        reference = subject or (
            self.patient_url if self.transaction else f"Patient/{self.patient_id}"
        )
        resource = {
            "id": rid,
            "meta": {"versionId": "1"},
            "subject": {"reference": reference},
            **data,
        }
        # Built as an R4B model, so a resource the builder gets wrong fails here, not in a test.
        self.entries.append((self._url(kind, rid), _model(kind, resource)))
        return resource


def _concept(mapping: FhirMapping) -> dict[str, Any]:
    code = mapping.codes[0]
    coding = {"system": code.system, "code": code.code}
    if code.display:
        coding["display"] = code.display
    return {"coding": [coding], **({"text": code.display} if code.display else {})}


def _shell(mapping: FhirMapping, when: str, status_variant: bool) -> tuple[str, dict[str, Any]]:
    """A resource of the mapping's type carrying its first code and a clinical date."""
    kind = mapping.resource_type
    assert kind is not None
    error = "entered-in-error"
    if kind == "Observation":
        return kind, {
            "status": error if status_variant else "final",
            "code": _concept(mapping),
            "effectiveDateTime": when,
        }
    if kind == "Condition":
        verification = error if status_variant else "confirmed"
        return kind, {
            "code": _concept(mapping),
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": verification}]},
            "onsetDateTime": when,
            "recordedDate": when,
        }
    if kind == "Encounter":
        code = mapping.codes[0]
        data: dict[str, Any] = {"status": error if status_variant else "finished"}
        if code.system == ACT_CODE:
            data["class"] = {"system": code.system, "code": code.code}
        else:
            data["class"] = {"system": ACT_CODE, "code": "AMB"}
            data["type"] = [_concept(mapping)]
        data["period"] = {"start": when}
        return kind, data
    if kind == "MedicationRequest":
        return kind, {
            "status": error if status_variant else "active",
            "intent": "order",
            "medicationCodeableConcept": _concept(mapping),
            "authoredOn": when,
        }
    if kind == "MedicationStatement":
        return kind, {
            "status": error if status_variant else "active",
            "medicationCodeableConcept": _concept(mapping),
            "effectiveDateTime": when,
        }
    return kind, {
        "status": error if status_variant else "completed",
        "code": _concept(mapping),
        "performedDateTime": when,
    }


def _quantity(number: float, unit: str | None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": round(number, 6)}
    if unit:
        quantity.update({"unit": unit, "system": UCUM, "code": unit})
    return quantity


def _value_element(
    feature: FeatureSpec, mapping: FhirMapping, raw: Any, variant: Variant | None
) -> Any:
    """The record's element for a value at the mapping's path (Quantity, code, number …)."""
    path = mapping.value_path or ""
    element = (
        path.split(".")[-1]
        if not _COMPONENT.fullmatch(path)
        else _COMPONENT.fullmatch(path).group(2)
    )  # type: ignore[union-attr]
    if isinstance(raw, str):
        if variant == "unknown_code":
            raw = "not-a-known-code"
        if element in ("valueString",):
            return raw
        return {"coding": [{"code": raw}], "text": raw}
    number = float(raw)
    if variant == "invalid_value":
        number = (feature.hard_max if feature.hard_max is not None else 1e6) * 2 + 1
    if element in ("valueInteger",):
        return int(number)
    if element in ("valueBoolean",):
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


def _place(resource: dict[str, Any], mapping: FhirMapping, element_value: Any) -> None:
    path = mapping.value_path or ""
    component = _COMPONENT.fullmatch(path)
    if component is not None:
        code, element = component.groups()
        resource.setdefault("component", []).append(
            {"code": {"coding": [{"system": LOINC, "code": code}]}, element: element_value}
        )
        return
    key = path if _ELEMENT.fullmatch(path) else None
    if key is None:
        raise ValueError(f"the synthetic builder cannot write the value path '{path}'")
    if key == "value":
        key = "valueQuantity" if "value" in element_value else "valueCodeableConcept"
    resource[key] = element_value


def _add_valued(
    builder: _Builder,
    feature: FeatureSpec,
    mapping: FhirMapping,
    value: float | str,
    variant: Variant | None,
) -> None:
    when = builder.when(mapping, variant)
    kind, data = _shell(mapping, when, variant == "entered_in_error")
    if mapping.derive == "period_days":
        # Starts on the clinical date (in the window) and ends by the case date at the latest.
        length = datetime.timedelta(days=int(float(value)))
        start = datetime.date.fromisoformat(when[:10])
        start -= max(start + length - builder.case_date, datetime.timedelta(0))
        data["period"] = {"start": start.isoformat(), "end": (start + length).isoformat()}
        builder.add(kind, data)
        return
    raw = _record_value(feature, mapping, value)
    _place(data, mapping, _value_element(feature, mapping, raw, variant))
    resource = builder.add(kind, data)
    if not evaluate(mapping.value_path or "", resource):
        raise ValueError(f"{feature.name}: the value path '{mapping.value_path}' finds nothing")
    if variant == "conflict":
        other = _conflicting(feature, mapping, value)
        _, twin = _shell(mapping, when, False)
        _place(
            twin,
            mapping,
            _value_element(feature, mapping, _record_value(feature, mapping, other), None),
        )
        builder.add(kind, twin)


def _conflicting(feature: FeatureSpec, mapping: FhirMapping, value: float | str) -> float | str:
    """A different value the schema still accepts, for a conflict on the same date."""
    if isinstance(value, str):
        options = [c for c in (mapping.value_map or {}).values() if c != value]
        if not options:
            raise ValueError(f"{feature.name}: no other value to conflict with")
        return options[0]
    step = 1.0 if feature.kind == "integer" else round(abs(float(value)) * 0.1, 3) or 1.0
    higher = float(value) + step
    return higher if feature.hard_max is None or higher <= feature.hard_max else float(value) - step


def _add_counted(
    builder: _Builder,
    feature: FeatureSpec,
    mapping: FhirMapping,
    value: float | str,
    variant: Variant | None,
) -> None:
    number = float(_record_value(feature, mapping, value))
    count = int(number) if mapping.combine == "count" else int(number >= 1)
    for _ in range(count):
        kind, data = _shell(mapping, builder.when(mapping, variant), variant == "entered_in_error")
        builder.add(kind, data)


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
        if mapping.derive == "age_years":
            data[path] = _birth_date(builder, int(float(value)), variant)
        else:
            raw = _record_value(feature, mapping, value)
            if variant == "unknown_code":
                known = set(mapping.value_map or {})
                raw = (
                    next(g for g in GENDERS if g not in known) if path == "gender" else "x-unknown"
                )
            data[path] = raw
    return _model("Patient", data)


def _birth_date(builder: _Builder, age: int, variant: Variant | None) -> str:
    if variant == "invalid_value":
        return (builder.case_date + datetime.timedelta(days=30)).isoformat()
    year = builder.case_date.year - age
    birthday = builder.case_date - datetime.timedelta(days=builder.rng.randint(1, 360))
    try:
        born = birthday.replace(year=birthday.year - age)
    except ValueError:  # 29 February in a year that has none
        born = datetime.date(year, 2, 28)
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
        A mapping the builder cannot write (a value path it does not know, a stale variant
        without a window …), naming the input.
    """
    from fhir.resources.R4B.bundle import Bundle

    variants = dict(variants or {})
    builder = _Builder(case_date, seed, patient_id, bundle_type)
    patient = _patient(builder, schema, values, variants)
    for feature in schema:
        mapping = feature.fhir
        if mapping is None or mapping.entered_by_hand or mapping.resource_type == "Patient":
            continue
        value, variant = values.get(feature.name), variants.get(feature.name)
        if value is None or variant == "missing":
            continue
        if mapping.combine in ("count", "any"):
            _add_counted(builder, feature, mapping, value, variant)
        else:
            _add_valued(builder, feature, mapping, value, variant)
    if other_patient:
        _other_patient(builder)
    entries = [(builder.patient_url, patient), *builder.entries]
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


def _other_patient(builder: _Builder) -> None:
    """A copy of each clinical resource about another patient (a leaked $everything)."""
    other = "Patient/other-patient"
    for _, resource in list(builder.entries):
        data = resource.model_dump(mode="json", exclude_none=True)
        kind = data.pop("resourceType")
        for key in ("id", "subject"):
            data.pop(key, None)
        builder.add(kind, data, subject=other)
