"""Signed checkpoints of the trail, kept outside the database.

A hash chain alone cannot notice that its newest entries were deleted, or that the whole
database was restored from an older copy: the remaining prefix is a valid chain. A
checkpoint records ``(entry count, head hash, time, key id)`` with an HMAC under the server
key, in a file **outside** the database (``CASELENS_AUDIT_CHECKPOINTS``; by default
``<data dir>/audit.checkpoints.jsonl``). ``caselens audit verify`` reads every checkpoint and
reports a trail that is shorter than one (a deleted tail or a rollback) or whose entry at a
checkpointed count has another hash (a replaced history).

Checkpoints are written on a schedule — after the first entry and every
:data:`CHECKPOINT_EVERY` entries by the store itself — and on demand (``caselens audit
checkpoint``). Each one also goes to the witness (``audit.witness``), which the trail's host
should not be able to rewrite. The file is append-only JSON lines (see ``docs/audit_model.md``).
"""

from __future__ import annotations

import hmac as _hmac
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from caselens.audit.errors import AuditError
from caselens.settings import environment

CHECKPOINTS_ENV = "CASELENS_AUDIT_CHECKPOINTS"
CHECKPOINTS_FILE = "audit.checkpoints.jsonl"
#: The store writes a checkpoint after every this many entries (and after the first entry).
CHECKPOINT_EVERY = 100
#: Longest checkpoint line read (a line is about 250 bytes).
MAX_LINE_BYTES = 4096
_PREFIX = b"caselens.audit.checkpoint.v1\x00"


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: the trail held ``count`` entries ending in ``head_hash``."""

    count: int
    head_hash: str
    recorded_at: str
    key_id: str
    hmac: str

    def signed_text(self) -> bytes:
        """The bytes the HMAC covers."""
        return _PREFIX + f"{self.count}:{self.head_hash}:{self.recorded_at}:{self.key_id}".encode()


def sign_checkpoint(
    count: int, head_hash: str, recorded_at: str, *, key: bytes, key_id: str
) -> Checkpoint:
    """A checkpoint of ``(count, head_hash)`` signed with the server key."""
    unsigned = Checkpoint(count, head_hash, recorded_at, key_id, "")
    mac = _hmac.digest(key, unsigned.signed_text(), "sha256").hex()
    return Checkpoint(count, head_hash, recorded_at, key_id, mac)


def checkpoint_signed(checkpoint: Checkpoint, keys: Mapping[str, bytes]) -> bool:
    """Whether the checkpoint's HMAC is that of the key it names (held by this server)."""
    key = keys.get(checkpoint.key_id)
    if key is None:
        return False
    expected = _hmac.digest(key, checkpoint.signed_text(), "sha256").hex()
    return _hmac.compare_digest(expected, checkpoint.hmac)


def default_checkpoint_file(env: Mapping[str, str] | None = None) -> Path:
    """``CASELENS_AUDIT_CHECKPOINTS``, else ``<data dir>/audit.checkpoints.jsonl``."""
    env = environment() if env is None else env
    if env.get(CHECKPOINTS_ENV):
        return Path(env[CHECKPOINTS_ENV])
    return Path(env.get("CASELENS_DATA_DIR", ".caselens-data")) / CHECKPOINTS_FILE


def append_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    """Append one checkpoint line, durably (the file is created owner-only)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = json.dumps(asdict(checkpoint), sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoints(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first ([] when there is no file).

    Raises
    ------
    AuditError
        Naming the line that is not a checkpoint (a damaged file is reported, not skipped).
    """
    file = Path(path)
    if not file.is_file():
        return []
    out = []
    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                if len(raw) > MAX_LINE_BYTES:
                    raise ValueError("line too long")
                data = json.loads(raw)
                out.append(
                    Checkpoint(
                        count=int(data["count"]),
                        head_hash=str(data["head_hash"]),
                        recorded_at=str(data["recorded_at"]),
                        key_id=str(data["key_id"]),
                        hmac=str(data["hmac"]),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(
                    f"checkpoint file {file}, line {number}: not a checkpoint ({exc})"
                ) from exc
    return out
