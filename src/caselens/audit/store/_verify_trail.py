"""Verifying the whole trail: the chain with every key that signed it, the key rotations
against the operator's registry, then the signed checkpoints and the witness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Engine,
    select,
)

from caselens.audit.checkpoints import (
    Checkpoint,
    checkpoint_signed,
    read_checkpoints,
)
from caselens.audit.errors import (
    AuditWriteError,
    ChainBroken,
)
from caselens.audit.records import (
    format_time,
)
from caselens.audit.registry import KeyRegistry, check_rotations, read_registry
from caselens.audit.store.tables import entries_table
from caselens.audit.verify import KeyRing, VerifyResult, verify_quietly
from caselens.audit.witness import Witness

#: How far ahead of this server's clock an entry may be stamped before verify flags it.
FUTURE_ALLOWANCE = timedelta(minutes=5)


class Verifying:
    """Verifying the trail (a part of :class:`~caselens.audit.store.AuditStore`)."""

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

    def verify(self, *, expected_head: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the whole trail (``verify.verify_chain``) with every key that signed it, check
        its key rotations against the operator's registry, then compare it with the signed
        checkpoints and the witness; any problem is in ``broken``, findings that do not break
        the chain (time in the future, key changes) in ``warnings``, the witness comparison in
        words in ``witness`` (and ``witness_problem`` when the witness could not be read)."""
        ring = self.keyring()
        registry = self.read_key_registry()
        if len(ring.segments) == 1 and registry is not None:
            # A trail with no rotation at all was signed by one key: by the registry's first
            # key when the operator registered one, so that a retired key signing on after
            # its rotation was deleted is named as such (not as a bad signature at entry 1).
            first = next((k.key_id for k in registry.keys.values() if k.first_seq == 1), None)
            if first is not None:
                ring = KeyRing(keys=ring.keys, segments=((1, first),))
        result = verify_quietly(self.iter_entries(), key=ring, expected_head=expected_head)
        warnings = [
            f"the signing key changed at entry {start - 1} (to key {kid})"
            for start, kid in ring.segments[1:]
        ]
        warnings += self._future_entries()
        broken = result.broken
        if broken is None and (registry is not None or len(ring.segments) > 1):
            broken = check_rotations(
                self._rotations(),
                first_key=ring.segments[0][1],
                count=result.count,
                registry=registry,
            )
        file_signed: list[Checkpoint] = []
        if broken is None and self.checkpoint_file is not None:
            in_file = read_checkpoints(self.checkpoint_file)
            broken, notes, file_signed = self._compare(in_file, result.count, ring, "checkpoint")
            warnings += notes
        witness, problem = "", None
        if broken is None and self.witness is not None:
            broken, notes, witness, problem = self._check_witness(result.count, ring, file_signed)
            warnings += notes
        return VerifyResult(
            result.count,
            result.head_hash,
            broken,
            result.seconds,
            tuple(warnings),
            witness=witness,
            witness_problem=problem,
        )

    def read_key_registry(self) -> KeyRegistry | None:
        """The operator's key registry (``audit.registry``), or None when none is configured."""
        if self.key_registry is None:
            return None
        if not self.key_registry.exists():
            # Configured before any rotation was registered: nothing is registered yet.
            return KeyRegistry({}, f"the key registry {self.key_registry} (no such file yet)")
        return read_registry(self.key_registry)

    def _future_entries(self) -> list[str]:
        limit = format_time(datetime.now(UTC) + FUTURE_ALLOWANCE)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(entries_table.c.seq, entries_table.c.recorded_at)
                .where(entries_table.c.recorded_at > limit)
                .order_by(entries_table.c.seq)
                .limit(1)
            ).first()
        if row is None:
            return []
        return [
            f"entry {row[0]} and later are stamped in the future ({row[1]}): the server "
            "clock jumped forward; times from there on are not trustworthy"
        ]

    def _compare(
        self, checkpoints: Iterable[Checkpoint], count: int, ring: KeyRing, source: str
    ) -> tuple[ChainBroken | None, list[str], list[Checkpoint]]:
        """Compare the trail with signed checkpoints (a deleted tail, a rollback, a replaced
        history); unsigned ones are noted and ignored. Returns the break, the notes and the
        checkpoints that were signed by a key this server holds."""
        notes: list[str] = []
        signed = []
        for checkpoint in checkpoints:
            if checkpoint_signed(checkpoint, ring.keys):
                signed.append(checkpoint)
            else:
                notes.append(
                    f"{source} of {checkpoint.count} entries at {checkpoint.recorded_at} is "
                    "not signed by a key this server holds: ignored"
                )
        if not signed:
            return None, notes, signed
        longest = max(signed, key=lambda c: c.count)
        if longest.count > count:
            return (
                ChainBroken(
                    count + 1,
                    "truncated",
                    f"{longest.count} entries ({source} of {longest.recorded_at})",
                    f"{count} entries",
                ),
                notes,
                signed,
            )
        wanted = sorted({c.count for c in signed if c.count > 0})
        hashes: dict[int, str] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                hashes.update(
                    conn.execute(
                        select(entries_table.c.seq, entries_table.c.entry_hash).where(
                            entries_table.c.seq.in_(chunk)
                        )
                    ).all()
                )
        for checkpoint in sorted(signed, key=lambda c: c.count):
            if checkpoint.count and hashes.get(checkpoint.count) != checkpoint.head_hash:
                return (
                    ChainBroken(
                        checkpoint.count,
                        "checkpoint_mismatch",
                        f"{checkpoint.head_hash} ({source} of {checkpoint.recorded_at})",
                        str(hashes.get(checkpoint.count)),
                    ),
                    notes,
                    signed,
                )
        return None, notes, signed

    def _check_witness(
        self, count: int, ring: KeyRing, file_signed: list[Checkpoint]
    ) -> tuple[ChainBroken | None, list[str], str, str | None]:
        """Compare the trail with the witness: the break, notes, the comparison in words,
        and why it could not be made (the witness could not be read)."""
        assert self.witness is not None
        name = f"Witness ({self.witness.description})"
        try:
            held = self.witness.read()
        except AuditWriteError as exc:
            return None, [], f"{name}: not compared, it could not be read.", str(exc)
        received = {w.checkpoint: w.witnessed_at for w in held}
        broken, notes, signed = self._compare(
            [w.checkpoint for w in held], count, ring, "witness checkpoint"
        )
        if self._owed_to_witness is not None:
            notes.append(
                f"the checkpoint of {self._owed_to_witness.count} entries has not reached "
                "the witness yet (it could not be written)"
            )
        newest_in_file = max((c.count for c in file_signed), default=0)
        newest = max(signed, key=lambda c: c.count) if signed else None
        if newest_in_file > (newest.count if newest else 0):
            notes.append(
                f"the checkpoint file records {newest_in_file} entries but the witness only "
                f"{newest.count if newest else 0}: the witness missed checkpoints (it was "
                "down, replaced or set up after them)"
            )
        if broken is not None:
            sentence = (
                f"{name}: the trail does not match it — the witness recorded "
                f"{broken.expected}, the trail has {broken.found}."
            )
        elif newest is None and count == 0:
            sentence = f"{name}: holds no checkpoint, and the trail is empty."
        elif newest is None:
            sentence = (
                f"{name}: holds no checkpoint signed by a key this server holds, although the "
                f"trail has {entries_text(count)}: the witness was replaced, or set up after the "
                "trail began (`caselens audit checkpoint` starts it)."
            )
        else:
            plural = "checkpoint" if len(signed) == 1 else "checkpoints"
            sentence = (
                f"{name}: {len(signed)} {plural}, the newest of {entries_text(newest.count)} "
                f"(received {received[newest]}); the trail holds the checkpointed entries "
                "unchanged."
            )
        return broken, notes, sentence, None


def entries_text(count: int) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {'entry' if count == 1 else 'entries'}"
