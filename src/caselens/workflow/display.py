"""Recording what is shown, and the engine's wording of what every screen prints.

Every display is written to the audit trail before it renders.

The app calls :func:`record_display` with the report it is about to draw; if the write
fails, :class:`~caselens.audit.AuditWriteError` propagates and the app shows no result
(fail-closed).

A display (``viewed``, ``patient_viewed``, ``previewed``) also writes its row of the
monitoring prediction log, in the same transaction as its entry: both, or neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditEventError, AuditStore
from caselens.explain.interval_text import format_interval, format_percent, interval_level_text
from caselens.explain.interval_words import interval_covers
from caselens.explain.report import Audience, CaseReport, displayed_digest
from caselens.monitoring.prediction_log import DISPLAY_ACTIONS, prediction_log_writer

__all__ = [
    "NOT_RECORDED_MESSAGE",
    "format_interval",
    "format_percent",
    "interval_covers",
    "interval_level_text",
    "record_display",
    "record_event",
]

#: What the user sees when the trail cannot take the entry.
NOT_RECORDED_MESSAGE = "This could not be recorded in the audit trail, so it is not shown or done."


def record_display(
    store: AuditStore,
    report: CaseReport,
    viewer: Viewer,
    *,
    audience: Audience,
    action: str = "viewed",
    session_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one display of ``report`` to the audit trail and return the entry.

    Raises
    ------
    AuditWriteError
        If the entry could not be durably written; the caller must not show the report.
    """
    # What monitoring judges is what was shown: the log row goes in with the entry.
    writer = prediction_log_writer(store, report) if action in DISPLAY_ACTIONS else None
    return record_event(
        store,
        viewer,
        action=action,
        audience=audience,
        session_id=session_id,
        report=report,
        detail=detail,
        report_shown=True,
        alongside=writer,
    )


def record_event(
    store: AuditStore,
    viewer: Viewer,
    *,
    action: str,
    audience: str,
    session_id: str | None = None,
    patient_ref: str | None = None,
    report: CaseReport | None = None,
    detail: dict[str, Any] | None = None,
    report_shown: bool = False,
    alongside: Callable[[Connection, AuditEntry], None] | None = None,
) -> AuditEntry:
    """Append an event (feedback, sign-in, replay, export, suspension …) that may concern a
    report; with ``report_shown`` the report's JSON and displayed-text digest are stored.
    ``alongside`` writes rows derived from the entry in its transaction (see
    ``AuditStore.append``)."""
    report_json = None
    if report_shown and report is not None:
        try:
            report_json = report.to_json()
        except ValueError as exc:  # e.g. NaN: not valid JSON, so not a recordable report
            raise AuditEventError(f"report: it cannot be recorded as JSON ({exc})") from exc
    return store.append(
        AuditEvent(
            actor_id=viewer.user_id,
            actor_name=viewer.name,
            actor_role=viewer.role,
            audience=audience,
            action=action,
            patient_ref=patient_ref if report is None else report.case.case_id,
            model_id=None if report is None else report.model.model_id,
            model_version=None if report is None else report.model.version,
            model_sha256=None if report is None else report.model.sha256,
            report=report_json,
            rendered_digest=displayed_digest(report, audience)  # type: ignore[arg-type]
            if report_shown and report is not None
            else None,
            session_id=session_id,
            detail=detail,
        ),
        alongside=alongside,
    )
