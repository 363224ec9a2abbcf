"""Writing an evidence pack: a stretch of the trail an outside reviewer verifies offline.

The pack holds the entries of a range of UTC days (every field), the checkpoints that cover
them (and the first one after), the server's public signing keys, the audit key ids, the
model cards of every model version the entries name, a README with the procedure, and a
manifest of every file's SHA-256 and size signed with the server's Ed25519 key. It is built
in memory and deterministically: the same entries, cards and keys give the same bytes, except
the export time, which only the manifest holds. See ``docs/evidence-pack.md``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from caselens.audit.checkpoints import Checkpoint
from caselens.audit.evidence_format import (
    AUDIT_KEY_IDS,
    CHECKPOINTS,
    ENTRIES,
    MANIFEST,
    MANIFEST_SIG,
    MODELS_DIR,
    PACK_KIND,
    PACK_VERSION,
    README,
    SIGNING_KEYS_DIR,
    ZIP_TIME,
    day_bounds,
    entry_line,
    manifest_bytes,
)
from caselens.audit.records import AuditEntry
from caselens.audit.signing_keys import SigningKey, public_key_pem, signing_key_id


@dataclass(frozen=True)
class ModelCardFiles:
    """A model version the segment names, and its card files (empty when not available)."""

    model_id: str
    model_version: str | None
    model_sha256: str
    #: File name in the bundle folder (``card.json``, ``signature.json``) -> bytes.
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class EvidencePack:
    """A built pack: the zip bytes, their SHA-256 and the signed manifest."""

    data: bytes
    sha256: str
    manifest: dict[str, Any]


def covering_checkpoints(
    checkpoints: Sequence[Checkpoint], first_seq: int, last_seq: int
) -> list[Checkpoint]:
    """The checkpoints whose count falls in ``first_seq..last_seq`` and the first one after."""
    inside = [c for c in checkpoints if first_seq <= c.count <= last_seq]
    after = [c for c in checkpoints if c.count > last_seq]
    return inside + after[:1]


def build_evidence_pack(
    entries: Sequence[AuditEntry],
    *,
    first_day: date,
    last_day: date,
    checkpoints: Sequence[Checkpoint],
    signing_key: SigningKey,
    retired_public_keys: Mapping[str, Ed25519PublicKey],
    audit_key_ids: Mapping[str, Any],
    models: Sequence[ModelCardFiles],
    exported_at: str,
    caselens_version: str,
) -> EvidencePack:
    """Build the pack for ``entries`` (the whole range, in ``seq`` order, none missing).

    Parameters
    ----------
    entries : sequence of AuditEntry
        The segment: every entry recorded on the days ``first_day``..``last_day`` (UTC).
    checkpoints : sequence of Checkpoint
        The trail's checkpoints; those covering the segment are kept.
    signing_key : SigningKey
        The server's Ed25519 key: signs the manifest.
    retired_public_keys : mapping
        The server's retired public signing keys by key id.
    audit_key_ids : mapping
        ``{"current": id, "retired": [ids]}`` of the HMAC keys (ids only, never the keys).
    models : sequence of ModelCardFiles
        Every model version the entries name.
    exported_at : str
        The export time (UTC, the trail's format); only the manifest holds it.
    caselens_version : str

    Returns
    -------
    EvidencePack
    """
    if not entries:
        raise ValueError("an evidence pack needs at least one entry")
    since, until = day_bounds(first_day, last_day)
    files: dict[str, bytes] = {}
    files[ENTRIES] = b"".join(entry_line(asdict(e)) for e in entries)
    kept = covering_checkpoints(checkpoints, entries[0].seq, entries[-1].seq)
    files[CHECKPOINTS] = b"".join(manifest_bytes(asdict(c)) + b"\n" for c in kept)
    keys = {signing_key.key_id: signing_key.public_key, **retired_public_keys}
    for kid, public in sorted(keys.items()):
        files[f"{SIGNING_KEYS_DIR}{kid}.pub.pem"] = public_key_pem(public).encode("ascii")
    files[AUDIT_KEY_IDS] = manifest_bytes(dict(audit_key_ids)) + b"\n"
    model_rows = []
    for model in sorted(models, key=lambda m: (m.model_id, m.model_sha256)):
        names = {}
        for name, data in sorted(model.files.items()):
            path = f"{MODELS_DIR}{model.model_sha256}/{name}"
            files[path] = data
            names[name] = path
        model_rows.append(
            {
                "model_id": model.model_id,
                "model_version": model.model_version,
                "model_sha256": model.model_sha256,
                "files": names,
                "card_included": "card.json" in names,
            }
        )
    files[README] = readme_text(signing_key.key_id).encode("utf-8")
    manifest = {
        "kind": PACK_KIND,
        "v": PACK_VERSION,
        "range": {
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "since": since,
            "until": until,
        },
        "entries": {
            "count": len(entries),
            "first_seq": entries[0].seq,
            "last_seq": entries[-1].seq,
            "first_prev_hash": entries[0].prev_hash,
            "last_entry_hash": entries[-1].entry_hash,
        },
        "checkpoints": len(kept),
        "models": model_rows,
        "signing_key_id": signing_key.key_id,
        "signing_key_ids_included": sorted(keys),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        },
        "exported_at": exported_at,
        "caselens_version": caselens_version,
    }
    if signing_key_id(signing_key.public_key) != signing_key.key_id:
        raise ValueError("the signing key's id is not the id of its public key")
    signed = manifest_bytes(manifest)
    files[MANIFEST] = signed
    files[MANIFEST_SIG] = signing_key.sign(signed)
    data = write_zip(files)
    return EvidencePack(data, hashlib.sha256(data).hexdigest(), manifest)


def write_zip(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` in sorted name order, every member at the fixed time ``ZIP_TIME``
    and mode 0644, deflated: the same files give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix: the mode above is read as such on every host
            archive.writestr(info, files[name], compresslevel=6)
    return buffer.getvalue()


def readme_text(key_id: str) -> str:
    """The verification procedure, in plain steps (also in ``docs/evidence-pack.md``)."""
    return f"""CaseLens evidence pack
======================

This zip is a stretch of a CaseLens audit trail, exported by the server whose Ed25519
signing key has id {key_id}. Compare that id with the one the operator published to you
out of band (the id is the first 16 hex digits of SHA-256 over the raw 32-byte public key).

Files
-----
manifest.json            every other file's SHA-256 and size, the date range, the entry
                         numbers, the first entry's previous hash, the export time
manifest.sig             raw 64-byte Ed25519 signature over the exact bytes of manifest.json
trail/entries.jsonl      the entries, one JSON object per line, every stored field
trail/checkpoints.jsonl  the trail's checkpoints that fall inside the segment and the first after
keys/signing/*.pub.pem   the server's public signing keys (current and retired)
keys/audit-key-ids.json  ids of the HMAC keys that signed the entries (the keys stay secret)
models/<sha256>/         the model card (card.json) of each model version the entries name,
                         with the bundle's signature.json when it has one

Verify with CaseLens:   caselens audit verify-pack PACK.zip --public-key PUBLISHED.pub.pem

Verify by hand
--------------
1. openssl pkeyutl -verify -pubin -inkey PUBLISHED.pub.pem -rawin \\
       -in manifest.json -sigfile manifest.sig
   must print "Signature Verified Successfully".
2. For each file in manifest.json's "files": sha256sum FILE equals its "sha256".
3. For each line of trail/entries.jsonl: entry_hash = SHA-256 of the bytes
   "caselens.audit.entry.v1" + a NUL byte + the compact JSON (keys sorted, UTF-8) of every
   field except entry_hash and hmac, with report_json replaced by "report_json_sha256"
   (the SHA-256 hex of the report text, or null). seq goes up by one; each prev_hash is
   the previous line's entry_hash; the first prev_hash equals manifest "first_prev_hash".
4. A checkpoint whose count is inside the segment must state that entry's entry_hash.

What this proves, and what it does not
--------------------------------------
Proves: these are the bytes this server exported and signed (if the key is the published
one); no entry in the segment was changed, removed, inserted or reordered after it was
written, as far as the chain and the checkpoints show.
Does not prove: the HMACs (they need the server's secret key, which never leaves it); that
entries before or after the segment are intact; that the server wrote truthfully at the time.
"""
