"""Property-based fuzz of the FHIR intake.

``read_fhir_bundle`` is fed raw bytes, arbitrary JSON, and Bundles whose entries are random
resources of the types CaseLens reads: the outcome is a FhirRecord or a FhirRecordError, never
another exception. ``case_from_record`` is fed a synthetic record with one value element
replaced by arbitrary JSON: every input comes back with a known status, and only a usable
status carries a value. Time is bounded by construction; ``caselens bench fhir`` measures it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.errors import FhirRecordError
from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.intake import USABLE_STATUSES, FieldStatus
from caselens.fhir.record import READ_RESOURCE_TYPES, FhirRecord
from caselens.fhir.synthetic import synthetic_record
from fhir_records import BYO_CASE, BYO_SCHEMA, CASE_DATE

STATUSES = set(get_args(FieldStatus))
# Small and without a database: the module runs in seconds on two shared cores.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: For the slower properties (each example parses a Bundle of many R4B models).
FUZZ_FEW = settings(FUZZ, max_examples=30)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["2024-05-01", "1960-02-30", "2024", "mg/dL", "mmol/L", "male", "final"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "id",
        "status",
        "code",
        "subject",
        "valueQuantity",
        "effectiveDateTime",
        "birthDate",
        "gender",
        "period",
        "class",
        "component",
        "meta",
        "verificationStatus",
    ]
)
_resources = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    st.sampled_from([*READ_RESOURCE_TYPES, "Claim", "", "Bundle"]),
    st.dictionaries(_keys, _json, max_size=6),
)
_entries = st.one_of(
    st.builds(lambda resource, url: {"resource": resource, "fullUrl": url}, _resources, _scalars),
    _json,
)


def _outcome(data: bytes) -> FhirRecord | None:
    try:
        return read_fhir_bundle(data)
    except FhirRecordError as refused:
        assert str(refused).startswith("The FHIR record was refused: ")
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_a_record_or_a_refusal(data):
    _outcome(data)


@FUZZ
@given(_json)
def test_any_json_is_a_record_or_a_refusal(value):
    _outcome(json.dumps(value).encode())


@FUZZ_FEW
@given(
    st.lists(_entries, max_size=8),
    st.sampled_from(["collection", "searchset", "transaction", "batch", 3]),
)
def test_any_bundle_of_random_entries_is_read_entry_by_entry(entries, kind):
    data = json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries}).encode()
    record = _outcome(data)
    if record is not None:
        assert record.entry_count == len(entries)
        read = len(record.resources) + len(record.problems) + sum(record.not_read.values())
        assert read <= len(entries)
        for problem in record.problems:
            assert problem.message.startswith(f"Entry {problem.index}")


@cache
def _record() -> dict[str, Any]:
    return json.loads(synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=11))


_VALUE_KEYS = ("valueQuantity", "birthDate", "gender", "period", "component", "code", "status")


@FUZZ
@given(
    st.integers(min_value=0, max_value=40),
    st.sampled_from(_VALUE_KEYS),
    _json,
)
def test_any_value_in_a_record_gives_a_status_never_an_exception(position, key, value):
    data = json.loads(json.dumps(_record()))
    entry = data["entry"][position % len(data["entry"])]["resource"]
    entry[key] = value
    record = _outcome(json.dumps(data).encode())
    if record is None:
        return
    try:
        intake = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    except FhirRecordError:
        return  # the Patient itself was malformed: no patient to read
    assert list(intake.fields) == BYO_SCHEMA.names
    for name, field in intake.fields.items():
        assert field.status in STATUSES, name
        assert field.message.strip(), name
        if field.status not in USABLE_STATUSES:
            assert field.value is None, name
    assert set(intake.values()) <= set(BYO_SCHEMA.names)


_PATHS = (
    "valueQuantity",
    "code",
    "status",
    "effectiveDateTime",
    "subject",
    "component",
    "value",
    "code.coding.code",
    "valueQuantity.value",
    "meta",
)


@FUZZ
@given(
    st.sampled_from(_PATHS),
    st.sampled_from(["latest", "earliest", "max", "min"]),
    st.sampled_from(["cholesterol", "a1c_result", "smoking", "creatinine"]),
    st.sampled_from([None, "age_years", "period_days"]),
)
def test_any_value_path_on_a_mapping_gives_a_status_never_an_exception(path, combine, name, derive):
    spec = BYO_SCHEMA[name]
    changes = {"value_path": path, "combine": combine, "units": (), "unit": None}
    if derive != "age_years":
        changes["derive"] = derive
    mapping = spec.fhir.model_copy(update=changes)
    schema = BYO_SCHEMA.model_copy(
        update={"features": (spec.model_copy(update={"fhir": mapping}),)}
    )
    record = read_fhir_bundle(json.dumps(_record()).encode())
    intake = case_from_record(schema, record, case_date=CASE_DATE)
    field = intake.fields[name]
    assert field.status in STATUSES and field.message.strip()
    assert (field.value is not None) == (field.status in USABLE_STATUSES)


_BYO_VALUES = st.fixed_dictionaries(
    {
        "age": st.integers(18, 110),
        "sex": st.sampled_from(["Female", "Male"]),
        "cholesterol": st.integers(50, 1000),
        "systolic_bp": st.integers(50, 300),
        "creatinine": st.integers(10, 3000).map(lambda hundredths: hundredths / 100),
        "a1c_result": st.sampled_from(["Normal", "Above 7%", "Above 8%", "Not measured"]),
        "smoking": st.sampled_from(["Never", "Former", "Current"]),
        "emergency_visits": st.integers(0, 6),
        "length_of_stay": st.integers(0, 30),
        "diabetes": st.sampled_from(["No", "Yes"]),
        "on_insulin": st.integers(0, 1),
        "dialysis_sessions": st.integers(0, 6),
    }
)


@FUZZ
@given(
    _BYO_VALUES,
    st.integers(0, 2**32),
    st.sampled_from(["searchset", "collection", "transaction"]),
    st.sets(st.sampled_from(["cholesterol", "creatinine"])),
)
def test_any_case_within_the_schema_round_trips_through_a_record(
    values, seed, bundle_type, other_units
):
    data = synthetic_record(
        BYO_SCHEMA,
        values,
        case_date=CASE_DATE,
        seed=seed,
        bundle_type=bundle_type,
        variants=dict.fromkeys(other_units, "other_unit"),
    )
    intake = case_from_record(BYO_SCHEMA, read_fhir_bundle(data), case_date=CASE_DATE)
    assert intake.values() == values
