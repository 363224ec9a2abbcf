"""The lifecycle's tables in the app database (shared by every app server)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from caselens.access.app_tables import APP_METADATA
from caselens.lifecycle.records import MAX_TEXT

model_versions = Table(
    "model_versions",
    APP_METADATA,
    Column("model_id", String(100), primary_key=True),
    Column("bundle_sha256", String(64), primary_key=True),
    Column("card_version", String(100), nullable=False),
    Column("state", String(16), nullable=False),
    Column("registered_by", String(64), nullable=False),
    Column("registered_at", DateTime, nullable=False),
    Column("change_reason", String(MAX_TEXT), nullable=False),
    Column("folder", String(255), nullable=False),
    Column("state_changed_by", String(64), nullable=False),
    Column("state_changed_at", DateTime, nullable=False),
)

model_approvals = Table(
    "model_approvals",
    APP_METADATA,
    Column("approval_id", String(20), primary_key=True),
    Column("model_id", String(100), nullable=False),
    Column("bundle_sha256", String(64), nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("approver_role", String(20), nullable=False),
    Column("approved_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("intended_use", String(MAX_TEXT), nullable=False),
    Column("population", String(MAX_TEXT), nullable=False),
    # A JSON list of {kind, reference, summary, dated}: read only through the store.
    Column("evidence_json", Text, nullable=False),
    Column("renews", String(20), nullable=True),
    Column("audit_seq", Integer, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
    Column("expiry_recorded", Boolean, nullable=False, default=False),
    Index("ix_model_approvals_model", "model_id", "bundle_sha256"),
)
