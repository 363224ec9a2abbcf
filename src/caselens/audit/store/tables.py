"""The audit trail's tables (SQLAlchemy Core): one append-only table of chained, signed
entries and the schema version; the triggers that refuse changes; the entry filters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
)

from caselens.audit.records import (
    ENTRY_FIELDS,
    format_time,
)

SCHEMA_VERSION = 1
#: The action of the entry that records a change of signing key.
KEY_ROTATED = "key_rotated"


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
ENTRY_COLUMNS = tuple(entries_table.columns)

# Triggers refuse UPDATE and DELETE: they stop mistakes, not attackers (the chain does that).
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
)
PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION caselens_audit_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$",
    "CREATE OR REPLACE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION caselens_audit_append_only()",
    "CREATE OR REPLACE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION caselens_audit_append_only()",
)


def as_time(value: datetime | str | None) -> str | None:
    """A time as the trail writes it (a string is taken as already written so)."""
    if value is None or isinstance(value, str):
        return value
    return format_time(value)


def filtered(
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
        stmt = stmt.where(t.recorded_at >= as_time(since))
    if until is not None:
        stmt = stmt.where(t.recorded_at < as_time(until))
    return stmt
