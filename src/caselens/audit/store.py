"""The audit store: one append-only table of chained, signed entries (SQLAlchemy Core).

SQLite (a file, WAL, ``synchronous=FULL``) by default; PostgreSQL by URL, through the same code.
Appends are serialised by a database lock — SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock`` — so writers in other threads and processes never fork the chain.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
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
from caselens.audit.errors import AuditError, AuditWriteError
from caselens.audit.records import ENTRY_FIELDS, AuditEntry, AuditEvent, format_time, utc_now
from caselens.audit.verify import VerifyResult, entry_problem, verify_quietly

SCHEMA_VERSION = 1
URL_ENV = "CASELENS_AUDIT_URL"
DATA_DIR_ENV = "CASELENS_DATA_DIR"
DEFAULT_DATA_DIR = ".caselens-data"
# Advisory lock id for PostgreSQL appends: the bytes of "caselens" (fits a signed bigint).
_PG_LOCK_ID = int.from_bytes(b"caselens", "big")
_BULK_CHUNK = 5000

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


def default_location(env: dict[str, str] | None = None) -> str:
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


def default_key_file(env: dict[str, str] | None = None) -> Path:
    """``$CASELENS_DATA_DIR/audit.key`` (data dir default ``./.caselens-data``)."""
    env = dict(os.environ) if env is None else env
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

    def __init__(self, engine: Engine, *, key: bytes, clock: Callable[[], str]) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"

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
        store = cls(engine, key=key, clock=clock)
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

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

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

    def append(self, event: AuditEvent) -> AuditEntry:
        """Record one event as the next entry, durably, in one transaction.

        Parameters
        ----------
        event : AuditEvent
            What happened.

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
        return self.append_many([event])[0]

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
        self, batch: list[tuple[AuditEvent, tuple[str | None, str]]]
    ) -> list[AuditEntry]:
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
                # Time never goes backwards in the trail, even if the clock does.
                recorded_at = max(self._clock(), last_time)
                entries = []
                for event_, texts in batch:
                    seq += 1
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
        except (SQLAlchemyError, OSError) as exc:
            raise AuditWriteError(f"The audit entry could not be recorded: {_reason(exc)}") from exc
        return entries

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
            key=self._key,
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
        stmt = _filtered(select(*_COLUMNS), **filters)
        if before_seq is not None:
            stmt = stmt.where(entries_table.c.seq < before_seq)
        stmt = stmt.order_by(entries_table.c.seq.desc()).limit(limit)
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
        """Walk the whole trail (``verify.verify_chain``); any problem is in ``broken``."""
        return verify_quietly(self.iter_entries(), key=self._key, expected_head=expected_head)


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


def open_trail(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    env: dict[str, str] | None = None,
) -> AuditStore:
    """Open the trail the way the app and CLI find it.

    The database is ``CASELENS_AUDIT_URL`` or ``<data dir>/audit.sqlite``; the key is
    ``CASELENS_AUDIT_KEY`` or ``<data dir>/audit.key`` (created on first use when ``create``).

    Parameters
    ----------
    data_dir : path, optional
        The data directory (default ``$CASELENS_DATA_DIR``, else ``./.caselens-data``).
    create : bool
        Create the trail and key if missing.
    env : dict, optional
        The environment to read (default ``os.environ``).

    Returns
    -------
    AuditStore
    """
    from caselens.audit.keys import load_key

    env = dict(os.environ) if env is None else dict(env)
    if data_dir is not None:
        env[DATA_DIR_ENV] = os.fspath(data_dir)
    key = load_key(default_key_file(env), create=create, env=env)
    return AuditStore.open(default_location(env), key=key, create=create)
