"""Verifying an evidence pack offline: no database, no settings, no secret key.

The zip is untrusted input. It is read bounded (member count, total uncompressed bytes
counted as they are inflated, names without ``..``, absolute paths or backslashes, no
duplicates) and every failure is a named check, never a traceback. The checks: the
manifest's signature (by a key given out of band, or the one in the pack — which proves
only consistency), every file's SHA-256 and size, each entry's hash recomputed from its
fields, the links between entries, and the checkpoints against the entries they name.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from caselens.audit.chain import hash_of
from caselens.audit.evidence_format import (
    CHECKPOINTS,
    ENTRIES,
    MANIFEST,
    MANIFEST_SIG,
    MAX_MANIFEST_BYTES,
    MAX_PACK_BYTES,
    MAX_PACK_ENTRIES,
    MAX_PACK_MEMBERS,
    MODELS_DIR,
    PACK_KIND,
    PACK_VERSION,
    SIGNING_KEYS_DIR,
)
from caselens.audit.records import ENTRY_FIELDS, AuditEntry
from caselens.audit.signing_keys import parse_public_key, signing_key_id
from caselens.errors import CaseLensError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_INT_FIELDS = ("seq",)
_OPTIONAL_FIELDS = frozenset(
    {
        "patient_ref",
        "model_id",
        "model_version",
        "model_sha256",
        "report_json",
        "rendered_digest",
        "session_id",
    }
)


class PackUnreadable(CaseLensError):
    """The file is not an evidence pack this verifier can read safely (named why)."""


@dataclass(frozen=True)
class Check:
    """One verification step: its name, whether it holds, and what was found."""

    name: str
    ok: bool
    message: str


@dataclass
class PackReport:
    """Every check made, in order; ``ok`` only when all hold."""

    checks: list[Check] = field(default_factory=list)
    signing_key_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every check holds (and there was at least one)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        """The first check that failed, or None."""
        return next((c for c in self.checks if not c.ok), None)

    def add(self, name: str, ok: bool, message: str) -> bool:
        self.checks.append(Check(name, ok, message))
        return ok


def read_members(data: bytes) -> dict[str, bytes]:
    """Every member of the zip, read bounded.

    Raises
    ------
    PackUnreadable
        Not a zip, too many members, an unsafe or duplicate name, a directory or link,
        or more than ``MAX_PACK_BYTES`` once inflated (counted while inflating, so a
        header that lies about sizes does not help a zip bomb).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise PackUnreadable(f"the file is not a readable zip ({exc})") from None
    if len(infos) > MAX_PACK_MEMBERS:
        raise PackUnreadable(
            f"the zip holds {len(infos)} files; an evidence pack holds at most {MAX_PACK_MEMBERS}"
        )
    members: dict[str, bytes] = {}
    budget = MAX_PACK_BYTES
    for info in infos:
        name = info.filename
        problem = unsafe_name(name)
        if problem:
            raise PackUnreadable(f"zip member {name!r}: {problem}")
        if name in members:
            raise PackUnreadable(f"zip member {name!r} appears twice")
        if info.is_dir() or (info.external_attr >> 16) & 0o170000 not in (0, 0o100000):
            raise PackUnreadable(f"zip member {name!r} is not a plain file")
        chunks = []
        try:
            with archive.open(info) as handle:
                while True:
                    chunk = handle.read(min(1 << 20, budget + 1))
                    if not chunk:
                        break
                    budget -= len(chunk)
                    if budget < 0:
                        raise PackUnreadable(
                            f"the pack inflates to more than {MAX_PACK_BYTES} bytes "
                            f"(at {name!r}); refused as a possible zip bomb"
                        )
                    chunks.append(chunk)
        except PackUnreadable:
            raise
        except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError) as exc:
            raise PackUnreadable(f"zip member {name!r} cannot be read ({exc})") from None
        except Exception as exc:  # zlib.error and friends: a damaged stream, said plainly
            raise PackUnreadable(f"zip member {name!r} cannot be read ({exc})") from None
        members[name] = b"".join(chunks)
    return members


def unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe to trust (absolute, ``..``, backslash, control
    characters, empty), or None."""
    if not name or len(name) > 300:
        return "the name is empty or too long"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path is refused"
    if "\\" in name or any(ord(ch) < 32 for ch in name):
        return "backslashes and control characters are refused in names"
    if any(part in ("..", ".", "") for part in name.rstrip("/").split("/")):
        return "a path with '..' or empty parts is refused"
    return None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PackUnreadable(f"{what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise PackUnreadable(f"{what} is not a JSON object")
    return value


def _entry(line: bytes, number: int) -> AuditEntry:
    """One entry line as an AuditEntry, every field of the right type, or PackUnreadable."""
    data = _json_object(line, f"{ENTRIES} line {number}")
    if set(data) != set(ENTRY_FIELDS):
        missing = sorted(set(ENTRY_FIELDS) - set(data))
        extra = sorted(set(data) - set(ENTRY_FIELDS))
        raise PackUnreadable(
            f"{ENTRIES} line {number}: fields missing {missing or 'none'}, "
            f"unknown {extra or 'none'}"
        )
    for name in ENTRY_FIELDS:
        value = data[name]
        if name in _INT_FIELDS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        elif name in _OPTIONAL_FIELDS:
            ok = value is None or isinstance(value, str)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise PackUnreadable(f"{ENTRIES} line {number}: field {name} has the wrong type")
    return AuditEntry(**data)


def verify_pack(data: bytes, *, public_key: Ed25519PublicKey | None = None) -> PackReport:
    """Verify an evidence pack's bytes; every check is in the report, none raises.

    Parameters
    ----------
    data : bytes
        The zip.
    public_key : Ed25519PublicKey, optional
        The server's public key as published out of band. Without it the key inside the
        pack is used, which proves only that the pack is consistent with itself.

    Returns
    -------
    PackReport
    """
    report = PackReport()
    try:
        _verify(data, public_key, report)
    except PackUnreadable as exc:
        report.add("pack", False, str(exc))
    return report


def _verify(data: bytes, public_key: Ed25519PublicKey | None, report: PackReport) -> None:
    members = read_members(data)
    report.add("zip", True, f"{len(members)} files, every name safe, within the size bounds")
    for name in (MANIFEST, MANIFEST_SIG):
        if name not in members:
            raise PackUnreadable(f"{name} is missing: this is not an evidence pack")
        if len(members[name]) > MAX_MANIFEST_BYTES:
            raise PackUnreadable(f"{name} is larger than {MAX_MANIFEST_BYTES} bytes")
    raw_manifest = members[MANIFEST]
    manifest = _json_object(raw_manifest, MANIFEST)
    if manifest.get("kind") != PACK_KIND or manifest.get("v") != PACK_VERSION:
        raise PackUnreadable(f"{MANIFEST} is not a version {PACK_VERSION} CaseLens evidence pack")
    _check_signature(members, raw_manifest, manifest, public_key, report)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise PackUnreadable(f"{MANIFEST} has no 'files' table")
    _check_files(members, files, report)
    entries = _check_entries(members.get(ENTRIES, b""), manifest, report)
    _check_checkpoints(members.get(CHECKPOINTS, b""), entries, report)
    _check_models(manifest, entries, members, report)


def _check_signature(
    members: dict[str, bytes],
    raw_manifest: bytes,
    manifest: dict[str, Any],
    public_key: Ed25519PublicKey | None,
    report: PackReport,
) -> None:
    stated = manifest.get("signing_key_id")
    report.signing_key_id = stated if isinstance(stated, str) else None
    if public_key is not None:
        key, source = public_key, "the key you gave"
    else:
        pem_name = f"{SIGNING_KEYS_DIR}{stated}.pub.pem" if isinstance(stated, str) else ""
        pem = members.get(pem_name)
        if pem is None:
            report.add(
                "manifest signature",
                False,
                f"{MANIFEST} names signing key {stated!r}, whose public key is not in the pack",
            )
            return
        try:
            key = parse_public_key(pem, source=f"{SIGNING_KEYS_DIR}{stated}.pub.pem")
        except CaseLensError as exc:
            report.add("manifest signature", False, str(exc))
            return
        source = "the key inside the pack"
    kid = signing_key_id(key)
    if kid != stated:
        report.add(
            "manifest signature",
            False,
            f"{MANIFEST} says it was signed by key {stated}, but {source} is key {kid}",
        )
        return
    try:
        key.verify(members[MANIFEST_SIG], raw_manifest)
    except InvalidSignature:
        report.add(
            "manifest signature",
            False,
            f"{MANIFEST_SIG} is not key {kid}'s signature over {MANIFEST} "
            "(the manifest or the signature was changed)",
        )
        return
    if public_key is None:
        report.add(
            "manifest signature",
            True,
            f"signed by key {kid}, the key inside the pack: this proves only that the pack is "
            "consistent with itself; compare the id with the one the operator published, or "
            "give that key with --public-key",
        )
    else:
        report.add("manifest signature", True, f"signed by key {kid}, the key you gave")


def _check_files(members: dict[str, bytes], files: dict[str, Any], report: PackReport) -> None:
    for name in sorted(files):
        stated = files[name]
        if not isinstance(stated, dict) or not _HEX64.match(str(stated.get("sha256", ""))):
            report.add(f"file {name}", False, f"{MANIFEST} lists {name} without a SHA-256")
            continue
        if name not in members:
            report.add(f"file {name}", False, f"{name} is listed in {MANIFEST} but missing")
            continue
        digest = hashlib.sha256(members[name]).hexdigest()
        if digest != stated["sha256"] or len(members[name]) != stated.get("size"):
            report.add(
                f"file {name}",
                False,
                f"{name} was changed: SHA-256 {digest}, size {len(members[name])}; "
                f"the manifest says {stated['sha256']}, size {stated.get('size')}",
            )
        else:
            report.add(f"file {name}", True, f"SHA-256 {digest[:16]}… as listed")
    extra = sorted(set(members) - set(files) - {MANIFEST, MANIFEST_SIG})
    for name in extra:
        report.add(f"file {name}", False, f"{name} is in the zip but not listed in {MANIFEST}")


def _check_entries(raw: bytes, manifest: dict[str, Any], report: PackReport) -> list[AuditEntry]:
    stated = manifest.get("entries")
    if not isinstance(stated, dict):
        raise PackUnreadable(f"{MANIFEST} has no 'entries' section")
    lines = raw.splitlines()
    if len(lines) > MAX_PACK_ENTRIES:
        raise PackUnreadable(
            f"{ENTRIES} holds {len(lines)} lines; a pack holds at most {MAX_PACK_ENTRIES}"
        )
    entries: list[AuditEntry] = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(_entry(line, number))
        except PackUnreadable as exc:
            report.add("entries", False, str(exc))
            return entries
    if len(entries) != stated.get("count"):
        report.add(
            "entries",
            False,
            f"{ENTRIES} holds {len(entries)} entries; the manifest says {stated.get('count')}",
        )
    bad_hash = next((e for e in entries if hash_of(e) != e.entry_hash), None)
    report.add(
        "entry hashes",
        bad_hash is None,
        f"entry {bad_hash.seq}: its fields do not give its entry_hash (altered)"
        if bad_hash
        else f"{len(entries)} entries, each entry_hash recomputed from its fields",
    )
    problem = _link_problem(entries, stated)
    report.add(
        "chain links",
        problem is None,
        problem
        or f"entries {stated.get('first_seq')}..{stated.get('last_seq')} linked, the first to "
        f"the previous hash the manifest states",
    )
    window = manifest.get("range") if isinstance(manifest.get("range"), dict) else {}
    since, until = str(window.get("since", "")), str(window.get("until", ""))
    outside = next((e for e in entries if not since <= e.recorded_at < until), None)
    report.add(
        "range",
        outside is None,
        f"entry {outside.seq} was recorded at {outside.recorded_at}, outside {since}..{until}"
        if outside
        else f"every entry recorded in {window.get('from')}..{window.get('to')} (UTC days)",
    )
    return entries


def _link_problem(entries: list[AuditEntry], stated: dict[str, Any]) -> str | None:
    if not entries:
        return f"{ENTRIES} holds no entries"
    if entries[0].seq != stated.get("first_seq"):
        return f"the first entry is {entries[0].seq}; the manifest says {stated.get('first_seq')}"
    if entries[0].prev_hash != stated.get("first_prev_hash"):
        return (
            f"entry {entries[0].seq}: its prev_hash is not the previous hash the manifest "
            "states (the start of the segment was changed)"
        )
    for before, after in itertools.pairwise(entries):
        if after.seq != before.seq + 1:
            return f"entry {after.seq} follows entry {before.seq}: entries are missing or reordered"
        if after.prev_hash != before.entry_hash:
            return f"entry {after.seq}: its prev_hash is not entry {before.seq}'s hash"
    if entries[-1].seq != stated.get("last_seq") or (
        entries[-1].entry_hash != stated.get("last_entry_hash")
    ):
        return f"the last entry is not the one the manifest names ({stated.get('last_seq')})"
    return None


def _check_checkpoints(raw: bytes, entries: list[AuditEntry], report: PackReport) -> None:
    by_seq = {e.seq: e for e in entries}
    last = entries[-1].seq if entries else 0
    inside = after = 0
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            data = _json_object(line, f"{CHECKPOINTS} line {number}")
            count, head = int(data["count"]), str(data["head_hash"])
        except (PackUnreadable, KeyError, TypeError, ValueError) as exc:
            report.add(
                "checkpoints", False, f"{CHECKPOINTS} line {number}: not a checkpoint ({exc})"
            )
            return
        if count in by_seq:
            inside += 1
            if by_seq[count].entry_hash != head:
                report.add(
                    "checkpoints",
                    False,
                    f"the checkpoint at entry {count} states another hash than entry {count} "
                    "in the pack",
                )
                return
        elif count > last:
            after += 1
    note = (
        "and the first checkpoint after the segment is included"
        if after
        else "no checkpoint after the segment had been written yet"
    )
    report.add(
        "checkpoints",
        True,
        f"{inside} checkpoint(s) inside the segment agree with its entries, {note}; their "
        "HMACs need the server's secret key and are not checked offline",
    )


def _check_models(
    manifest: dict[str, Any],
    entries: list[AuditEntry],
    members: dict[str, bytes],
    report: PackReport,
) -> None:
    rows = manifest.get("models") if isinstance(manifest.get("models"), list) else []
    listed = {r.get("model_sha256") for r in rows if isinstance(r, dict)}
    named = {e.model_sha256 for e in entries if e.model_sha256}
    unlisted = sorted(named - listed)
    missing_cards = sorted(
        str(r.get("model_id")) for r in rows if isinstance(r, dict) and not r.get("card_included")
    )
    for name in sorted(n for n in members if n.startswith(MODELS_DIR) and n.endswith("/card.json")):
        folder_sha = name[len(MODELS_DIR) :].split("/")[0]
        try:
            stated = _json_object(members[name], name).get("model_sha256")
        except PackUnreadable as exc:
            report.add("model cards", False, str(exc))
            return
        if stated != folder_sha:
            report.add(
                "model cards",
                False,
                f"{name} states model file {stated!r}, not the {folder_sha} it is filed under",
            )
            return
    message = f"{len(listed)} model version(s) listed"
    if missing_cards:
        message += f"; no card included for {', '.join(missing_cards)} (not loaded at export)"
    report.add(
        "model cards",
        not unlisted,
        f"model file(s) {', '.join(unlisted)} named by entries are not listed in the manifest"
        if unlisted
        else message,
    )
