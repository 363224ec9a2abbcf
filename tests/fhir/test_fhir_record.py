"""read_fhir_bundle on hostile and malformed input: refused with a clear message before any
entry is parsed, or the one bad entry named and left out; never a traceback or a hang."""

from __future__ import annotations

import json

import pytest

from caselens.errors import FhirRecordError
from caselens.fhir import case_from_record, read_fhir_bundle
from caselens.fhir.record import (
    MAX_BUNDLE_ENTRIES,
    MAX_FHIR_BUNDLE_BYTES,
    MAX_FHIR_JSON_DEPTH,
    MAX_FHIR_TEXT_CHARS,
)
from caselens.fhir.synthetic import synthetic_record
from fhir_records import BYO_CASE, BYO_SCHEMA, CASE_DATE


def _bundle(entries: list, kind: str = "collection") -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries}).encode()


def _record_json() -> dict:
    return json.loads(synthetic_record(BYO_SCHEMA, BYO_CASE, case_date=CASE_DATE, seed=2))


HOSTILE = {
    "empty": (b"", "empty"),
    "blank": (b"  \n ", "empty"),
    "not UTF-8": (b'{"resourceType": "Bundle\xff"}', "not UTF-8"),
    "not JSON": (b"<Bundle xmlns='http://hl7.org/fhir'/>", "not JSON"),
    "truncated": (b'{"resourceType": "Bundle", "type": "collection", "entry": [', "not JSON"),
    "a list": (b"[1, 2]", "JSON list"),
    "a number": (b"42", "JSON number"),
    "a Patient": (b'{"resourceType": "Patient", "id": "p"}', "got 'Patient'"),
    "no resourceType": (b'{"type": "collection"}', "no resourceType"),
    "a history Bundle": (b'{"resourceType": "Bundle", "type": "history"}', "type is 'history'"),
    "entry not a list": (
        b'{"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}}',
        "expected a list",
    ),
    "too deep": (b"[" * (MAX_FHIR_JSON_DEPTH + 1) + b"]" * (MAX_FHIR_JSON_DEPTH + 1), "deep"),
    "deep to a million": (b"[" * 1_000_000, "levels deep"),
    "a huge integer": (b'{"resourceType": "Bundle", "n": ' + b"9" * 5000 + b"}", "digits"),
    "NaN": (b'{"resourceType": "Bundle", "n": NaN}', "not a JSON number"),
    "Infinity": (b'{"resourceType": "Bundle", "n": -Infinity}', "not a JSON number"),
    "1e999": (b'{"resourceType": "Bundle", "n": 1e999}', "beyond any float"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_refused_with_what_is_wrong(name):
    data, words = HOSTILE[name]
    with pytest.raises(FhirRecordError, match="refused") as refused:
        read_fhir_bundle(data)
    assert words in str(refused.value)
    assert len(str(refused.value)) < 400


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    data = b" " * (MAX_FHIR_BUNDLE_BYTES + 1)
    with pytest.raises(FhirRecordError, match="20 MB"):
        read_fhir_bundle(data)


def test_a_bundle_of_100k_entries_is_refused_by_count_before_any_entry_is_parsed():
    entry = b'{"resource": {"resourceType": "Observation", "status": 7}}'
    data = (
        b'{"resourceType": "Bundle", "type": "collection", "entry": ['
        + b",".join([entry] * 100_000)
        + b"]}"
    )
    assert len(data) <= MAX_FHIR_BUNDLE_BYTES
    with pytest.raises(
        FhirRecordError, match=f"100,000 entries; the limit is {MAX_BUNDLE_ENTRIES:,}"
    ):
        read_fhir_bundle(data)


def test_a_malformed_entry_is_named_and_the_rest_is_read():
    data = _record_json()
    cholesterol = next(
        i for i, e in enumerate(data["entry"]) if "2093-3" in json.dumps(e["resource"].get("code"))
    )
    data["entry"][cholesterol]["resource"]["valueQuantity"]["value"] = "a lot"
    data["entry"].insert(0, "not an entry")
    data["entry"].append({"resource": {"resourceType": "Observation", "id": "x", "colour": 1}})
    record = read_fhir_bundle(json.dumps(data).encode())
    messages = [problem.message for problem in record.problems]
    assert messages[0] == "Entry 0: expected a JSON object."
    assert f"Entry {cholesterol + 1} (Observation): valueQuantity.value" in messages[1]
    assert "colour" in messages[2]
    intake = case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)
    assert intake.fields["cholesterol"].status == "no_value"
    assert intake.fields["systolic_bp"].value == BYO_CASE["systolic_bp"]
    assert intake.malformed_entries == 3
    assert any("Entry 0" in note for note in intake.notes)


def test_a_wrong_type_in_an_entry_is_named():
    data = _record_json()
    patient = data["entry"][0]["resource"]
    patient["birthDate"] = ["1957"]
    record = read_fhir_bundle(json.dumps(data).encode())
    assert record.problems[0].resource_type == "Patient"
    assert "birthDate" in record.problems[0].message
    with pytest.raises(FhirRecordError, match="no Patient"):
        case_from_record(BYO_SCHEMA, record, case_date=CASE_DATE)


def test_an_overlong_text_in_an_entry_is_named_not_parsed():
    data = _record_json()
    data["entry"][1]["resource"]["id"] = "x" * (MAX_FHIR_TEXT_CHARS + 1)
    record = read_fhir_bundle(json.dumps(data).encode())
    assert "over 200,000 characters" in record.problems[0].message
    assert "'resource.id'" in record.problems[0].message


def test_types_not_read_are_counted_not_parsed():
    entries = [
        {"resource": {"resourceType": "Claim", "id": "c", "anything": {"goes": [1]}}},
        {"resource": {"resourceType": "Practitioner", "id": "m"}},
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {"request": {"method": "DELETE", "url": "Observation/1"}},
    ]
    record = read_fhir_bundle(_bundle(entries, "transaction"))
    assert record.not_read == {"Claim": 1, "Practitioner": 1}
    assert [r.resource_id for r in record.resources] == ["p"]
    assert record.problems == ()


def test_control_characters_in_a_type_are_escaped_in_the_message():
    with pytest.raises(FhirRecordError) as refused:
        read_fhir_bundle(b'{"resourceType": "Bun\\u202edle\\u0000"}')
    assert "\u202e" not in str(refused.value) and "\\u202e" in str(refused.value)


def test_an_id_less_resource_is_named():
    record = read_fhir_bundle(_bundle([{"resource": {"resourceType": "Patient"}}]))
    assert record.problems[0].message == "Entry 0 (Patient): the resource has no id."
