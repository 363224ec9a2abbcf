"""Hashing and signing of entries (pure functions, no storage).

Every hash CaseLens computes starts with its own prefix (domain separation), so a value made
for one purpose can never be passed off as another.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import json

from caselens.audit.records import AuditEntry, AuditEvent

GENESIS_HASH = "0" * 64
ENTRY_PREFIX = b"caselens.audit.entry.v1\x00"
HMAC_PREFIX = b"caselens.audit.hmac.v1\x00"
PSEUDONYM_PREFIX = b"caselens.audit.pseudonym.v1\x00"

_sha256 = hashlib.sha256
# One encoder reused for every entry: canonical JSON (compact, UTF-8 text). ``entry_bytes``
# writes its keys already sorted, so the encoder need not sort them again (verify speed).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def entry_bytes(
    seq: int,
    recorded_at: str,
    actor_id: str,
    actor_name: str,
    actor_role: str,
    audience: str,
    action: str,
    patient_ref: str | None,
    model_id: str | None,
    model_version: str | None,
    model_sha256: str | None,
    report_json: str | None,
    rendered_digest: str | None,
    session_id: str | None,
    detail_json: str,
    prev_hash: str,
) -> bytes:
    """The canonical byte encoding of an entry's hashed fields.

    Returns
    -------
    bytes
        ``ENTRY_PREFIX`` followed by the canonical JSON (UTF-8) of all fields but the hash and
        HMAC, the report text being replaced by its SHA-256 hex (``report_json_sha256``).
    """
    # Keys in sorted order: this dict literal is the canonical order (a test checks it).
    fields = {
        "action": action,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "actor_role": actor_role,
        "audience": audience,
        "detail_json": detail_json,
        "model_id": model_id,
        "model_sha256": model_sha256,
        "model_version": model_version,
        "patient_ref": patient_ref,
        "prev_hash": prev_hash,
        "recorded_at": recorded_at,
        "rendered_digest": rendered_digest,
        # The report enters through its own SHA-256: it binds the text just as firmly, and
        # hashing 5-10 KB is several times faster than JSON-escaping it (verify speed).
        "report_json_sha256": None
        if report_json is None
        else _sha256(report_json.encode("utf-8")).hexdigest(),
        "seq": seq,
        "session_id": session_id,
    }
    return ENTRY_PREFIX + _encode(fields).encode("utf-8")


def compute_entry_hash(*fields: object) -> str:
    """SHA-256 hex of ``entry_bytes(*fields)``; ``fields`` in ``HASHED_FIELDS`` order."""
    return _sha256(entry_bytes(*fields)).hexdigest()  # type: ignore[arg-type]


def hash_of(entry: AuditEntry) -> str:
    """Recompute an entry's hash from its content.

    Parameters
    ----------
    entry : AuditEntry
        The entry; its stored ``entry_hash`` and ``hmac`` are ignored.

    Returns
    -------
    str
        The SHA-256 hex the entry should carry.
    """
    return compute_entry_hash(
        entry.seq,
        entry.recorded_at,
        entry.actor_id,
        entry.actor_name,
        entry.actor_role,
        entry.audience,
        entry.action,
        entry.patient_ref,
        entry.model_id,
        entry.model_version,
        entry.model_sha256,
        entry.report_json,
        entry.rendered_digest,
        entry.session_id,
        entry.detail_json,
        entry.prev_hash,
    )


def sign(entry_hash: str, *, key: bytes) -> str:
    """HMAC-SHA256 hex of an entry hash under the server key.

    Examples
    --------
    >>> len(sign("00" * 32, key=b"k" * 32))
    64
    """
    return _hmac.digest(key, HMAC_PREFIX + bytes.fromhex(entry_hash), "sha256").hex()


def signature_ok(entry_hash: str, signature: str, *, key: bytes) -> bool:
    """Whether ``signature`` is the server key's HMAC of ``entry_hash`` (constant time)."""
    try:
        expected = sign(entry_hash, key=key)
    except ValueError:  # entry_hash is not hex: it cannot have been signed
        return False
    return _hmac.compare_digest(expected, signature)


def pseudonym(patient_ref: str, *, key: bytes) -> str:
    """A stable, keyed pseudonym for a patient reference (first 32 hex of an HMAC).

    Examples
    --------
    >>> pseudonym("P1", key=b"k" * 32) == pseudonym("P1", key=b"k" * 32)
    True
    """
    mac = _hmac.new(key, PSEUDONYM_PREFIX + patient_ref.encode("utf-8"), "sha256")
    return mac.hexdigest()[:32]


def seal(
    event: AuditEvent,
    *,
    seq: int,
    prev_hash: str,
    recorded_at: str,
    key: bytes,
    texts: tuple[str | None, str] | None = None,
) -> AuditEntry:
    """Turn an event into the entry stored at ``seq`` after ``prev_hash``: hash and sign it.

    Parameters
    ----------
    event : AuditEvent
        What happened.
    seq : int
        The position in the trail (head count + 1).
    prev_hash : str
        The head hash (``GENESIS_HASH`` for the first entry).
    recorded_at : str
        The time in the trail's format (``records.format_time``).
    key : bytes
        The server key.
    texts : (str or None, str), optional
        ``(event.report_text(), event.detail_text())`` when already computed.

    Returns
    -------
    AuditEntry
        The entry, ready to insert.
    """
    report_json, detail_json = texts if texts else (event.report_text(), event.detail_text())
    content = (
        seq,
        recorded_at,
        event.actor_id,
        event.actor_name,
        event.actor_role,
        event.audience,
        event.action,
        event.patient_ref,
        event.model_id,
        event.model_version,
        event.model_sha256,
        report_json,
        event.rendered_digest,
        event.session_id,
        detail_json,
        prev_hash,
    )
    entry_hash = compute_entry_hash(*content)
    return AuditEntry(*content, entry_hash, sign(entry_hash, key=key))  # type: ignore[arg-type]
