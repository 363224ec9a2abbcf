"""What callers supply (``AuditEvent``) and what the trail stores (``AuditEntry``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from caselens.audit.errors import AuditEventError

AUDIENCES = ("clinician", "patient", "reviewer", "admin", "model_owner", "system")

#: Actions the app uses today; others are accepted if they are a lower-case word.
KNOWN_ACTIONS = (
    "viewed",
    "patient_viewed",
    "previewed",
    "replayed",
    "exported",
    "verified",
    "feedback",
    "sign_in",
    "sign_in_refused",
    "access_refused",
    "model_suspended",
    "model_reinstated",
    "rerun",
    "signed_out",
    "user_added",
    "user_unlocked",
    "key_rotated",
    "checkpointed",
    "evidence_exported",
)

_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
# Limits keep a single row from filling the disk by mistake; a report is a few KB.
MAX_REPORT_CHARS = 8 * 1024 * 1024
MAX_DETAIL_CHARS = 64 * 1024


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` canonically: sorted keys, no whitespace, UTF-8 text, no NaN.

    Parameters
    ----------
    obj : Any
        A JSON-compatible value.

    Returns
    -------
    str
        The canonical JSON text.

    Raises
    ------
    ValueError
        If ``obj`` holds NaN or Infinity, or a value JSON cannot represent.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": "é"})
    '{"a":"é","b":1}'
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_time(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with milliseconds and ``Z``.

    Examples
    --------
    >>> format_time(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC))
    '2026-01-02T03:04:05.678Z'
    """
    if moment.tzinfo is None:
        raise AuditEventError("times must be timezone-aware (UTC)")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now() -> str:
    """The current UTC time in the trail's format."""
    return format_time(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event to record, as supplied by the app.

    Parameters
    ----------
    actor_id, actor_name, actor_role : str
        Who did it (a unique user id; ``cli``/``system`` for the tool itself).
    audience : str
        One of ``AUDIENCES``: the view the result was shown in.
    action : str
        What happened, a lower-case word such as ``viewed`` (see ``KNOWN_ACTIONS``).
    patient_ref, model_id, model_version, model_sha256 : str or None
        What the event concerns.
    report : Mapping or str or None
        The report shown, as a JSON object or its JSON text; stored canonically.
    rendered_digest : str or None
        SHA-256 hex of the rendered text.
    session_id : str or None
        The app session.
    detail : Mapping or None
        A small JSON object of event details (feedback text, filters, outcome).
    """

    actor_id: str
    actor_name: str
    actor_role: str
    audience: str
    action: str
    patient_ref: str | None = None
    model_id: str | None = None
    model_version: str | None = None
    model_sha256: str | None = None
    report: Mapping[str, Any] | str | None = None
    rendered_digest: str | None = None
    session_id: str | None = None
    detail: Mapping[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("actor_id", "actor_name", "actor_role"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise AuditEventError(f"{name} must be a non-empty string")
        if self.audience not in AUDIENCES:
            raise AuditEventError(
                f"audience must be one of {', '.join(AUDIENCES)}; got {self.audience!r}"
            )
        if not isinstance(self.action, str) or not _ACTION_RE.match(self.action):
            raise AuditEventError(
                f"action must be a lower-case word such as 'viewed'; got {self.action!r}"
            )
        for name in ("model_sha256", "rendered_digest"):
            value = getattr(self, name)
            if value is not None and not _HEX64_RE.match(value):
                raise AuditEventError(f"{name} must be 64 lower-case hex characters")

    def report_text(self) -> str | None:
        """The report as canonical JSON text, or None."""
        if self.report is None:
            return None
        try:
            obj = json.loads(self.report) if isinstance(self.report, str) else self.report
            if not isinstance(obj, Mapping):
                raise AuditEventError("report must be a JSON object")
            text = canonical_json(obj)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, AuditEventError):
                raise
            raise AuditEventError(f"report is not valid canonical JSON: {exc}") from exc
        if len(text) > MAX_REPORT_CHARS:
            raise AuditEventError(f"report is larger than {MAX_REPORT_CHARS} characters")
        return text

    def detail_text(self) -> str:
        """The details as canonical JSON text (``{}`` when there are none)."""
        try:
            text = canonical_json(dict(self.detail or {}))
        except (TypeError, ValueError) as exc:
            raise AuditEventError(f"detail is not valid JSON: {exc}") from exc
        if len(text) > MAX_DETAIL_CHARS:
            raise AuditEventError(f"detail is larger than {MAX_DETAIL_CHARS} characters")
        return text


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored entry of the trail; the field order is the column order.

    See ``docs/audit_model.md`` for the meaning of each field.
    """

    seq: int
    recorded_at: str
    actor_id: str
    actor_name: str
    actor_role: str
    audience: str
    action: str
    patient_ref: str | None
    model_id: str | None
    model_version: str | None
    model_sha256: str | None
    report_json: str | None
    rendered_digest: str | None
    session_id: str | None
    detail_json: str
    prev_hash: str
    entry_hash: str
    hmac: str

    def detail(self) -> dict[str, Any]:
        """The parsed ``detail_json``."""
        return json.loads(self.detail_json)


#: Column names in storage order.
ENTRY_FIELDS: tuple[str, ...] = AuditEntry.__slots__  # type: ignore[assignment]
#: The fields covered by the entry hash: all but the hash and its signature.
HASHED_FIELDS: tuple[str, ...] = ENTRY_FIELDS[:-2]
