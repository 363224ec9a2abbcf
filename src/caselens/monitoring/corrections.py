"""Correcting an outcome already imported: a recorded step, never an overwrite.

An import refuses a row that contradicts an outcome already held, because monitoring may
already have judged the model with it. When the held outcome was wrong (a coding error, a
readmission found late), the correction is its own act: a CSV of the same columns, each
row naming an outcome already held (same patient, model and date) and its corrected
value, with a reason. Every row is checked first; one bad row and nothing is written. A
sound file is written in one transaction with its ``outcomes_corrected`` audit entry, which
names the reason and each change (from → to). The imported row stays as it was: the
correction is a new row, and the newest correction of an outcome is its value from then on
(:func:`caselens.monitoring.tables.current_outcome`), in linking and in later imports.
Figures computed before the correction stay in the trail as they were judged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditStore
from caselens.monitoring.outcomes import (
    MAX_ERRORS_LISTED,
    OutcomeImportError,
    OutcomeRow,
    check_rows,
    held_outcomes,
    read_outcome_csv,
)
from caselens.monitoring.tables import (
    outcome_correction_table,
    ready_engine,
)

#: The audit action of a correction.
CORRECTED_ACTION = "outcomes_corrected"
#: A reason is required, and kept whole up to this length.
MAX_REASON_CHARS = 1000
#: Changes listed one by one in the audit entry (the rest are counted; the file's SHA-256
#: identifies them all).
MAX_CHANGES_IN_ENTRY = 1000
_CHUNK = 500


class OutcomeCorrectionError(OutcomeImportError):
    """A correction refused; nothing was written. ``problems`` names each row and field."""

    done = "corrected"


@dataclass(frozen=True)
class CorrectionResult:
    """What a correction did: rows corrected, the file's digest and its audit entry."""

    corrected: int
    sha256: str
    seq: int


def _live(conn: Connection, rows: Sequence[OutcomeRow]) -> dict[tuple[str, str, str], Any]:
    """The live outcomes held for these rows' keys (simulated ones are regenerated, not
    corrected)."""
    return {k: h for k, h in held_outcomes(conn, rows).items() if not h.simulated}


def _checked_reason(reason: str) -> str:
    """The correction's reason with its spaces folded; refused when empty or too long."""
    why = " ".join(reason.split())
    if not why:
        raise OutcomeCorrectionError(["reason: say why the outcomes are corrected"])
    if len(why) > MAX_REASON_CHARS:
        raise OutcomeCorrectionError([f"reason: {len(why)} characters; at most {MAX_REASON_CHARS}"])
    return why


def _changes(
    store: AuditStore, records: list[dict[str, Any]], rows: list[OutcomeRow]
) -> list[dict[str, Any]]:
    """Each row's change from the outcome held now; refused, naming each row, when a row has
    no outcome held or would not change it."""
    lines: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(records, start=2):
        key = (str(row.get("model_id")).strip(), str(row.get("patient_ref")).strip())
        lines.setdefault((*key, str(row.get("known_on")).strip()), line)
    with ready_engine(store).connect() as conn:
        held = _live(conn, rows)
    changes: list[dict[str, Any]] = []
    problems: list[str] = []
    for row in rows:
        line = lines.get(row.key, 0)
        found = held.get(row.key)
        if found is None:
            problems.append(
                f"row {line}, known_on: no outcome is held for patient {row.patient_ref}, "
                f"model {row.model_id} on {row.known_on}; import it with caselens outcomes "
                "import instead"
            )
        elif found.value == row.outcome:
            problems.append(
                f"row {line}, outcome: the outcome held is already {row.outcome}; nothing "
                "to correct"
            )
        else:
            changes.append({"row": row, "held": found})
    if problems:
        raise OutcomeCorrectionError(problems[:MAX_ERRORS_LISTED], len(problems))
    return changes


def _entry_detail(
    source_name: str, sha256: str, why: str, changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the correction's audit entry says: the file, the reason and the changes."""
    return {
        "file": Path(source_name).name[:200],
        "sha256": sha256,
        "reason": why,
        "corrected": len(changes),
        "models": sorted({c["row"].model_id for c in changes}),
        "changes": [
            {
                "patient_ref": c["row"].patient_ref,
                "model_id": c["row"].model_id,
                "known_on": c["row"].known_on.isoformat(),
                "from": c["held"].value,
                "to": c["row"].outcome,
            }
            for c in changes[:MAX_CHANGES_IN_ENTRY]
        ],
    }


def correct_outcomes(
    store: AuditStore,
    data: bytes,
    *,
    reason: str,
    source_name: str = "corrections.csv",
    known_models: Iterable[str] | None = None,
    actor: Viewer | None = None,
    today: dt.date | None = None,
) -> CorrectionResult:
    """Check and apply an outcome-correction CSV, all or nothing, recorded in the trail.

    Parameters
    ----------
    store : AuditStore
        The trail; corrections go in its database, in the same transaction as the entry.
    data : bytes
        CSV with the import's columns: ``patient_ref, model_id, outcome, known_on``, where
        ``outcome`` is the corrected value.
    reason : str
        Why the outcomes are corrected (required, kept in the entry).
    source_name, known_models, actor, today
        As for :func:`caselens.monitoring.outcomes.import_outcomes`.

    Raises
    ------
    OutcomeCorrectionError
        Naming each bad row and field (a row with no outcome held, or one that would not
        change it); nothing was written.
    AuditWriteError
        If the trail could not take the entry; nothing was written.
    """
    why = _checked_reason(reason)
    try:
        records = read_outcome_csv(data)
        rows = check_rows(records, known_models=known_models, today=today)
    except OutcomeImportError as exc:
        raise OutcomeCorrectionError(exc.problems, exc.total) from exc
    changes = _changes(store, records, rows)
    who = actor or Viewer("cli", "caselens outcomes", "system")
    sha256 = hashlib.sha256(data).hexdigest()
    detail = _entry_detail(source_name, sha256, why, changes)

    def write(conn: Connection, entry: AuditEntry) -> None:
        # Checked again inside the transaction: a correction or import that landed since
        # the check above would make this one stale, so the whole transaction fails.
        now = _live(conn, [c["row"] for c in changes])
        if any(now.get(c["row"].key) != c["held"] for c in changes):
            raise OutcomeCorrectionError(
                ["file: the outcomes changed while this correction was checked; run it again"]
            )
        conn.execute(
            insert(outcome_correction_table),
            [
                {
                    "outcome_id": c["held"].row_id,
                    "outcome": c["row"].outcome,
                    "correct_seq": entry.seq,
                }
                for c in changes
            ],
        )

    entry = store.append(
        AuditEvent(
            actor_id=who.user_id,
            actor_name=who.name,
            actor_role=who.role,
            audience="system",
            action=CORRECTED_ACTION,
            detail=detail,
        ),
        alongside=write,
    )
    return CorrectionResult(len(changes), sha256, entry.seq)
