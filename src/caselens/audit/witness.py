"""The witness: a second, append-only store of the trail's signed checkpoints.

The checkpoint file sits on the trail's own host, so whoever can roll the database back can
roll the file back with it. The witness keeps a copy of every checkpoint somewhere the trail's
host should not be able to rewrite, and ``verify`` compares the trail against it:

- **PostgreSQL** (``CASELENS_AUDIT_WITNESS=postgresql://witness_app@otherhost/caselens_witness``):
  a table the app's role may only ``INSERT`` into and ``SELECT`` from (created by a database
  owner with :func:`witness_setup_sql`), with triggers refusing ``UPDATE``, ``DELETE`` and
  ``TRUNCATE`` even for its owner. Each row also carries the witness server's own time.
- **SQLite file** (the default, ``<data dir>/audit.witness.sqlite``): a separate file with the
  same append-only triggers. On the same host it protects against a restore or deletion that
  forgets it, not against someone who deliberately rewrites every file in the data folder
  (``docs/audit_model.md`` says what each placement protects against).

A witness serves one trail. Rows are only ever added: an extra row can make ``verify`` raise an
alarm, never hide one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from caselens.audit.checkpoints import Checkpoint
from caselens.audit.errors import AuditError, AuditWriteError
from caselens.settings import environment

WITNESS_ENV = "CASELENS_AUDIT_WITNESS"
WITNESS_FILE = "audit.witness.sqlite"
WITNESS_TABLE = "caselens_audit_witness"
#: How long a witness connection may take before the write or read is given up (seconds):
#: a witness that does not answer must not hold a clinician's click for long.
CONNECT_TIMEOUT_S = 5
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_SQLITE_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {WITNESS_TABLE} ("
    "count INTEGER NOT NULL CHECK (count >= 0), head_hash TEXT NOT NULL, "
    "recorded_at TEXT NOT NULL, key_id TEXT NOT NULL, hmac TEXT NOT NULL, "
    "witnessed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    f"CREATE TRIGGER IF NOT EXISTS witness_no_update BEFORE UPDATE ON {WITNESS_TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the audit witness is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS witness_no_delete BEFORE DELETE ON {WITNESS_TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the audit witness is append-only'); END",
)


def witness_setup_sql(app_role: str) -> str:
    """The SQL a PostgreSQL database owner runs once to create the witness table.

    The table is owned by whoever runs it (not the app); ``app_role`` — an existing login role,
    the one in the app's ``CASELENS_AUDIT_WITNESS`` URL — may only insert and read rows.

    Raises
    ------
    ValueError
        If ``app_role`` is not a plain lower-case PostgreSQL identifier.
    """
    if not _ROLE.match(app_role):
        raise ValueError(
            f"the witness role must be a plain lower-case PostgreSQL name "
            f"(letters, digits, underscore; at most 63), got {app_role!r}"
        )
    return f"""\
CREATE TABLE IF NOT EXISTS {WITNESS_TABLE} (
    count BIGINT NOT NULL CHECK (count >= 0),
    head_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    hmac TEXT NOT NULL,
    witnessed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION caselens_witness_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit witness is append-only'; END $$;
CREATE OR REPLACE TRIGGER caselens_witness_no_change BEFORE UPDATE OR DELETE
    ON {WITNESS_TABLE} FOR EACH ROW EXECUTE FUNCTION caselens_witness_append_only();
CREATE OR REPLACE TRIGGER caselens_witness_no_truncate BEFORE TRUNCATE
    ON {WITNESS_TABLE} FOR EACH STATEMENT EXECUTE FUNCTION caselens_witness_append_only();
REVOKE ALL ON {WITNESS_TABLE} FROM PUBLIC;
GRANT SELECT, INSERT ON {WITNESS_TABLE} TO {app_role};
"""


def default_witness_location(env: Mapping[str, str] | None = None) -> str:
    """``CASELENS_AUDIT_WITNESS``, else ``<data dir>/audit.witness.sqlite``.

    Examples
    --------
    >>> default_witness_location({"CASELENS_DATA_DIR": "/d"})
    '/d/audit.witness.sqlite'
    """
    env = environment() if env is None else env
    if env.get(WITNESS_ENV, "").strip():
        return env[WITNESS_ENV].strip()
    return str(Path(env.get("CASELENS_DATA_DIR") or ".caselens-data") / WITNESS_FILE)


@dataclass(frozen=True)
class Witnessed:
    """One checkpoint as the witness holds it, with the witness's own time of receipt."""

    checkpoint: Checkpoint
    witnessed_at: str


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


class Witness:
    """An append-only copy of the trail's checkpoints (SQLite file or PostgreSQL table).

    Open with :meth:`Witness.open`; nothing is connected or created until the first
    :meth:`record` or :meth:`read`.
    """

    def __init__(self, engine: Engine, *, description: str, path: Path | None) -> None:
        self._engine = engine
        self._path = path
        self.description = description
        self._schema_ready = False

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> Witness:
        """A witness at a SQLite path or a ``postgresql://`` URL.

        Raises
        ------
        AuditError
            If the location is neither (an in-memory SQLite database is refused: it would
            forget everything).
        """
        location = os.fspath(location)
        if "://" not in location:
            return cls._sqlite(Path(location))
        url = make_url(location)
        if url.get_backend_name() == "sqlite":
            if not url.database or url.database == ":memory:":
                raise AuditError("the audit witness needs a SQLite file, not an in-memory one")
            return cls._sqlite(Path(url.database))
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        if url.get_backend_name() != "postgresql":
            raise AuditError(
                f"the audit witness must be a SQLite file or a PostgreSQL URL, not {url.drivername}"
            )
        engine = create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
        shown = url.render_as_string(hide_password=True)
        return cls(engine, description=f"PostgreSQL table {WITNESS_TABLE} at {shown}", path=None)

    @classmethod
    def _sqlite(cls, path: Path) -> Witness:
        # No pool: each checkpoint (every 100 entries) opens the file afresh, so a witness
        # file deleted under a running server is noticed instead of written to in limbo.
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": CONNECT_TIMEOUT_S * 6},
            poolclass=NullPool,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL: one fsync per checkpoint written, and still durable (synchronous=FULL).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return cls(engine, description=f"SQLite file {path}", path=path)

    @property
    def is_postgresql(self) -> bool:
        """Whether the witness is a PostgreSQL table (else a SQLite file)."""
        return self._path is None

    def close(self) -> None:
        """Release the witness's connections."""
        self._engine.dispose()

    def record(self, checkpoint: Checkpoint) -> None:
        """Append one checkpoint, durably.

        Raises
        ------
        AuditWriteError
            If the witness could not be written (unreachable, no table, no permission).
        """
        row = {
            "count": checkpoint.count,
            "head_hash": checkpoint.head_hash,
            "recorded_at": checkpoint.recorded_at,
            "key_id": checkpoint.key_id,
            "hmac": checkpoint.hmac,
        }
        if self._path is not None and not self._path.exists() and self._schema_ready:
            raise AuditWriteError(
                f"The audit witness file {self._path} has disappeared since this server wrote "
                "to it: restore it from backup, or restart CaseLens to start a new witness "
                "(verify will say the new witness lacks the older checkpoints)"
            )
        try:
            if self._path is not None and not self._schema_ready:
                self._create_sqlite_file()
            with self._engine.begin() as conn:
                if self._path is not None and not self._schema_ready:
                    for ddl in _SQLITE_SCHEMA:
                        conn.exec_driver_sql(ddl)
                conn.execute(
                    text(
                        f"INSERT INTO {WITNESS_TABLE} (count, head_hash, recorded_at, key_id, "
                        "hmac) VALUES (:count, :head_hash, :recorded_at, :key_id, :hmac)"
                    ),
                    row,
                )
            self._schema_ready = True
        except (SQLAlchemyError, OSError) as exc:
            hint = (
                " (a database owner creates its table with `caselens audit witness-sql`)"
                if self.is_postgresql
                else ""
            )
            raise AuditWriteError(
                f"The audit witness ({self.description}) could not be written: {_reason(exc)}{hint}"
            ) from exc

    def _create_sqlite_file(self) -> None:
        assert self._path is not None
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600))

    def read(self) -> list[Witnessed]:
        """Every checkpoint the witness holds, in the order received ([] when it holds none).

        Raises
        ------
        AuditWriteError
            If the witness could not be read: without it, no comparison can be made.
        """
        if self._path is not None and not self._path.exists():
            return []
        try:
            with self._engine.connect() as conn:
                if not self._engine.dialect.has_table(conn, WITNESS_TABLE):
                    return []
                rows = conn.execute(
                    text(
                        "SELECT count, head_hash, recorded_at, key_id, hmac, witnessed_at "
                        f"FROM {WITNESS_TABLE} ORDER BY witnessed_at, count"
                    )
                ).all()
        except SQLAlchemyError as exc:
            raise AuditWriteError(
                f"The audit witness ({self.description}) could not be read: {_reason(exc)}"
            ) from exc
        return [
            Witnessed(
                Checkpoint(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])),
                r[5].isoformat() if hasattr(r[5], "isoformat") else str(r[5]),
            )
            for r in rows
        ]
