"""Signed case report files: the signature line, and "is this report genuine?".

The convention (shared by every signed file CaseLens writes): an HTML file ends with
``</html>\\n`` and then exactly one line ``<!--caselens-signature:v1 BASE64URL-JSON-->\\n``; a
PDF ends with ``%%EOF\\n`` and then ``%caselens-signature:v1 BASE64URL-JSON\\n`` (PDF readers
ignore it). The body is every byte before that line. The JSON holds the Ed25519 signature (by
the server's key, :mod:`caselens.audit.signing_keys`) over ``canonical_json(signed)``, where
``signed`` names the file's kind and audience, the SHA-256 of the body and of each checkable
part (:mod:`caselens.export.file_parts`), the report id, the display entry (number and hash)
and the model.

:func:`verify_report_file` reads an untrusted file and says exactly one thing: genuine and
equal to entry N of this trail; altered (which part); signed by an unknown or revoked key;
not in this trail; or not a signed CaseLens report at all.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from caselens.audit import AuditEntry, AuditError, AuditStore
from caselens.audit.signing_keys import KeyRing, SigningKey
from caselens.explain.report import CaseReport, canonical_json
from caselens.export.file_parts import (
    PART_WORDS,
    FileKind,
    embedded_report_text,
    file_parts,
    sha256_hex,
)
from caselens.export.stamp import ExportStamp

#: Largest file verified: a case report is well under 2 MB; beyond 25 MB it is not one.
MAX_REPORT_FILE_BYTES = 25 * 1024 * 1024
#: Longest signature line read: the JSON is under 2 KB; anything far longer is not ours.
MAX_SIGNATURE_LINE_BYTES = 16 * 1024
#: Largest entry number a trail can hold (a signed 64-bit integer).
MAX_ENTRY_SEQ = 2**63 - 1
SIGNATURE_VERSION = 1
SIGNATURE_ALG = "Ed25519"

_HTML_OPEN, _HTML_CLOSE = b"<!--caselens-signature:v1 ", b"-->"
_PDF_OPEN = b"%caselens-signature:v1 "
#: How each kind of body must end (the signature line follows it).
BODY_ENDS: dict[str, bytes] = {"html": b"</html>\n", "pdf": b"%%EOF\n"}
#: Fields ``signed`` must carry, with their JSON type.
_SIGNED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "file_kind": str,
    "audience": str,
    "body_sha256": str,
    "parts": dict,
    "report_id": str,
    "entry_seq": int,
    "entry_hash": str,
    "model_id": str,
    "model_version": str,
    "model_sha256": str,
    "caselens_version": str,
    "signed_at": str,
}

Outcome = Literal["genuine", "altered", "unknown_key", "revoked_key", "not_in_trail", "unreadable"]


@dataclass(frozen=True)
class SigningInput:
    """What a signature covers besides the body (see the signed-file convention): the file's
    kind and audience, its page stamp, and the display entry with its report."""

    file_kind: FileKind
    audience: str
    stamp: ExportStamp
    report_json: str
    report: CaseReport
    display: AuditEntry


class SignatureError(ValueError):
    """A file cannot be signed as asked (its body does not fit the convention)."""


@dataclass(frozen=True)
class FileSignature:
    """The signature line of a file, decoded (not yet checked)."""

    file_kind: FileKind
    body: bytes
    key_id: str
    signature: bytes
    signed: dict[str, Any]


@dataclass(frozen=True)
class ReportVerdict:
    """What a verification of a report file found: one outcome, one sentence."""

    outcome: Outcome
    sentence: str
    file_sha256: str
    entry_seq: int | None = None
    key_id: str | None = None
    key_standing: str | None = None
    altered_parts: tuple[str, ...] = ()
    file_kind: str | None = None
    report_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def genuine(self) -> bool:
        """Whether the file is genuine and equal to an entry of this trail."""
        return self.outcome == "genuine"

    def record_detail(self) -> dict[str, Any]:
        """What the trail keeps about this verification."""
        detail: dict[str, Any] = {
            "verdict": self.outcome,
            "sentence": self.sentence[:500],
            "file_sha256": self.file_sha256,
        }
        for name in ("entry_seq", "key_id", "key_standing", "file_kind", "report_id"):
            value = getattr(self, name)
            if value is not None:
                detail[name] = value
        if self.altered_parts:
            detail["altered_parts"] = list(self.altered_parts)
        return detail


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _caselens_version(report: CaseReport) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("caselens")
    except PackageNotFoundError:  # running from a source tree
        return report.provenance.caselens_version


def _normalised_body(body: bytes, file_kind: FileKind) -> bytes:
    end = BODY_ENDS[file_kind]
    if body.endswith(end):
        return body
    if body.endswith(end.rstrip(b"\n")):
        return body + b"\n"
    raise SignatureError(f"a {file_kind.upper()} export must end with {end.decode().strip()}")


def sign_report_file(
    body: bytes,
    *,
    file_kind: FileKind,
    audience: str,
    report: CaseReport,
    entry: AuditEntry,
    key: SigningKey,
    signed_at: dt.datetime | None = None,
) -> bytes:
    """``body`` with its signature line: Ed25519 by ``key`` over the file's parts, the report
    and the display ``entry`` that holds it.

    Raises
    ------
    SignatureError
        When the body does not end as its kind must, or does not embed exactly ``report``.
    """
    if file_kind not in BODY_ENDS:
        raise SignatureError(f"file kind: expected 'html' or 'pdf', got {file_kind!r}")
    body = _normalised_body(body, file_kind)
    embedded = embedded_report_text(body, file_kind)
    if embedded is None or json.loads(embedded) != json.loads(report.to_json()):
        raise SignatureError("the file does not embed this report's canonical JSON")
    moment = (signed_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    signed = {
        "file_kind": file_kind,
        "audience": audience,
        "body_sha256": sha256_hex(body),
        "parts": file_parts(body, file_kind),
        "report_id": report.report_id,
        "entry_seq": entry.seq,
        "entry_hash": entry.entry_hash,
        "model_id": report.model.model_id,
        "model_version": report.model.version,
        "model_sha256": report.model.sha256,
        "caselens_version": _caselens_version(report),
        "signed_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    block = {
        "v": SIGNATURE_VERSION,
        "alg": SIGNATURE_ALG,
        "key_id": key.key_id,
        "signature": _b64(key.sign(canonical_json(signed).encode("utf-8"))),
        "signed": signed,
    }
    token = _b64(canonical_json(block).encode("utf-8")).encode("ascii")
    line = _HTML_OPEN + token + _HTML_CLOSE if file_kind == "html" else _PDF_OPEN + token
    return body + line + b"\n"


def sign_exported_file(body: bytes, what: SigningInput, *, key: SigningKey) -> bytes:
    """The file as it leaves CaseLens: ``body`` followed by its signature line, by the
    server's ``key``, over the canonical report and the display entry's hash."""
    return sign_report_file(
        body,
        file_kind=what.file_kind,
        audience=what.audience,
        report=what.report,
        entry=what.display,
        key=key,
    )


def _split(data: bytes) -> tuple[FileKind, bytes, bytes] | str:
    """(kind, body, token) of a signed file, or a sentence saying why it has no signature."""
    if not data.endswith(b"\n"):
        return "its last line is not a CaseLens signature"
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    line = data[start:-1]
    body = data[:start]
    if len(line) > MAX_SIGNATURE_LINE_BYTES:
        return "its last line is not a CaseLens signature"
    if line.startswith(_HTML_OPEN) and line.endswith(_HTML_CLOSE):
        return "html", body, line[len(_HTML_OPEN) : -len(_HTML_CLOSE)]
    if line.startswith(_PDF_OPEN):
        return "pdf", body, line[len(_PDF_OPEN) :]
    return "its last line is not a CaseLens signature"


def read_signature(data: bytes) -> FileSignature:
    """The decoded signature line of ``data``.

    Raises
    ------
    SignatureError
        Naming what is wrong when the file has no well-formed signature line.
    """
    split = _split(data)
    if isinstance(split, str):
        raise SignatureError(split)
    kind, body, token = split
    try:
        block = json.loads(_unb64(token.decode("ascii")))
        signature = _unb64(block["signature"])
        key_id, signed = block["key_id"], block["signed"]
        ok = (
            block.get("v") == SIGNATURE_VERSION
            and block.get("alg") == SIGNATURE_ALG
            and isinstance(key_id, str)
            and isinstance(signed, dict)
        )
    except (ValueError, UnicodeDecodeError, binascii.Error, KeyError, TypeError, RecursionError):
        raise SignatureError("its signature line cannot be decoded") from None
    if not ok:
        raise SignatureError("its signature line is not a CaseLens v1 Ed25519 signature")
    for name, kind_of in _SIGNED_FIELDS.items():  # every claim typed before any is used
        value = signed.get(name)
        if not isinstance(value, kind_of) or isinstance(value, bool):
            raise SignatureError(f"its signature line lacks a valid '{name}'")
    if not 1 <= signed["entry_seq"] <= MAX_ENTRY_SEQ:
        raise SignatureError("its signature line names no possible entry number")
    if signed["file_kind"] != kind:
        raise SignatureError(f"its signature is for a {signed['file_kind']} file, not {kind}")
    return FileSignature(kind, body, key_id, signature, signed)


def _describe(parts: tuple[str, ...]) -> str:
    words = [PART_WORDS.get(p, "bytes outside any named part") for p in parts]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def verify_report_file(data: bytes, *, trail: AuditStore, ring: KeyRing) -> ReportVerdict:
    """Say whether ``data`` is a genuine signed report of ``trail`` (never raises on any input).

    The key is checked first (an unknown or revoked key makes every other claim worthless),
    then each signed part against the body, then the display entry in this trail.
    """
    digest = sha256_hex(data[:MAX_REPORT_FILE_BYTES])
    if len(data) > MAX_REPORT_FILE_BYTES:
        return ReportVerdict(
            "unreadable",
            f"This file is larger than {MAX_REPORT_FILE_BYTES:,} bytes, the most a CaseLens "
            "report file can be, so it is not one.",
            sha256_hex(data),
        )
    if not data:
        return ReportVerdict("unreadable", "This file is empty: it is not a report.", digest)
    try:
        sig = read_signature(data)
    except SignatureError as exc:
        return ReportVerdict(
            "altered",
            f"Not a genuine CaseLens report: {exc}. Either it was never signed, or the "
            "signature block was removed or altered.",
            digest,
            altered_parts=("signature",),
        )
    signed = sig.signed
    seq = signed["entry_seq"]
    common: dict[str, Any] = {
        "file_sha256": digest,
        "entry_seq": seq,
        "key_id": sig.key_id,
        "file_kind": sig.file_kind,
        "report_id": signed["report_id"],
    }
    message = canonical_json(signed).encode("utf-8")
    key = ring.verify(sig.key_id, sig.signature, message)
    if key.standing == "revoked":
        sentence = f"Not trusted: this file is {key.reason}; nothing it claims can be relied on."
        return ReportVerdict("revoked_key", sentence, key_standing="revoked", **common)
    if key.standing in ("unknown", "trusted"):
        sentence = (
            f"Not trusted: this file is signed by key {sig.key_id}, which is not a report "
            "key of this CaseLens (current or retired). It may come from another CaseLens."
        )
        return ReportVerdict("unknown_key", sentence, key_standing=key.standing, **common)
    if not key.valid:
        sentence = (
            "Altered: the signature block itself was changed (its signature does not match "
            f"what it says was signed by key {sig.key_id})."
        )
        return ReportVerdict(
            "altered", sentence, key_standing=key.standing, altered_parts=("signature",), **common
        )
    actual = file_parts(sig.body, sig.file_kind)
    signed_parts = signed["parts"]
    changed = tuple(name for name in sorted(signed_parts) if actual.get(name) != signed_parts[name])
    if changed or sha256_hex(sig.body) != signed["body_sha256"]:
        parts = changed or ("outside",)
        sentence = (
            f"Altered after it was signed: {_describe(parts)} changed, so this is not the "
            "file CaseLens exported."
        )
        return ReportVerdict(
            "altered", sentence, key_standing=key.standing, altered_parts=parts, **common
        )
    return _against_trail(sig, trail, key.standing, key.reason, common)


def _against_trail(
    sig: FileSignature,
    trail: AuditStore,
    standing: str,
    key_note: str,
    common: Mapping[str, Any],
) -> ReportVerdict:
    """The intact file against this trail's entry N."""
    seq = sig.signed["entry_seq"]
    foreign = "It comes from another CaseLens or another audit trail."
    try:
        entry = trail.get(seq)
        problem = trail.entry_problem(seq) if entry.entry_hash == sig.signed["entry_hash"] else None
    except AuditError:
        sentence = f"Not in this trail: this trail has no entry #{seq}. {foreign}"
        return ReportVerdict("not_in_trail", sentence, key_standing=standing, **common)
    except Exception as exc:
        sentence = f"The audit trail could not be read to check entry #{seq}: {exc}"
        return ReportVerdict("unreadable", sentence, key_standing=standing, **common)
    if entry.entry_hash != sig.signed["entry_hash"]:
        sentence = (
            f"Not in this trail: entry #{seq} of this trail is a different display. {foreign}"
        )
        return ReportVerdict("not_in_trail", sentence, key_standing=standing, **common)
    embedded = embedded_report_text(sig.body, sig.file_kind)
    try:
        same = entry.report_json is not None and json.loads(entry.report_json) == json.loads(
            embedded or "null"
        )
    except ValueError:
        same = False
    if problem is not None or not same:
        why = problem or "its report differs from the file's"
        sentence = (
            f"Entry #{seq} of this trail fails verification ({why}), so it cannot vouch for "
            "this file."
        )
        return ReportVerdict("not_in_trail", sentence, key_standing=standing, **common)
    sentence = (
        f"Genuine: this {sig.file_kind.upper()} ({sig.signed['audience']} version) is unaltered "
        f"and equal to entry #{seq} of this trail; {key_note}."
    )
    return ReportVerdict("genuine", sentence, key_standing=standing, **common)
