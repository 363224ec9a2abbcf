"""The app database (accounts, sign-in throttle, model status).

By default an SQLite file, ``app.sqlite``, in the data folder, created owner-only. With a URL
(``CASELENS_APP_DB_URL``, read by :class:`caselens.settings.Settings`) it is any database
SQLAlchemy reaches; SQLite and PostgreSQL are the ones tested, and several app servers on one
PostgreSQL share their accounts, sign-in back-off and model suspensions. The same statements
run on both: the few that differ by dialect (insert-or-skip, upsert) go through
:func:`caselens.access.app_tables.dialect_insert`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from caselens.access.app_tables import APP_METADATA

APP_DATABASE_FILE = "app.sqlite"
#: The environment variable holding the app database URL (unset: the SQLite file).
URL_ENV = "CASELENS_APP_DB_URL"
# Advisory lock id taken while the tables are created on PostgreSQL: the bytes of "caselapp"
# (the audit store uses "caselens"), so app servers starting together do not race.
_PG_CREATE_LOCK_ID = int.from_bytes(b"caselapp", "big")
#: How long an SQLite connection waits for another writer before "database is locked": a
#: burst of simultaneous sign-ins queues behind one writer for a few seconds on a busy host
#: (Python's default, 5 s, lost attempts in a burst of 80); the throttle retries beyond it.
SQLITE_BUSY_TIMEOUT_S = 30.0


def open_app_database(data_dir: str | Path, url: str | None = None) -> Engine:
    """An engine on the app database, its tables created.

    Parameters
    ----------
    data_dir : path
        The data folder; without ``url`` the database is ``<data_dir>/app.sqlite``, created
        with owner-only permissions (the folder too, when it is new).
    url : str, optional
        A SQLAlchemy URL (``postgresql://user@host/db``, ``sqlite:///path``). A plain
        ``postgresql://`` or ``postgres://`` URL uses the psycopg driver.
    """
    if not url:
        return _create_tables(
            create_engine(
                f"sqlite:///{_owner_only(Path(data_dir))}",
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
            )
        )
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        file = Path(parsed.database)
        _owner_only(file.parent, file.name)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    elif parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    else:
        engine = create_engine(parsed)
    return _create_tables(engine)


def _owner_only(folder: Path, name: str = APP_DATABASE_FILE) -> Path:
    """``folder/name``, created empty with mode 0600 (folder 0700) if it does not exist."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    file = folder / name
    if not file.exists():
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))
    return file


def _create_tables(engine: Engine) -> Engine:
    """Create every app table that is missing, in one transaction; on PostgreSQL under an
    advisory lock, so servers opening a new database at once do not both create a table."""
    # Each store defines its tables on APP_METADATA when its module loads.
    from caselens.access import (  # noqa: F401
        accounts,
        browser_sessions,
        cds_calls,
        model_status,
        sign_in_throttle,
    )

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_CREATE_LOCK_ID})
        APP_METADATA.create_all(conn)
    return engine
