"""Model suspension: a suspended model shows no prediction anywhere, and says why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Boolean, Column, DateTime, Engine, String, Table, select

from caselens.access.app_tables import APP_METADATA, dialect_insert
from caselens.errors import CaseLensError

#: Longest reason kept (the column's length, enforced here so every database behaves alike).
MAX_REASON_LENGTH = 2000

model_status = Table(
    "model_status",
    APP_METADATA,
    Column("model_id", String(100), primary_key=True),
    Column("suspended", Boolean, nullable=False),
    Column("reason", String(MAX_REASON_LENGTH), nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class ModelStatus:
    """Whether a model may show predictions, and who changed that, when and why."""

    model_id: str
    suspended: bool
    reason: str
    changed_by: str | None
    changed_at: dt.datetime | None

    def message(self) -> str:
        """What a user sees in place of a prediction from a suspended model."""
        return (
            f"This model is suspended, so it shows no prediction. Reason: {self.reason} "
            f"(suspended by {self.changed_by} on {self.changed_at:%Y-%m-%d %H:%M} UTC)."
        )


MIN_REASON_LENGTH = 10


def check_reason(reason: str) -> str:
    """The stripped reason for a suspension or reinstatement; raises if it is too short or
    too long."""
    text = reason.strip()
    if len(text) < MIN_REASON_LENGTH:
        raise CaseLensError(
            f"Reason: say why in at least {MIN_REASON_LENGTH} characters; it is recorded."
        )
    if len(text) > MAX_REASON_LENGTH:
        raise CaseLensError(f"Reason: at most {MAX_REASON_LENGTH} characters.")
    return text


class ModelStatusStore:
    """Suspension state per model, in the app database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        APP_METADATA.create_all(engine, tables=[model_status])

    @property
    def engine(self) -> Engine:
        """The app database engine (the model lifecycle's tables live there too)."""
        return self._engine

    def get(self, model_id: str) -> ModelStatus:
        """The model's status (active when never changed)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(model_status).where(model_status.c.model_id == model_id)
            ).first()
        if row is None:
            return ModelStatus(model_id, False, "active", None, None)
        return ModelStatus(row.model_id, row.suspended, row.reason, row.changed_by, row.changed_at)

    def set(self, model_id: str, *, suspended: bool, reason: str, by: str) -> ModelStatus:
        """Suspend or reinstate; a reason of 10 to 2000 characters is required."""
        values = dict(
            model_id=model_id,
            suspended=suspended,
            reason=check_reason(reason),
            changed_by=by,
            changed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
        with self._engine.begin() as conn:
            statement = dialect_insert(conn, model_status).values(**values)
            conn.execute(statement.on_conflict_do_update(index_elements=["model_id"], set_=values))
        return self.get(model_id)
