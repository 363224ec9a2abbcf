"""The evidence pack: built from a real SQLite trail spanning several days, verified offline
by ``verify_pack`` alone, and every kind of tampering caught and named."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_fixtures import KEY, make_event
from caselens.audit import AuditStore
from caselens.audit.checkpoints import read_checkpoints
from caselens.audit.evidence_format import (
    ENTRIES,
    MANIFEST,
    MANIFEST_SIG,
    MAX_PACK_BYTES,
    MAX_PACK_MEMBERS,
    manifest_bytes,
)
from caselens.audit.evidence_pack import ModelCardFiles, build_evidence_pack, write_zip
from caselens.audit.pack_verify import verify_pack
from caselens.audit.signing_keys import SigningKey

# Six entries a day on 2026-01-01..04; checkpoints after the first entry and every 100 are
# the store's; the test adds some on demand so the segment has checkpoints inside it.
DAYS = (date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 4))
PER_DAY = 6
SERVER_KEY = SigningKey.generate()
RETIRED_KEY = SigningKey.generate()
CARD = b'{"model_id":"heart-gbm","model_sha256":"' + b"1" * 64 + b'"}'


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trail")
    moments = iter(
        f"{day.isoformat()}T{8 + i:02d}:00:00.000Z" for day in DAYS for i in range(PER_DAY)
    )
    last = {"t": "2026-01-01T00:00:00.000Z"}

    def clock() -> str:
        return last["t"]

    store = AuditStore.open(
        folder / "audit.sqlite", key=KEY, clock=clock, checkpoint_file=folder / "cp.jsonl"
    )
    for i in range(len(DAYS) * PER_DAY):
        last["t"] = next(moments)
        store.append(make_event(i))
        if i % 4 == 2:
            store.checkpoint()
    yield store
    store.close()


def _pack(store: AuditStore, first: date, last: date, *, exported_at="2026-02-01T00:00:00.000Z"):
    from caselens.audit.evidence_format import day_bounds

    since, until = day_bounds(first, last)
    entries = store.entries(since=since, until=until)
    shas = sorted({e.model_sha256 for e in entries if e.model_sha256})
    models = [
        ModelCardFiles("heart-gbm", "1.0.0", sha, {"card.json": CARD} if sha == "1" * 64 else {})
        for sha in shas
    ]
    return build_evidence_pack(
        entries,
        first_day=first,
        last_day=last,
        checkpoints=read_checkpoints(store.checkpoint_file),
        signing_key=SERVER_KEY,
        retired_public_keys={RETIRED_KEY.key_id: RETIRED_KEY.public_key},
        audit_key_ids={"current": store.key_id, "retired": []},
        models=models,
        exported_at=exported_at,
        caselens_version="test",
    )


@pytest.fixture(scope="module")
def pack(trail):
    return _pack(trail, DAYS[1], DAYS[2])


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def _rezip(members: dict[str, bytes]) -> bytes:
    return write_zip(members)


def _failures(data: bytes, **kw) -> list[str]:
    report = verify_pack(data, **kw)
    return [f"{c.name}: {c.message}" for c in report.checks if not c.ok]


def test_a_genuine_pack_verifies_with_the_published_key_and_holds_the_range(pack, trail):
    report = verify_pack(pack.data, public_key=SERVER_KEY.public_key)
    assert report.ok, [c for c in report.checks if not c.ok]
    names = [c.name for c in report.checks]
    assert {"manifest signature", "entry hashes", "chain links", "checkpoints"} <= set(names)
    entries = [json.loads(line) for line in _members(pack.data)[ENTRIES].splitlines()]
    # Every entry of 2026-01-02 and -03 and no other, every stored field kept.
    assert [e["seq"] for e in entries] == list(range(PER_DAY + 1, 3 * PER_DAY + 1))
    assert entries[0]["prev_hash"] == trail.get(PER_DAY).entry_hash
    assert set(entries[0]) == {"hmac", "entry_hash", "report_json", *entries[0]}
    stored = trail.get(PER_DAY + 1)
    assert entries[0]["hmac"] == stored.hmac and entries[0]["report_json"] == stored.report_json
    checkpoints = _members(pack.data)["trail/checkpoints.jsonl"].splitlines()
    counts = [json.loads(c)["count"] for c in checkpoints]
    assert all(PER_DAY < n <= 3 * PER_DAY for n in counts[:-1]) and counts[-1] > 3 * PER_DAY
    assert f"keys/signing/{RETIRED_KEY.key_id}.pub.pem" in _members(pack.data)


def test_the_key_inside_the_pack_proves_only_consistency_and_says_so(pack):
    report = verify_pack(pack.data)
    assert report.ok
    signature = next(c for c in report.checks if c.name == "manifest signature")
    assert "proves only that the pack is consistent" in signature.message
    assert SERVER_KEY.key_id in signature.message


def test_the_same_range_gives_the_same_bytes_but_the_export_time(trail, pack):
    again = _pack(trail, DAYS[1], DAYS[2])
    assert again.data == pack.data
    later = _pack(trail, DAYS[1], DAYS[2], exported_at="2026-03-01T00:00:00.000Z")
    before, after = _members(pack.data), _members(later.data)
    assert {n for n in before if before[n] != after[n]} == {MANIFEST, MANIFEST_SIG}


def test_the_manifest_signature_verifies_with_plain_openssl(pack, tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    members = _members(pack.data)
    (tmp_path / "manifest.json").write_bytes(members[MANIFEST])
    (tmp_path / "manifest.sig").write_bytes(members[MANIFEST_SIG])
    (tmp_path / "pub.pem").write_bytes(members[f"keys/signing/{SERVER_KEY.key_id}.pub.pem"])
    run = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.sig"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0 and "Verified Successfully" in run.stdout, run.stdout + run.stderr
    files = json.loads(members[MANIFEST])["files"]
    assert files[ENTRIES]["sha256"] == hashlib.sha256(members[ENTRIES]).hexdigest()


@pytest.mark.parametrize(
    "name",
    [ENTRIES, "trail/checkpoints.jsonl", "README.txt", "keys/audit-key-ids.json", MANIFEST_SIG],
)
def test_a_changed_byte_in_any_file_is_caught_and_named(pack, name):
    members = _members(pack.data)
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0x01
    members[name] = bytes(data)
    failures = _failures(_rezip(members), public_key=SERVER_KEY.public_key)
    assert failures
    expected = "manifest signature" if name == MANIFEST_SIG else f"file {name}"
    assert failures[0].startswith(expected), failures


def _entries_changed(pack, change) -> list[str]:
    """The failures after changing the entries file (the manifest left as signed): its hash
    check names the file, and the entry checks name the entry."""
    members = _members(pack.data)
    lines = members[ENTRIES].splitlines(keepends=True)
    members[ENTRIES] = b"".join(change(lines))
    return _failures(_rezip(members), public_key=SERVER_KEY.public_key)


def test_a_removed_entry_is_named(pack):
    failures = _entries_changed(pack, lambda lines: lines[:3] + lines[4:])
    assert any(f"file {ENTRIES}" in f for f in failures)
    assert any("chain links" in f and "entry 11 follows entry 9" in f for f in failures)


def test_a_reordered_entry_is_named(pack):
    failures = _entries_changed(pack, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    assert any("chain links: entry 9 follows entry 7" in f for f in failures), failures


def test_an_altered_field_is_named_by_its_entry(pack):
    def alter(lines):
        entry = json.loads(lines[2])
        entry["actor_name"] = "Someone Else"
        return [*lines[:2], manifest_bytes(entry) + b"\n", *lines[3:]]

    failures = _entries_changed(pack, alter)
    assert any("entry hashes: entry 9" in f for f in failures), failures


def test_a_forged_manifest_fails_its_signature(pack):
    members = _members(pack.data)
    manifest = json.loads(members[MANIFEST])
    manifest["range"]["to"] = "2026-01-09"
    members[MANIFEST] = manifest_bytes(manifest)
    failures = _failures(_rezip(members), public_key=SERVER_KEY.public_key)
    assert failures[0].startswith("manifest signature"), failures
    assert "was changed" in failures[0]


def test_a_manifest_re_signed_by_another_key_fails_against_the_published_key(pack):
    forger = SigningKey.generate()
    members = _members(pack.data)
    manifest = json.loads(members[MANIFEST])
    members.pop(f"keys/signing/{SERVER_KEY.key_id}.pub.pem")
    from caselens.audit.signing_keys import public_key_pem

    pem = public_key_pem(forger.public_key).encode()
    members[f"keys/signing/{forger.key_id}.pub.pem"] = pem
    manifest["signing_key_id"] = forger.key_id
    manifest["files"].pop(f"keys/signing/{SERVER_KEY.key_id}.pub.pem")
    manifest["files"][f"keys/signing/{forger.key_id}.pub.pem"] = {
        "sha256": hashlib.sha256(pem).hexdigest(),
        "size": len(pem),
    }
    members[MANIFEST] = manifest_bytes(manifest)
    members[MANIFEST_SIG] = forger.sign(members[MANIFEST])
    swapped = _rezip(members)
    # Consistent with itself: only the published key tells it apart, by its id.
    alone = verify_pack(swapped)
    assert alone.ok and alone.signing_key_id == forger.key_id != SERVER_KEY.key_id
    failures = _failures(swapped, public_key=SERVER_KEY.public_key)
    assert failures[0].startswith("manifest signature")
    assert f"signed by key {forger.key_id}" in failures[0]


def test_a_swapped_public_key_inside_the_pack_is_caught(pack):
    members = _members(pack.data)
    from caselens.audit.signing_keys import public_key_pem

    members[f"keys/signing/{SERVER_KEY.key_id}.pub.pem"] = public_key_pem(
        SigningKey.generate().public_key
    ).encode()
    failures = _failures(_rezip(members))
    assert failures[0].startswith("manifest signature"), failures


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        ("trail/../../x", "'..'"),
        ("C:/x", "absolute"),
        ("a\\b", "backslash"),
    ],
)
def test_unsafe_names_are_refused_before_anything_is_read(pack, name, why):
    members = _members(pack.data)
    members[name] = b"x"
    failures = _failures(_rezip(members))
    assert len(failures) == 1 and failures[0].startswith("pack: zip member"), failures
    assert why in failures[0]


def test_an_unlisted_file_is_named(pack):
    members = _members(pack.data)
    members["extra.txt"] = b"x"
    assert _failures(_rezip(members)) == [
        "file extra.txt: extra.txt is in the zip but not listed in manifest.json"
    ]


def test_a_zip_bomb_and_too_many_members_are_refused(pack, monkeypatch):
    import caselens.audit.pack_verify as pv

    monkeypatch.setattr(pv, "MAX_PACK_BYTES", 10_000)
    bomb = write_zip({"a.bin": b"\0" * 200_000})
    assert "zip bomb" in _failures(bomb)[0]
    monkeypatch.setattr(pv, "MAX_PACK_BYTES", MAX_PACK_BYTES)
    many = write_zip({f"f{i}": b"" for i in range(MAX_PACK_MEMBERS + 1)})
    assert f"at most {MAX_PACK_MEMBERS}" in _failures(many)[0]


HOSTILE = {
    "empty": b"",
    "not a zip": b"PK\x03\x04 not really",
    "text": b"hello",
    "no manifest": write_zip({"x": b"1"}),
    "manifest not json": write_zip({MANIFEST: b"{", MANIFEST_SIG: b""}),
    "manifest a list": write_zip({MANIFEST: b"[]", MANIFEST_SIG: b""}),
    "wrong kind": write_zip({MANIFEST: b'{"kind":"x","v":1}', MANIFEST_SIG: b""}),
    "deep json": write_zip({MANIFEST: b"[" * 100_000, MANIFEST_SIG: b""}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_corpus_is_refused_with_a_reason_never_a_traceback(name):
    report = verify_pack(HOSTILE[name])
    assert not report.ok and report.first_failure.message


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), value=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_fails_or_leaves_every_file_as_signed(pack, position, value):
    """A changed byte either fails verification (never raising) or lies in zip metadata
    that no check covers (a member's time or attributes): then every file is as signed."""
    from caselens.audit.pack_verify import read_members

    data = bytearray(pack.data)
    data[position % len(data)] ^= value
    report = verify_pack(bytes(data), public_key=SERVER_KEY.public_key)
    if report.ok:
        assert read_members(bytes(data)) == _members(pack.data)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.binary(max_size=50), max_size=5))
def test_arbitrary_zips_never_raise(files):
    try:
        data = write_zip(files)
    except (ValueError, UnicodeEncodeError):
        return  # a name zipfile itself cannot write
    report = verify_pack(data)
    assert not report.ok and report.first_failure is not None


def test_a_card_is_kept_per_model_version_and_a_missing_one_is_said(pack):
    members = _members(pack.data)
    manifest = json.loads(members[MANIFEST])
    shas = {m["model_sha256"]: m for m in manifest["models"]}
    assert shas["1" * 64]["card_included"] is True
    assert members[f"models/{'1' * 64}/card.json"] == CARD
    report = verify_pack(pack.data)
    cards = next(c for c in report.checks if c.name == "model cards")
    assert "no card included for heart-gbm" in cards.message


def test_readme_names_the_key_and_what_is_not_proved(pack):
    readme = _members(pack.data)["README.txt"].decode()
    assert SERVER_KEY.key_id in readme and "HMACs" in readme and "openssl pkeyutl" in readme


def test_a_pack_file_path_is_never_written_by_the_verifier(pack, tmp_path: Path):
    members = _members(pack.data)
    members["../../escaped.txt"] = b"x"
    verify_pack(_rezip(members))
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_card_that_states_another_model_file_fails(trail):
    store = trail
    from caselens.audit.evidence_format import day_bounds

    since, until = day_bounds(DAYS[0], DAYS[0])
    entries = store.entries(since=since, until=until)
    sha = next(e.model_sha256 for e in entries if e.model_sha256)
    wrong = ModelCardFiles("m", "1", sha, {"card.json": b'{"model_sha256":"' + b"f" * 64 + b'"}'})
    built = build_evidence_pack(
        entries,
        first_day=DAYS[0],
        last_day=DAYS[0],
        checkpoints=[],
        signing_key=SERVER_KEY,
        retired_public_keys={},
        audit_key_ids={"current": store.key_id, "retired": []},
        models=[wrong],
        exported_at="2026-02-01T00:00:00.000Z",
        caselens_version="test",
    )
    failures = _failures(built.data, public_key=SERVER_KEY.public_key)
    assert failures == [
        f"model cards: models/{sha}/card.json states model file '{'f' * 64}', not the {sha} it "
        "is filed under"
    ]
