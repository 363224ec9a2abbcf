"""The monitoring tables, kept in the audit store's own database.

They live beside ``audit_entry`` so that a row derived from an entry (a prediction shown,
an outcome import, an alert) is written in the very transaction that writes the entry:
both are stored, or neither. They are derived data, never the record itself: the trail is
the truth and ``verify_prediction_log`` checks the log against it.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from caselens.audit import AuditStore

metadata = MetaData()

# BIGINT on PostgreSQL; INTEGER on SQLite, where only "INTEGER PRIMARY KEY" autoincrements.
_ID = BigInteger().with_variant(Integer, "sqlite")

prediction_log = Table(
    "monitoring_prediction",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    # The display entry this row is derived from (None for simulated rows): one row each.
    Column("entry_seq", _ID, unique=True),
    # For simulated rows: the ``monitoring_simulated`` entry that wrote the batch.
    Column("source_seq", _ID),
    Column("simulated", Boolean, nullable=False),
    Column("run_id", Text),
    Column("recorded_at", Text, nullable=False),
    Column("recorded_on", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("audience", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("patient_ref", Text),
    Column("report_id", Text, nullable=False),
    Column("probability", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("conformal_set", Text),
    Column("limitation_codes", Text, nullable=False),
    Column("inputs_json", Text, nullable=False),
    # Model lifecycle (issue 27). The version that produced the row (its bundle SHA-256;
    # None in rows written before versions were kept).
    Column("bundle_sha256", Text),
    # A shadow candidate's prediction: computed beside a live display, never shown to
    # anyone and never a display. Its ``source_seq`` is the ``shadow_scored`` entry that
    # wrote its batch; ``paired_report_id`` and ``paired_entry_seq`` are the live display
    # it was computed beside (the same patient and case). Every figure of the live model
    # leaves these rows out.
    Column("never_shown", Boolean, nullable=False, server_default=text("false")),
    Column("paired_report_id", Text),
    Column("paired_entry_seq", _ID),
    Index("ix_monitoring_prediction_model_time", "model_id", "simulated", "recorded_at"),
    # What every figure of the live model reads: its displays (never_shown false) by time,
    # so leaving a shadow candidate's rows out still counts from the index alone.
    Index(
        "ix_monitoring_prediction_shown_time",
        "model_id",
        "simulated",
        "never_shown",
        "recorded_at",
    ),
    Index("ix_monitoring_prediction_patient", "model_id", "patient_ref"),
    # The reviewer finds a display by its report id (caselens.workflow.trail_search).
    Index("ix_monitoring_prediction_report", "report_id"),
)

outcome_table = Table(
    "monitoring_outcome",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("model_id", Text, nullable=False),
    Column("patient_ref", Text, nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("known_on", Text, nullable=False),
    # The audit entry of the import (``outcomes_imported`` or ``monitoring_simulated``).
    Column("import_seq", _ID, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("run_id", Text),
    UniqueConstraint("model_id", "patient_ref", "known_on", name="uq_monitoring_outcome"),
    Index("ix_monitoring_outcome_patient", "model_id", "patient_ref"),
    # The outcomes that can link to one period are a range of known_on (figures.py).
    Index("ix_monitoring_outcome_known", "model_id", "simulated", "known_on"),
)

#: Corrections of outcomes already imported: append-only, each recorded by its
#: ``outcomes_corrected`` entry. The newest correction of an outcome row is its value.
outcome_correction_table = Table(
    "monitoring_outcome_correction",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("outcome_id", _ID, nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("correct_seq", _ID, nullable=False),
    Index("ix_monitoring_outcome_correction_outcome", "outcome_id", "id"),
)


def current_outcome() -> ColumnElement[int]:
    """An outcome row's value now: its newest correction, else the value imported.

    Every query that reads outcomes (linking, re-import checks, corrections) selects this
    instead of ``outcome_table.c.outcome``, so a correction counts everywhere at once.
    """
    c = outcome_correction_table.c
    newest = (
        select(c.outcome)
        .where(c.outcome_id == outcome_table.c.id)
        .order_by(c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(newest, outcome_table.c.outcome)


alert_table = Table(
    "monitoring_alert",
    metadata,
    Column("alert_id", Text, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("run_id", Text),
    Column("raised_seq", _ID, nullable=False),
    Column("detail_json", Text, nullable=False),
    Index("ix_monitoring_alert_model", "model_id"),
)

# Figures per model, source and period, stored under the fingerprint of the data they were
# computed from (caselens.monitoring.figures_cache): derived data, signed, never evidence.
figures_cache_table = Table(
    "monitoring_figures_cache",
    metadata,
    Column("slot", Text, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("run_id", Text),
    Column("fingerprint", Text, nullable=False),
    Column("figures_json", Text, nullable=False),
    Column("mac", Text, nullable=False),
    Column("computed_at", Text, nullable=False),
)

# Advisory lock taken while the tables are created on PostgreSQL: the bytes of "caselmon"
# (the trail uses "caselens", the app database "caselapp"), so two servers opening a new
# database at once do not both create a table.
_PG_CREATE_LOCK_ID = int.from_bytes(b"caselmon", "big")
_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


def engine_of(store: AuditStore) -> Engine:
    """The engine of the audit store, so derived rows share its database and transactions."""
    return store.engine


def ensure_tables(engine: Engine) -> None:
    """Create the monitoring tables that are missing (once per engine, under a lock on
    PostgreSQL). Safe to call before every write: after the first call it costs nothing."""
    if engine in _READY:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_CREATE_LOCK_ID})
        metadata.create_all(conn, checkfirst=True)
        # create_all skips the indexes of a table that already exists: add those added
        # to it since (a database made by an older CaseLens).
        _add_missing_columns(conn)
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    _READY.add(engine)


#: Columns added to existing tables since their first release: (table, column, DDL type).
#: A database made by an older CaseLens gets them on first use (their old rows: a live
#: display's, so ``never_shown`` false and no version id).
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("monitoring_prediction", "bundle_sha256", "TEXT"),
    ("monitoring_prediction", "never_shown", "BOOLEAN NOT NULL DEFAULT false"),
    ("monitoring_prediction", "paired_report_id", "TEXT"),
    ("monitoring_prediction", "paired_entry_seq", "BIGINT"),
)


def _add_missing_columns(conn: Any) -> None:
    from sqlalchemy import inspect

    inspector = inspect(conn)
    present: dict[str, set[str]] = {}
    for table, column, ddl in _ADDED_COLUMNS:
        if table not in present:
            present[table] = {c["name"] for c in inspector.get_columns(table)}
        if column not in present[table]:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
            present[table].add(column)


def ready_engine(store: AuditStore) -> Engine:
    """The audit store's engine with the monitoring tables in place."""
    engine = engine_of(store)
    ensure_tables(engine)
    return engine
