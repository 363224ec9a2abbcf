"""A shadow candidate's predictions in the prediction log: one audit entry per batch.

A candidate version set to **shadow** (:mod:`caselens.lifecycle`) is scored beside the live
version on the cases the live version displayed (:mod:`.shadow_scorer`, off the click path).
Its predictions are never shown to anyone, so they are not displays: no display entry, no
report in the trail. Each batch is written as ONE ``shadow_scored`` entry (the system's,
audience ``system``) and its rows, in one transaction (``AuditStore.append(alongside=…)``):
both, or neither.

A shadow row is a ``monitoring_prediction`` row with

- ``never_shown`` true, ``simulated`` false, ``entry_seq`` None (it is no display),
- ``source_seq`` the batch's ``shadow_scored`` entry,
- ``paired_report_id`` / ``paired_entry_seq`` the live display it was computed beside (the
  same patient and the same case values), ``patient_ref`` that display's patient,
- ``recorded_at`` / ``recorded_on`` the paired display's time (so that a period holds the
  candidate's predictions on the very cases the live model showed in it),
- ``model_id`` the model id, ``model_version`` the candidate card's version,
  ``bundle_sha256`` the candidate's version id,
- ``report_id`` a deterministic id of the shadow computation
  (:func:`shadow_report_id`: the candidate's version id and the paired report id), so the
  same live report scored by two servers is found once,
- ``probability`` the candidate's calibrated probability (what the candidate's own report
  would show), ``threshold`` the candidate card's, ``conformal_set`` None (the candidate's
  confidence model is not built beside a live server), ``limitation_codes`` ``[]`` (no
  limitation is worked out for a number nobody sees), ``inputs_json`` the case values as
  the candidate took them,
- ``action`` ``shadow_scored``, ``audience`` ``system``.

Every figure of the live model leaves these rows out (``never_shown`` false in every query
that means displays); :func:`caselens.monitoring.prediction_log.verify_prediction_log`
checks each batch against its entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import SQLAlchemyError

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditStore, AuditWriteError
from caselens.monitoring.prediction_log import SHADOW_ACTION
from caselens.monitoring.tables import prediction_log, ready_engine

__all__ = ["SHADOW_ACTION", "ShadowBatch", "ShadowRow", "shadow_report_id", "write_shadow_batch"]
#: Report ids looked up at a time when a batch checks which rows are already logged.
_LOOKUP_CHUNK = 500


def shadow_report_id(candidate_bundle_sha256: str, paired_report_id: str) -> str:
    """The id of the candidate's computation beside one live report: SHA-256 over a domain
    prefix, the candidate's version id and the live report id (the same inputs give the
    same id, on every server).

    Examples
    --------
    >>> shadow_report_id("ab" * 32, "cd" * 32) == shadow_report_id("ab" * 32, "cd" * 32)
    True
    """
    text = f"caselens-shadow-v1\n{candidate_bundle_sha256}\n{paired_report_id}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ShadowRow:
    """One prediction of the candidate beside one live display (see the module doc)."""

    report_id: str
    paired_report_id: str
    paired_entry_seq: int
    patient_ref: str | None
    recorded_at: str
    probability: float
    threshold: float
    conformal_set: str | None
    inputs_json: str


@dataclass(frozen=True)
class ShadowBatch:
    """What one ``shadow_scored`` entry records: the rows of one candidate of one model, and
    the cases not scored since the last batch, counted by reason.

    Attributes
    ----------
    model_id : str
    live_bundle_sha256 : str or None
        The live version whose displays were paired (None for a report recorded before
        versions were kept).
    candidate_bundle_sha256, candidate_version, candidate_model_sha256 : str
        The shadow version (its version id, card version and model file hash).
    rows : tuple of ShadowRow
    skipped : mapping of str to int
        Cases not scored, by reason (e.g. ``missing_required``: an input the candidate
        requires that the live case lacks; ``out_of_range``: a value the candidate refuses;
        ``model_error``: the candidate's model failed on the case).
    dropped : int
        Displays not scored because the scorer's queue was full (or the server stopped
        before it got to them).
    """

    model_id: str
    live_bundle_sha256: str | None
    candidate_bundle_sha256: str
    candidate_version: str
    candidate_model_sha256: str
    rows: tuple[ShadowRow, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)
    dropped: int = 0

    @property
    def empty(self) -> bool:
        """Nothing to record: no row, no skip, no drop."""
        return not self.rows and not any(self.skipped.values()) and not self.dropped


def _already_logged(conn: Connection, report_ids: list[str]) -> set[str]:
    c = prediction_log.c
    found: set[str] = set()
    for start in range(0, len(report_ids), _LOOKUP_CHUNK):
        chunk = report_ids[start : start + _LOOKUP_CHUNK]
        found.update(
            r[0]
            for r in conn.execute(
                select(c.report_id).where(c.report_id.in_(chunk), c.never_shown.is_(True))
            )
        )
    return found


def _row_values(batch: ShadowBatch, row: ShadowRow, source_seq: int) -> dict[str, Any]:
    return {
        "entry_seq": None,
        "source_seq": source_seq,
        "simulated": False,
        "run_id": None,
        "recorded_at": row.recorded_at,
        "recorded_on": row.recorded_at[:10],
        "action": SHADOW_ACTION,
        "audience": "system",
        "model_id": batch.model_id,
        "model_version": batch.candidate_version,
        "patient_ref": row.patient_ref,
        "report_id": row.report_id,
        "probability": float(row.probability),
        "threshold": float(row.threshold),
        "conformal_set": row.conformal_set,
        "limitation_codes": "[]",
        "inputs_json": row.inputs_json,
        "bundle_sha256": batch.candidate_bundle_sha256,
        "never_shown": True,
        "paired_report_id": row.paired_report_id,
        "paired_entry_seq": row.paired_entry_seq,
    }


def write_shadow_batch(store: AuditStore, batch: ShadowBatch, viewer: Viewer) -> AuditEntry | None:
    """Record one batch: its ``shadow_scored`` entry and its rows in one transaction.

    Rows whose shadow computation is already logged (the same live report scored by
    another server sharing the database) are left out and counted as
    ``already_scored``. Nothing is written for an empty batch (returns None).

    Parameters
    ----------
    store : AuditStore
    batch : ShadowBatch
    viewer : Viewer
        The system viewer the entry names (the workflow passes the model lifecycle's).

    Returns
    -------
    AuditEntry or None

    Raises
    ------
    AuditWriteError
        If the entry (and so its rows) could not be written: nothing was written.
    """
    if batch.empty:
        return None
    try:
        engine = ready_engine(store)
        with engine.connect() as conn:
            logged = _already_logged(conn, [r.report_id for r in batch.rows])
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise AuditWriteError(
            f"The shadow batch could not be recorded: the prediction log could not be read "
            f"({reason})"
        ) from exc
    rows = [r for r in batch.rows if r.report_id not in logged]
    skipped = {k: int(v) for k, v in sorted(batch.skipped.items()) if v}
    if len(rows) < len(batch.rows):
        skipped["already_scored"] = len(batch.rows) - len(rows)
    paired = [r.paired_entry_seq for r in rows]
    detail = {
        "model_id": batch.model_id,
        "live_bundle_sha256": batch.live_bundle_sha256,
        "candidate_bundle_sha256": batch.candidate_bundle_sha256,
        "candidate_version": batch.candidate_version,
        "rows": len(rows),
        "skipped": skipped,
        "dropped": int(batch.dropped),
        "first_paired_entry": min(paired) if paired else None,
        "last_paired_entry": max(paired) if paired else None,
        "never_shown": True,
    }

    def write(conn: Connection, entry: AuditEntry) -> None:
        if rows:
            conn.execute(insert(prediction_log), [_row_values(batch, r, entry.seq) for r in rows])

    return store.append(
        AuditEvent(
            actor_id=viewer.user_id,
            actor_name=viewer.name,
            actor_role=viewer.role,
            audience="system",
            action=SHADOW_ACTION,
            model_id=batch.model_id,
            model_version=batch.candidate_version,
            model_sha256=batch.candidate_model_sha256,
            detail=detail,
        ),
        alongside=write,
    )
