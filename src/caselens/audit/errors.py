"""Errors raised by the audit trail."""

from __future__ import annotations

from caselens.errors import CaseLensError

#: The reasons a chain can break, in the words ``ChainBroken.reason`` uses.
BREAK_REASONS = (
    "altered",
    "missing",
    "reordered",
    "inserted",
    "bad_signature",
    "truncated",
    "unknown_key",
    "checkpoint_mismatch",
    "bad_rotation",
    "unregistered_key",
    "after_retirement",
)


class AuditError(CaseLensError):
    """Base class for every audit-trail error."""


class AuditWriteError(AuditError):
    """An entry could not be recorded (disk full, database locked or down); nothing was written.

    The app must fail closed: "This result could not be recorded, so it is not shown".
    """


class AuditEventError(AuditWriteError):
    """An event was refused before writing: the message names the field.

    A subclass of ``AuditWriteError`` so that a caller failing closed on ``AuditWriteError``
    also withholds a result whose report could not be recorded (e.g. it holds NaN).
    """


class AuditKeyError(AuditError):
    """The server key is missing, malformed or readable by others."""


class AuditTrailMissing(AuditError):
    """The trail is missing or empty although its checkpoints or witness show it had entries.

    CaseLens refuses to start a new, empty trail in its place: the history would silently
    restart. The message names what recorded the entries and how to recover.
    """

    #: What a screen may say (no paths): what happened and who must act.
    for_users = (
        "The audit trail this server kept is missing, so CaseLens will not start a new one. "
        "An administrator must restore it; the server log says how."
    )


class ChainBroken(AuditError):
    """Verification found the first entry that is not as it was written.

    Parameters
    ----------
    seq : int
        The first position at which the trail differs from what was written.
    reason : str
        One of ``BREAK_REASONS``.
    expected, found : str
        The values compared (hashes, sequence numbers or times).
    """

    def __init__(self, seq: int, reason: str, expected: str, found: str) -> None:
        if reason not in BREAK_REASONS:
            raise ValueError(f"unknown break reason {reason!r}")
        self.seq = seq
        self.reason = reason
        self.expected = expected
        self.found = found
        super().__init__(f"entry {seq} is {_WORDS[reason]}: expected {expected}, found {found}")

    def __reduce__(self):  # keep the exception picklable across processes
        return (ChainBroken, (self.seq, self.reason, self.expected, self.found))


_WORDS = {
    "altered": "altered",
    "missing": "missing",
    "reordered": "out of order",
    "inserted": "inserted (never written by CaseLens)",
    "bad_signature": "not signed by the server key",
    "truncated": "missing: the trail was truncated",
    "unknown_key": "signed by a key this server does not hold (after a recorded key change)",
    "checkpoint_mismatch": "not the entry a signed checkpoint recorded (rolled back or replaced)",
    "bad_rotation": "a key rotation that is not valid (it must be signed by the key it retires "
    "and name another, registered key)",
    "unregistered_key": "signed by a key the operator has not registered "
    "(CASELENS_AUDIT_KEY_REGISTRY)",
    "after_retirement": "signed by a key after its registered retirement (a forged or moved "
    "rotation, or a rewritten history)",
}
