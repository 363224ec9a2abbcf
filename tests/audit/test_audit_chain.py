"""Hashing, signing and pure verification of entries."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from audit_fixtures import KEY, make_event
from caselens.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEventError,
    ChainBroken,
    canonical_json,
    hash_of,
    parse_head,
    pseudonym,
    seal,
    sign,
    verify_chain,
)
from caselens.audit.chain import ENTRY_PREFIX, HMAC_PREFIX, entry_bytes
from caselens.audit.records import HASHED_FIELDS

T0 = "2026-01-01T00:00:00.000Z"


def _chain(n: int) -> list[AuditEntry]:
    out, prev = [], GENESIS_HASH
    for i in range(n):
        entry = seal(make_event(i), seq=i + 1, prev_hash=prev, recorded_at=T0, key=KEY)
        out.append(entry)
        prev = entry.entry_hash
    return out


def test_entry_hash_is_sha256_of_prefixed_canonical_json_of_every_field():
    entry = _chain(1)[0]
    fields = {f: getattr(entry, f) for f in HASHED_FIELDS}
    report = fields.pop("report_json")
    fields["report_json_sha256"] = hashlib.sha256(report.encode()).hexdigest()
    expected = hashlib.sha256(ENTRY_PREFIX + canonical_json(fields).encode("utf-8")).hexdigest()
    assert hash_of(entry) == entry.entry_hash == expected


def test_hmac_round_trips_with_the_key_and_fails_with_another():
    entry = _chain(1)[0]
    mac = hmac.new(KEY, HMAC_PREFIX + bytes.fromhex(entry.entry_hash), "sha256").hexdigest()
    assert entry.hmac == mac == sign(entry.entry_hash, key=KEY)
    assert sign(entry.entry_hash, key=b"\x00" * 32) != entry.hmac


def test_canonical_encoding_is_compact_sorted_utf8():
    data = entry_bytes(
        1,
        T0,
        "u",
        "Zoë",
        "r",
        "clinician",
        "viewed",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "{}",
        GENESIS_HASH,
    )
    body = data[len(ENTRY_PREFIX) :].decode("utf-8")
    assert "Zoë" in body and " " not in body.replace("Zoë", "")
    assert list(json.loads(body)) == sorted(json.loads(body))


@pytest.mark.parametrize("field", [f for f in HASHED_FIELDS if f != "seq"])
def test_changing_any_hashed_field_changes_the_hash(field):
    entry = _chain(1)[0]
    value = getattr(entry, field)
    changed = replace(entry, **{field: (value or "") + "x"})
    assert hash_of(changed) != entry.entry_hash


def test_moving_an_entry_to_another_position_changes_its_hash():
    entry = _chain(1)[0]
    assert hash_of(replace(entry, seq=2)) != entry.entry_hash


def test_report_is_stored_as_canonical_json():
    entry = seal(
        make_event(0, report='{"b": 1,  "a": [1.0, "é"]}'),
        seq=1,
        prev_hash=GENESIS_HASH,
        recorded_at=T0,
        key=KEY,
    )
    assert entry.report_json == '{"a":[1.0,"é"],"b":1}'


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"audience": "public"}, "audience must be one of"),
        ({"action": "Viewed!"}, "action must be a lower-case word"),
        ({"actor_id": " "}, "actor_id must be a non-empty string"),
        ({"model_sha256": "xyz"}, "model_sha256 must be 64"),
    ],
)
def test_invalid_events_are_refused_naming_the_field(override, message):
    with pytest.raises(AuditEventError, match=message):
        make_event(0, **override)


@pytest.mark.parametrize("report", [{"p": float("nan")}, "[1, 2]", "{not json"])
def test_reports_that_are_not_canonical_json_objects_are_refused(report):
    with pytest.raises(AuditEventError, match="report"):
        make_event(0, report=report).report_text()


def test_intact_chain_verifies_and_reports_its_head():
    entries = _chain(5)
    result = verify_chain(entries, key=KEY, expected_head=(5, entries[-1].entry_hash))
    assert result.ok and result.count == 5 and result.head_hash == entries[-1].entry_hash
    assert result.summary() == f"OK: 5 entries, head {entries[-1].entry_hash}"


def test_empty_chain_verifies_with_genesis_head():
    result = verify_chain([], key=KEY)
    assert (result.count, result.head_hash) == (0, GENESIS_HASH)


def test_reordered_list_is_reported_at_the_first_position_out_of_place():
    entries = _chain(5)
    with pytest.raises(ChainBroken, match="entry 2 is out of order") as info:
        verify_chain([entries[0], entries[2], entries[1], *entries[3:]], key=KEY)
    assert info.value.reason == "reordered"


def test_duplicated_entry_is_reported_as_reordered():
    entries = _chain(3)
    with pytest.raises(ChainBroken) as info:
        verify_chain([entries[0], entries[1], entries[1], entries[2]], key=KEY)
    assert (info.value.reason, info.value.seq) == ("reordered", 3)


def test_time_going_backwards_is_reported_as_reordered():
    first = seal(make_event(0), seq=1, prev_hash=GENESIS_HASH, recorded_at=T0, key=KEY)
    second = seal(
        make_event(1),
        seq=2,
        prev_hash=first.entry_hash,
        recorded_at="2025-01-01T00:00:00.000Z",
        key=KEY,
    )
    with pytest.raises(ChainBroken, match="entry 2 is out of order"):
        verify_chain([first, second], key=KEY)


def test_chain_shorter_than_anchor_is_truncated():
    entries = _chain(4)
    with pytest.raises(ChainBroken, match="truncated") as info:
        verify_chain(entries[:2], key=KEY, expected_head=(4, entries[-1].entry_hash))
    assert (info.value.seq, info.value.expected, info.value.found) == (3, "4 entries", "2 entries")


@pytest.mark.parametrize("text", ["12", "x:" + "a" * 64, "3:" + "a" * 63, "3:" + "g" * 64])
def test_malformed_heads_are_refused(text):
    with pytest.raises(ValueError, match="head"):
        parse_head(text)


def test_pseudonyms_are_stable_per_key_and_differ_across_keys():
    assert pseudonym("P-1", key=KEY) == pseudonym("P-1", key=KEY)
    assert pseudonym("P-1", key=KEY) != pseudonym("P-2", key=KEY)
    assert pseudonym("P-1", key=KEY) != pseudonym("P-1", key=b"\x01" * 32)
    assert "P-1" not in pseudonym("P-1", key=KEY)


def test_chain_broken_refuses_unknown_reasons():
    with pytest.raises(ValueError, match="unknown break reason"):
        ChainBroken(1, "weird", "a", "b")
