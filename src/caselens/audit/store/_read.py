"""Reading the trail: entries streamed from one snapshot, pages newest first (keyset
paging on the indexes), counts, the head, and the keys that signed each stretch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    func,
    select,
)

from caselens.audit.chain import GENESIS_HASH
from caselens.audit.checkpoints import (
    Checkpoint,
)
from caselens.audit.errors import (
    AuditError,
)
from caselens.audit.records import (
    AuditEntry,
)
from caselens.audit.store.tables import ENTRY_COLUMNS, KEY_ROTATED, entries_table, filtered
from caselens.audit.verify import KeyRing, entry_problem
from caselens.audit.witness import Witness


class Reading:
    """Reading the trail (a part of :class:`~caselens.audit.store.AuditStore`)."""

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

    def iter_entries(
        self,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        actor_id: str | None = None,
        role: str | None = None,
        patient_ref: str | None = None,
        model_id: str | None = None,
        action: str | None = None,
        limit: int | None = None,
        batch: int = 2000,
    ) -> Iterator[AuditEntry]:
        """Stream entries in ``seq`` order from one consistent snapshot.

        Parameters
        ----------
        since, until : datetime or str, optional
            ``since <= recorded_at < until`` (UTC).
        actor_id, role, patient_ref, model_id, action : str, optional
            Exact matches (``role`` is the actor's role).
        limit : int, optional
            At most this many entries.
        batch : int
            Rows fetched at a time.

        Yields
        ------
        AuditEntry
        """
        stmt = filtered(
            select(*ENTRY_COLUMNS),
            since=since,
            until=until,
            actor_id=actor_id,
            role=role,
            patient_ref=patient_ref,
            model_id=model_id,
            action=action,
        ).order_by(entries_table.c.seq)
        if limit is not None:
            stmt = stmt.limit(limit)
        make = AuditEntry
        with self._engine.connect() as conn, conn.begin():
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
            for row in result:
                yield make(*row)

    def entries(self, **filters: Any) -> list[AuditEntry]:
        """The entries matching ``filters`` (see ``iter_entries``), in ``seq`` order."""
        return list(self.iter_entries(**filters))

    def get(self, seq: int) -> AuditEntry:
        """The entry at ``seq``.

        Raises
        ------
        AuditError
            If there is no such entry.
        """
        with self._engine.connect() as conn:
            row = conn.execute(select(*ENTRY_COLUMNS).where(entries_table.c.seq == seq)).first()
        if row is None:
            raise AuditError(f"there is no audit entry {seq}")
        return AuditEntry(*row)

    def entry_problem(self, seq: int) -> str | None:
        """Why the entry at ``seq`` fails verification (hash, signature, links), or None.

        Raises
        ------
        AuditError
            If there is no such entry.
        """
        t = entries_table.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(*ENTRY_COLUMNS).where(t.seq.between(seq - 1, seq + 1)).order_by(t.seq)
            ).all()
        around = {row.seq: AuditEntry(*row) for row in rows}
        if seq not in around:
            raise AuditError(f"there is no audit entry {seq}")
        return entry_problem(
            around[seq],
            around.get(seq - 1),
            around.get(seq + 1),
            key=self.keyring(),
            last_seq=self.head()[0],
        )

    def page(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 50,
        **filters: Any,
    ) -> list[AuditEntry]:
        """One page of matching entries, newest first, read in the database (keyset paging).

        Parameters
        ----------
        before_seq : int, optional
            Only entries older than this one (the last ``seq`` of the previous page).
        limit : int
            Entries per page.
        **filters
            As for :meth:`iter_entries` (``since``, ``until``, ``actor_id``, ``role``,
            ``patient_ref``, ``model_id``, ``action``).
        """
        seq = entries_table.c.seq
        # Choose the page's sequence numbers from the indexes alone, then read just those
        # rows: sorting whole rows (reports included) for a wide date range took ~1 s at a
        # million entries; this takes milliseconds and returns the same page.
        chosen = filtered(select(seq), **filters)
        if before_seq is not None:
            chosen = chosen.where(seq < before_seq)
        chosen = chosen.order_by(seq.desc()).limit(limit)
        stmt = select(*ENTRY_COLUMNS).where(seq.in_(chosen.scalar_subquery())).order_by(seq.desc())
        with self._engine.connect() as conn:
            return [AuditEntry(*row) for row in conn.execute(stmt)]

    def count(self, **filters: Any) -> int:
        """How many entries match ``filters`` (see :meth:`iter_entries`)."""
        stmt = filtered(select(func.count()).select_from(entries_table), **filters)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def head(self) -> tuple[int, str]:
        """``(count, head hash)`` of the trail: the last entry's seq and hash.

        Copy it somewhere the app cannot rewrite; pass it back to ``verify`` to detect truncation.
        """
        with self._engine.connect() as conn:
            row = conn.execute(
                select(entries_table.c.seq, entries_table.c.entry_hash)
                .order_by(entries_table.c.seq.desc())
                .limit(1)
            ).first()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    def _rotations(self) -> list[tuple[int, dict[str, Any]]]:
        """Every ``key_rotated`` entry's seq and details, in seq order."""
        with self._engine.connect() as conn:
            rotations = conn.execute(
                select(entries_table.c.seq, entries_table.c.detail_json)
                .where(entries_table.c.action == KEY_ROTATED)
                .order_by(entries_table.c.seq)
            ).all()
        return [(int(seq), json.loads(text_)) for seq, text_ in rotations]

    @property
    def retired_key_ids(self) -> tuple[str, ...]:
        """The ids of the retired HMAC keys this store holds (ids only, never the keys)."""
        from caselens.audit.keys import key_id

        return tuple(sorted(key_id(k) for k in self._retired.values()))

    def keyring(self) -> KeyRing:
        """The keys this store holds and which stretch of the trail each one signed."""
        details = self._rotations()
        first = str(details[0][1].get("from_key")) if details else self.key_id
        segments = [(1, first)] + [(seq + 1, str(d.get("to_key"))) for seq, d in details]
        return KeyRing(keys={**self._retired, self.key_id: self._key}, segments=tuple(segments))
