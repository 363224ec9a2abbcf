"""The app database's shared table metadata and its one dialect difference.

A leaf: the stores (accounts, sign-in throttle, browser sessions, model status) define their
tables on :data:`APP_METADATA`, and :mod:`caselens.access.app_database` creates them all at
once; neither imports the other's private parts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, MetaData, Table

#: Every table of the app database.
APP_METADATA = MetaData()


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The connection's dialect's INSERT for ``table``: it has ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (same arguments on SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise NotImplementedError(
        f"The app database supports SQLite and PostgreSQL, not {conn.dialect.name}."
    )
