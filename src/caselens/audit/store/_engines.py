"""The trail's database engines: SQLite (a file, WAL, ``synchronous=FULL``, writers take
``BEGIN IMMEDIATE``) or PostgreSQL (appends serialised by an advisory lock), by location.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit.errors import (
    AuditError,
    AuditWriteError,
)

# Advisory lock id for PostgreSQL appends: the bytes of "caselens" (fits a signed bigint).
PG_LOCK_ID = int.from_bytes(b"caselens", "big")


def reason(exc: BaseException) -> str:
    """The first line of a database error's own message (the driver's, when it has one)."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def make_engine(location: str, *, create: bool, busy_timeout_s: float) -> Engine:
    """The engine for a SQLite path, a ``sqlite:///`` URL or a PostgreSQL URL."""
    if "://" not in location:
        return sqlite_engine(Path(location), create=create, busy_timeout_s=busy_timeout_s)
    url = make_url(location)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise AuditError("the audit trail needs a SQLite file, not an in-memory database")
        return sqlite_engine(Path(url.database), create=create, busy_timeout_s=busy_timeout_s)
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
        raise AuditWriteError(f"The audit trail could not be opened: {reason(exc)}") from exc


def sqlite_engine(path: Path, *, create: bool, busy_timeout_s: float) -> Engine:
    """A SQLite engine on ``path`` (created owner-only when ``create``): WAL, full sync,
    ``BEGIN IMMEDIATE`` for writers."""
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
