"""The audit store: one append-only table of chained, signed entries (SQLAlchemy Core).

SQLite (a file, WAL, ``synchronous=FULL``) by default; PostgreSQL by URL, through the same code.
Appends are serialised by a database lock — SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock`` — so writers in other threads and processes never fork the chain.
The work is in parts: appending (:mod:`._append`), reading (:mod:`._read`) and verifying
(:mod:`._verify_trail`); the tables in :mod:`.tables`, the engines in :mod:`._engines`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import (
    Engine,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit.checkpoints import (
    Checkpoint,
)
from caselens.audit.errors import (
    AuditError,
    AuditWriteError,
)
from caselens.audit.keys import key_id
from caselens.audit.records import (
    utc_now,
)
from caselens.audit.store._append import Appending
from caselens.audit.store._engines import make_engine, reason
from caselens.audit.store._read import Reading
from caselens.audit.store._verify_trail import Verifying
from caselens.audit.store.tables import (
    PG_TRIGGERS,
    SCHEMA_VERSION,
    SQLITE_TRIGGERS,
    entries_table,
    metadata,
    schema_version_table,
)
from caselens.audit.witness import Witness


class AuditStore(Appending, Reading, Verifying):
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
        engine = make_engine(os.fspath(location), create=create, busy_timeout_s=busy_timeout_s)
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
                for ddl in SQLITE_TRIGGERS if self._sqlite else PG_TRIGGERS:
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
            raise AuditWriteError(f"The audit trail could not be opened: {reason(exc)}") from exc

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
