"""The audit store: one append-only table of chained, signed entries (SQLAlchemy Core).

SQLite (a file, WAL, ``synchronous=FULL``) by default; PostgreSQL by URL, through the same code.
Appends are serialised by a database lock — SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock`` — so writers in other threads and processes never fork the chain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit.chain import GENESIS_HASH, seal
from caselens.audit.checkpoints import (
    CHECKPOINT_EVERY,
    Checkpoint,
    append_checkpoint,
    checkpoint_signed,
    read_checkpoints,
    sign_checkpoint,
)
from caselens.audit.errors import (
    AuditError,
    AuditKeyError,
    AuditTrailMissing,
    AuditWriteError,
    ChainBroken,
)
from caselens.audit.keys import key_id
from caselens.audit.records import (
    ENTRY_FIELDS,
    AuditEntry,
    AuditEvent,
    canonical_json,
    format_time,
    utc_now,
)
from caselens.audit.registry import KeyRegistry, check_rotations, read_registry
from caselens.audit.verify import KeyRing, VerifyResult, entry_problem, verify_quietly
from caselens.audit.witness import Witness

SCHEMA_VERSION = 1
URL_ENV = "CASELENS_AUDIT_URL"
DATA_DIR_ENV = "CASELENS_DATA_DIR"
DEFAULT_DATA_DIR = ".caselens-data"
KEY_FILE_ENV = "CASELENS_AUDIT_KEY_FILE"
# Advisory lock id for PostgreSQL appends: the bytes of "caselens" (fits a signed bigint).
_PG_LOCK_ID = int.from_bytes(b"caselens", "big")
_BULK_CHUNK = 5000
#: The action of the entry that records a change of signing key.
KEY_ROTATED = "key_rotated"
#: How far ahead of this server's clock an entry may be stamped before verify flags it.
FUTURE_ALLOWANCE = timedelta(minutes=5)

metadata = MetaData()
entries_table = Table(
    "audit_entry",
    metadata,
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only "INTEGER PRIMARY KEY" is the rowid.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("recorded_at", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("actor_name", Text, nullable=False),
    Column("actor_role", Text, nullable=False),
    Column("audience", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("patient_ref", Text),
    Column("model_id", Text),
    Column("model_version", Text),
    Column("model_sha256", Text),
    Column("report_json", Text),
    Column("rendered_digest", Text),
    Column("session_id", Text),
    Column("detail_json", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("entry_hash", Text, nullable=False),
    Column("hmac", Text, nullable=False),
    Index("ix_audit_entry_recorded_at", "recorded_at"),
    Index("ix_audit_entry_actor_id", "actor_id"),
    Index("ix_audit_entry_patient_ref", "patient_ref"),
    Index("ix_audit_entry_model_id", "model_id"),
    Index("ix_audit_entry_action", "action"),
    Index("ix_audit_entry_actor_role", "actor_role"),
)
schema_version_table = Table(
    "schema_version",
    metadata,
    Column("version", Integer, nullable=False),
    Column("applied_at", Text, nullable=False),
)
assert tuple(c.name for c in entries_table.columns) == ENTRY_FIELDS
_COLUMNS = tuple(entries_table.columns)

# Triggers refuse UPDATE and DELETE: they stop mistakes, not attackers (the chain does that).
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
)
_PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION caselens_audit_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$",
    "CREATE OR REPLACE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION caselens_audit_append_only()",
    "CREATE OR REPLACE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION caselens_audit_append_only()",
)


def default_location(env: Mapping[str, str] | None = None) -> str:
    """Where the trail lives: ``CASELENS_AUDIT_URL``, else ``$CASELENS_DATA_DIR/audit.sqlite``.

    Examples
    --------
    >>> default_location({"CASELENS_DATA_DIR": "/d"})
    '/d/audit.sqlite'
    """
    env = dict(os.environ) if env is None else env
    if env.get(URL_ENV):
        return env[URL_ENV]
    return str(Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "audit.sqlite")


def default_key_file(env: Mapping[str, str] | None = None) -> Path:
    """``CASELENS_AUDIT_KEY_FILE``, else ``$CASELENS_DATA_DIR/audit.key`` (data dir default
    ``./.caselens-data``)."""
    env = dict(os.environ) if env is None else env
    if env.get(KEY_FILE_ENV):
        return Path(env[KEY_FILE_ENV])
    return Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "audit.key"


def _as_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_time(value)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


class AuditStore:
    """An open audit trail. Use ``AuditStore.open``; close with ``close()`` or ``with``."""

    def __init__(
        self,
        engine: Engine,
        *,
        key: bytes,
        clock: Callable[[], str],
        retired_keys: Mapping[str, bytes] | None = None,
        checkpoint_file: str | os.PathLike[str] | None = None,
        witness: Witness | None = None,
        key_registry: str | os.PathLike[str] | None = None,
    ) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        self._retired = dict(retired_keys or {})
        self.checkpoint_file = Path(checkpoint_file) if checkpoint_file is not None else None
        self.witness = witness
        self.key_registry = Path(key_registry) if key_registry is not None else None
        # A checkpoint the witness did not take (it was down): written before the next
        # append, which fails closed while the witness stays unreachable.
        self._owed_to_witness: Checkpoint | None = None

    @property
    def engine(self) -> Engine:
        """The database engine, for rows derived from entries (e.g. the monitoring log),
        which share the trail's database and, through ``append(alongside=…)``, its
        transactions. Never write ``audit_entry`` through it."""
        return self._engine

    @property
    def signing_key(self) -> bytes:
        """The active server key, for keyed pseudonyms in exports (never store or show it)."""
        return self._key

    @property
    def key_id(self) -> str:
        """The public id of the key this store signs new entries with."""
        return key_id(self._key)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        key: bytes,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        clock: Callable[[], str] = utc_now,
        retired_keys: Mapping[str, bytes] | None = None,
        checkpoint_file: str | os.PathLike[str] | None = None,
        witness: Witness | None = None,
        key_registry: str | os.PathLike[str] | None = None,
    ) -> AuditStore:
        """Open (and if needed create) the trail at a SQLite path or a database URL.

        Parameters
        ----------
        location : str or path
            A SQLite file path, or a URL (``postgresql://…``, ``sqlite:///…``).
        key : bytes
            The server key (``keys.load_key``); never stored in the database.
        create : bool
            Create the file and schema if missing; when False a missing trail is an error.
        busy_timeout_s : float
            How long a writer waits for the lock before ``AuditWriteError``.
        clock : callable
            Returns the current time in the trail's format (tests pass a fixed clock).
        retired_keys : mapping, optional
            Keys retired by ``rotate_key``, by key id: to verify the entries they signed.
        checkpoint_file : path, optional
            Where signed checkpoints are appended (every ``CHECKPOINT_EVERY`` entries and on
            demand) and read back by ``verify``; None for no checkpoints.
        witness : Witness, optional
            A second, append-only store that receives every checkpoint too and that
            ``verify`` compares the trail against (``audit.witness``); None for none.
        key_registry : path, optional
            The operator's registry of signing keys (``audit.registry``): a key rotation is
            valid only to a key registered there. None: no rotation is valid.

        Returns
        -------
        AuditStore

        Raises
        ------
        AuditWriteError
            If the database cannot be opened or its schema created.
        AuditError
            If there is no trail and ``create`` is False, or its schema is newer than this code.
        """
        if len(key) < 16:
            raise AuditError("the audit key must be at least 16 bytes")
        engine = _make_engine(os.fspath(location), create=create, busy_timeout_s=busy_timeout_s)
        store = cls(
            engine,
            key=key,
            clock=clock,
            retired_keys=retired_keys,
            checkpoint_file=checkpoint_file,
            witness=witness,
            key_registry=key_registry,
        )
        try:
            store._ensure_schema(create=create)
        except BaseException:
            engine.dispose()
            raise
        return store

    def _ensure_schema(self, *, create: bool) -> None:
        try:
            present = inspect(self._engine).has_table("schema_version")
            if present:
                with self._engine.connect() as conn:
                    version = conn.execute(
                        select(func.max(schema_version_table.c.version))
                    ).scalar()
                if version == SCHEMA_VERSION:
                    self._ensure_indexes()
                    return
            if not present and not create:
                raise AuditError("there is no audit trail here yet (nothing has been recorded)")
            with self._write() as conn:
                metadata.create_all(conn)
                for ddl in _SQLITE_TRIGGERS if self._sqlite else _PG_TRIGGERS:
                    conn.exec_driver_sql(ddl)
                version = conn.execute(select(func.max(schema_version_table.c.version))).scalar()
                if version is None:
                    conn.execute(
                        insert(schema_version_table).values(
                            version=SCHEMA_VERSION, applied_at=self._clock()
                        )
                    )
                elif version > SCHEMA_VERSION:
                    raise AuditError(
                        f"the audit trail has schema version {version}, newer than this CaseLens "
                        f"({SCHEMA_VERSION}); upgrade CaseLens"
                    )
        except SQLAlchemyError as exc:
            raise AuditWriteError(f"The audit trail could not be opened: {_reason(exc)}") from exc

    def _ensure_indexes(self) -> None:
        """Add the entry indexes a trail created by an older CaseLens lacks (once, under the
        write lock, checking first). An index only speeds filters up: if it cannot be written
        (a read-only copy of the trail), the trail still opens and reads."""
        present = {ix["name"] for ix in inspect(self._engine).get_indexes("audit_entry")}
        missing = [ix for ix in entries_table.indexes if ix.name not in present]
        if not missing:
            return
        try:
            with self._write() as conn:
                for ix in missing:
                    ix.create(conn, checkfirst=True)
        except SQLAlchemyError:
            pass

    def close(self) -> None:
        """Release the database connections (and the witness's)."""
        self._engine.dispose()
        if self.witness is not None:
            self.witness.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction holding the trail's write lock."""
        with self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(caselens_write=True)
            with conn.begin():
                if not self._sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
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
        for start in range(0, len(prepared), _BULK_CHUNK):
            written.extend(self._append_batch(prepared[start : start + _BULK_CHUNK]))
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
                        texts = (texts[0], _with_clock_note(texts[1], now))
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
            raise AuditWriteError(f"The audit entry could not be recorded: {_reason(exc)}") from exc
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

    def _rotations(self) -> list[tuple[int, dict[str, Any]]]:
        """Every ``key_rotated`` entry's seq and details, in seq order."""
        with self._engine.connect() as conn:
            rotations = conn.execute(
                select(entries_table.c.seq, entries_table.c.detail_json)
                .where(entries_table.c.action == KEY_ROTATED)
                .order_by(entries_table.c.seq)
            ).all()
        return [(int(seq), json.loads(text_)) for seq, text_ in rotations]

    def keyring(self) -> KeyRing:
        """The keys this store holds and which stretch of the trail each one signed."""
        details = self._rotations()
        first = str(details[0][1].get("from_key")) if details else self.key_id
        segments = [(1, first)] + [(seq + 1, str(d.get("to_key"))) for seq, d in details]
        return KeyRing(keys={**self._retired, self.key_id: self._key}, segments=tuple(segments))

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

    # -- reading -------------------------------------------------------------------------

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
        stmt = _filtered(
            select(*_COLUMNS),
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
            row = conn.execute(select(*_COLUMNS).where(entries_table.c.seq == seq)).first()
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
                select(*_COLUMNS).where(t.seq.between(seq - 1, seq + 1)).order_by(t.seq)
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
        chosen = _filtered(select(seq), **filters)
        if before_seq is not None:
            chosen = chosen.where(seq < before_seq)
        chosen = chosen.order_by(seq.desc()).limit(limit)
        stmt = select(*_COLUMNS).where(seq.in_(chosen.scalar_subquery())).order_by(seq.desc())
        with self._engine.connect() as conn:
            return [AuditEntry(*row) for row in conn.execute(stmt)]

    def count(self, **filters: Any) -> int:
        """How many entries match ``filters`` (see :meth:`iter_entries`)."""
        stmt = _filtered(select(func.count()).select_from(entries_table), **filters)
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
                f"trail has {_entries(count)}: the witness was replaced, or set up after the "
                "trail began (`caselens audit checkpoint` starts it)."
            )
        else:
            plural = "checkpoint" if len(signed) == 1 else "checkpoints"
            sentence = (
                f"{name}: {len(signed)} {plural}, the newest of {_entries(newest.count)} "
                f"(received {received[newest]}); the trail holds the checkpointed entries "
                "unchanged."
            )
        return broken, notes, sentence, None


def _entries(count: int) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _with_clock_note(detail_text: str, clock: str) -> str:
    """The details with a note that the clock read ``clock``, behind the trail's last time."""
    detail = json.loads(detail_text)
    detail["clock_behind_trail"] = clock
    return canonical_json(detail)


def _filtered(
    stmt: Select,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    actor_id: str | None = None,
    role: str | None = None,
    patient_ref: str | None = None,
    model_id: str | None = None,
    action: str | None = None,
) -> Select:
    """``stmt`` restricted to the entries matching the filters (each on an indexed column)."""
    t = entries_table.c
    for column, value in (
        (t.actor_id, actor_id),
        (t.actor_role, role),
        (t.patient_ref, patient_ref),
        (t.model_id, model_id),
        (t.action, action),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(t.recorded_at >= _as_time(since))
    if until is not None:
        stmt = stmt.where(t.recorded_at < _as_time(until))
    return stmt


def _make_engine(location: str, *, create: bool, busy_timeout_s: float) -> Engine:
    if "://" not in location:
        return _sqlite_engine(Path(location), create=create, busy_timeout_s=busy_timeout_s)
    url = make_url(location)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise AuditError("the audit trail needs a SQLite file, not an in-memory database")
        return _sqlite_engine(Path(url.database), create=create, busy_timeout_s=busy_timeout_s)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "postgresql":
        raise AuditError(f"the audit trail supports SQLite and PostgreSQL, not {url.drivername}")
    try:
        # lock_timeout: a writer waiting for the advisory lock gives up like SQLite's busy timeout.
        connect_args = {
            "connect_timeout": max(1, int(busy_timeout_s)),
            "options": f"-c lock_timeout={int(busy_timeout_s * 1000)}",
        }
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except SQLAlchemyError as exc:
        raise AuditWriteError(f"The audit trail could not be opened: {_reason(exc)}") from exc


def _sqlite_engine(path: Path, *, create: bool, busy_timeout_s: float) -> Engine:
    if not path.exists():
        if not create:
            raise AuditError(f"there is no audit trail at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created owner-only before SQLite touches it; SQLite gives -wal/-shm the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise AuditWriteError(f"The audit trail could not be created at {path}: {exc}") from exc
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN, so writers can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock before reading the head, so two writers cannot both
        # read the same head and fork the chain; readers use a plain (snapshot) BEGIN.
        write = conn.get_execution_options().get("caselens_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def trail_entry_count(location: str | os.PathLike[str]) -> int:
    """How many entries the trail at ``location`` holds (0 when there is no trail yet).

    Raises
    ------
    AuditWriteError
        If the database exists but cannot be read (a server that does not answer): "no
        trail" must never be concluded from a trail that could not be reached.
    """
    try:
        store = AuditStore.open(location, key=bytes(32), create=False)
    except AuditWriteError:
        raise
    except AuditError:
        return 0
    try:
        return store.head()[0]
    finally:
        store.close()


def recorded_elsewhere(
    checkpoint_file: str | os.PathLike[str] | None, witness: Witness | None
) -> tuple[int, str] | None:
    """The most entries the checkpoint file or the witness says the trail held, and which
    of them said so (None when neither records any).

    Any record counts, signed or not: it can only stop a new, empty trail from starting,
    which is the safe side (the message tells the operator how to proceed).
    """
    found: list[tuple[int, str]] = []
    if checkpoint_file is not None:
        for checkpoint in read_checkpoints(checkpoint_file):
            found.append(
                (
                    checkpoint.count,
                    f"the checkpoint file {checkpoint_file} (checkpoint of "
                    f"{checkpoint.recorded_at})",
                )
            )
    if witness is not None:
        for held in witness.read():
            found.append(
                (
                    held.checkpoint.count,
                    f"the witness ({witness.description}; received {held.witnessed_at})",
                )
            )
    most = max(found, key=lambda item: item[0], default=None)
    return most if most is not None and most[0] > 0 else None


def open_trail(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], str] = utc_now,
) -> AuditStore:
    """Open the trail the way the app and CLI find it.

    The database is ``CASELENS_AUDIT_URL`` or ``<data dir>/audit.sqlite``; the key is
    ``CASELENS_AUDIT_KEY`` or ``<data dir>/audit.key`` (created on first use when ``create``,
    but never for a trail that already has entries); retired keys sit beside the key file
    (``audit.key.retired/``); signed checkpoints go to ``CASELENS_AUDIT_CHECKPOINTS`` or
    ``<data dir>/audit.checkpoints.jsonl`` and to the witness, ``CASELENS_AUDIT_WITNESS`` or
    ``<data dir>/audit.witness.sqlite``; key rotations are checked against the registry in
    ``CASELENS_AUDIT_KEY_REGISTRY``.

    Parameters
    ----------
    data_dir : path, optional
        The data directory (default ``$CASELENS_DATA_DIR``, else ``./.caselens-data``).
    create : bool
        Create the trail and key if missing.
    env : mapping, optional
        The environment to read (default ``os.environ``).
    clock : callable
        The trail's clock (tests pass their own).

    Returns
    -------
    AuditStore

    Raises
    ------
    AuditKeyError
        If the trail has entries but its key is missing: a new key would make the whole
        history unverifiable, so CaseLens refuses to start until the key is restored.
    AuditTrailMissing
        If the trail is missing or empty but its checkpoints or witness show it had entries:
        CaseLens refuses to start a new, empty trail in its place.
    AuditWriteError
        If the trail or (for an empty trail) the witness cannot be reached.
    """
    from caselens.audit.checkpoints import default_checkpoint_file
    from caselens.audit.keys import KEY_ENV, load_key, load_retired_keys
    from caselens.audit.registry import default_registry_file
    from caselens.audit.witness import default_witness_location

    env = dict(os.environ) if env is None else dict(env)
    if data_dir is not None:
        env[DATA_DIR_ENV] = os.fspath(data_dir)
    location = default_location(env)
    key_file = default_key_file(env)
    checkpoint_file = default_checkpoint_file(env)
    held = trail_entry_count(location)
    if held and not env.get(KEY_ENV) and not key_file.exists():
        raise AuditKeyError(
            f"The audit trail holds {held} entries but its key file {key_file} is missing. "
            "Restore the key from your backup (see docs/audit_model.md). CaseLens will not "
            "create a new key for an existing trail: its history could no longer be verified."
        )
    witness = Witness.open(default_witness_location(env))
    try:
        if not held:
            _refuse_a_lost_trail(location, checkpoint_file, witness)
        key = load_key(key_file, create=create, env=env)
        return AuditStore.open(
            location,
            key=key,
            create=create,
            retired_keys=load_retired_keys(key_file),
            checkpoint_file=checkpoint_file,
            witness=witness,
            key_registry=default_registry_file(env),
            clock=clock,
        )
    except BaseException:
        witness.close()
        raise


def _refuse_a_lost_trail(location: str, checkpoint_file: Path, witness: Witness) -> None:
    """Raise ``AuditTrailMissing`` when an empty or missing trail is known to have had entries."""
    recorded = recorded_elsewhere(checkpoint_file, witness)
    if recorded is None:
        return
    count, source = recorded
    held = _entries(count)
    raise AuditTrailMissing(
        f"The audit trail at {location} is missing or empty, but {source} records that it "
        f"held {held}. CaseLens will not start a new, empty trail in its place: the "
        "history would silently restart. To recover, restore the trail's database from your "
        "backup and run `caselens audit verify` (it compares the restored trail with the "
        "checkpoints and the witness). If the trail was deliberately archived, archive its "
        "checkpoint file and witness with it and point CASELENS_AUDIT_CHECKPOINTS and "
        "CASELENS_AUDIT_WITNESS at new, empty locations (see docs/audit_model.md)."
    )
