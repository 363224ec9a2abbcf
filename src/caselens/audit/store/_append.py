"""The append path of the trail: one transaction under the write lock per batch, the
chain sealed entry by entry, checkpoints to the file and the witness, key rotation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    insert,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit.chain import GENESIS_HASH, seal
from caselens.audit.checkpoints import (
    CHECKPOINT_EVERY,
    Checkpoint,
    append_checkpoint,
    sign_checkpoint,
)
from caselens.audit.errors import (
    AuditError,
    AuditKeyError,
    AuditWriteError,
)
from caselens.audit.keys import key_id
from caselens.audit.records import (
    ENTRY_FIELDS,
    AuditEntry,
    AuditEvent,
    canonical_json,
)
from caselens.audit.store._engines import PG_LOCK_ID, reason
from caselens.audit.store.tables import KEY_ROTATED, entries_table
from caselens.audit.witness import Witness

BULK_CHUNK = 5000


class Appending:
    """Writing the trail (a part of :class:`~caselens.audit.store.AuditStore`)."""

    # Set by AuditStore.__init__ (caselens.audit.store.trail).
    _engine: Engine
    _key: bytes
    _clock: Callable[[], str]
    _sqlite: bool
    _retired: dict[str, bytes]
    checkpoint_file: Path | None
    witness: Witness | None
    key_registry: Path | None
    _owed_to_witness: Checkpoint | None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction holding the trail's write lock."""
        with self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(caselens_write=True)
            with conn.begin():
                if not self._sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_ID})
                yield conn

    def append(
        self,
        event: AuditEvent,
        *,
        alongside: Callable[[Connection, AuditEntry], None] | None = None,
    ) -> AuditEntry:
        """Record one event as the next entry, durably, in one transaction.

        Parameters
        ----------
        event : AuditEvent
            What happened.
        alongside : callable, optional
            Writes rows derived from this entry (e.g. the monitoring prediction log) with
            the connection of the same transaction: both are written, or neither.

        Returns
        -------
        AuditEntry
            The stored entry, with its sequence number, time, hash and HMAC.

        Raises
        ------
        AuditWriteError
            If it could not be written; then nothing was written.
        AuditEventError
            If the event's report or detail is not valid JSON.
        """
        prepared = [(event, (event.report_text(), event.detail_text()))]
        return self._append_batch(prepared, alongside=alongside)[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditEntry]:
        """Record several events as consecutive entries, in one transaction per 5,000.

        The chain is the same as with ``append``; this is the bulk path (imports, benchmarks).

        Raises
        ------
        AuditWriteError
            If a batch could not be written; that batch wrote nothing.
        """
        # Canonicalise outside the lock, so other writers wait as little as possible.
        prepared = [(e, (e.report_text(), e.detail_text())) for e in events]
        written: list[AuditEntry] = []
        for start in range(0, len(prepared), BULK_CHUNK):
            written.extend(self._append_batch(prepared[start : start + BULK_CHUNK]))
        return written

    def _append_batch(
        self,
        batch: list[tuple[AuditEvent, tuple[str | None, str]]],
        *,
        alongside: Callable[[Connection, AuditEntry], None] | None = None,
    ) -> list[AuditEntry]:
        if self._owed_to_witness is not None:
            # Fail closed before writing: nothing is recorded while the witness lags.
            self.witness.record(self._owed_to_witness)  # type: ignore[union-attr]
            self._owed_to_witness = None
        try:
            with self._write() as conn:
                last = conn.execute(
                    select(
                        entries_table.c.seq, entries_table.c.entry_hash, entries_table.c.recorded_at
                    )
                    .order_by(entries_table.c.seq.desc())
                    .limit(1)
                ).first()
                seq, prev, last_time = (
                    (last[0], last[1], last[2]) if last else (0, GENESIS_HASH, "")
                )
                first_seq = seq
                self._check_signing_key(conn)
                # Time never goes backwards in the trail, even if the clock does; an entry
                # stamped at the previous entry's time because the clock was behind says so.
                now = self._clock()
                recorded_at = max(now, last_time)
                entries = []
                for event_, texts in batch:
                    seq += 1
                    if now < last_time:
                        texts = (texts[0], with_clock_note(texts[1], now))
                    entry = seal(
                        event_,
                        seq=seq,
                        prev_hash=prev,
                        recorded_at=recorded_at,
                        key=self._key,
                        texts=texts,
                    )
                    entries.append(entry)
                    prev = entry.entry_hash
                conn.execute(
                    insert(entries_table),
                    [{f: getattr(e, f) for f in ENTRY_FIELDS} for e in entries],
                )
                if alongside is not None:
                    for entry in entries:
                        alongside(conn, entry)
            # Also after the very first entry: from then on, a lost trail is known to have
            # existed (``open_trail`` refuses to start an empty one in its place).
            if self._checkpointing and (
                first_seq == 0 or first_seq // CHECKPOINT_EVERY != seq // CHECKPOINT_EVERY
            ):
                self._write_checkpoint(seq, prev)
        except (SQLAlchemyError, OSError) as exc:
            raise AuditWriteError(f"The audit entry could not be recorded: {reason(exc)}") from exc
        return entries

    def _check_signing_key(self, conn: Connection) -> None:
        """Refuse to sign with a key other than the one the trail's last rotation named."""
        row = conn.execute(
            select(entries_table.c.detail_json)
            .where(entries_table.c.action == KEY_ROTATED)
            .order_by(entries_table.c.seq.desc())
            .limit(1)
        ).first()
        if row is not None and json.loads(row[0]).get("to_key") != self.key_id:
            raise AuditKeyError(
                "the trail's signing key was rotated to key "
                f"{json.loads(row[0]).get('to_key')}, but this server signs with key "
                f"{self.key_id}; restart it with the current key"
            )

    def rotate_key(self, new_key: bytes) -> AuditEntry:
        """Record a key change, signed with the current key, then sign with ``new_key``.

        The ``key_rotated`` entry names both key ids; verification uses it to know which
        key signed which entries. Keep the old key (``keys.retire_and_replace_key``): the
        entries it signed can only be verified with it.
        """
        if len(new_key) < 16:
            raise AuditKeyError("the new audit key must be at least 16 bytes")
        if key_id(new_key) == self.key_id:
            raise AuditKeyError("the new audit key is the key in use: a rotation needs a new key")
        entry = self.append(
            AuditEvent(
                actor_id="system",
                actor_name="CaseLens",
                actor_role="system",
                audience="system",
                action=KEY_ROTATED,
                detail={"from_key": self.key_id, "to_key": key_id(new_key)},
            )
        )
        self._retired[self.key_id] = self._key
        self._key = new_key
        if self._checkpointing:
            # Pin the rotation in the checkpoints and the witness at once: a later rewrite
            # from the rotation on (with the retired key) no longer matches them.
            self._write_checkpoint(entry.seq, entry.entry_hash)
        return entry

    @property
    def _checkpointing(self) -> bool:
        return self.checkpoint_file is not None or self.witness is not None

    def _write_checkpoint(self, count: int, head_hash: str, *, strict: bool = False) -> Checkpoint:
        """Sign a checkpoint; append it to the checkpoint file and to the witness.

        A witness that cannot be written after an append leaves the checkpoint owed (the
        next append writes it first, or fails closed); with ``strict`` it is an error now.
        """
        checkpoint = sign_checkpoint(
            count, head_hash, self._clock(), key=self._key, key_id=self.key_id
        )
        if self.checkpoint_file is not None:
            try:
                append_checkpoint(self.checkpoint_file, checkpoint)
            except OSError as exc:
                raise AuditWriteError(f"The audit checkpoint could not be written: {exc}") from exc
        if self.witness is not None:
            try:
                self.witness.record(checkpoint)
                self._owed_to_witness = None
            except AuditWriteError:
                self._owed_to_witness = checkpoint
                if strict:
                    raise
        return checkpoint

    def checkpoint(self) -> Checkpoint:
        """Write a signed checkpoint of the current head now (``caselens audit checkpoint``),
        to the checkpoint file and the witness.

        Raises
        ------
        AuditWriteError
            If either could not be written.
        """
        if not self._checkpointing:
            raise AuditError("no checkpoint file or witness is configured for this trail")
        count, head_hash = self.head()
        return self._write_checkpoint(count, head_hash, strict=True)


def with_clock_note(detail_text: str, clock: str) -> str:
    """The details with a note that the clock read ``clock``, behind the trail's last time."""
    detail = json.loads(detail_text)
    detail["clock_behind_trail"] = clock
    return canonical_json(detail)
