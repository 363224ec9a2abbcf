"""Test helper: a prediction log holding live displays and a shadow candidate's rows beside
them, written through the real tables and the real trail.

Each live display is appended as a ``viewed`` entry with its log row written alongside (as
:func:`caselens.monitoring.prediction_log.prediction_log_writer` does); the candidate's rows
are written as the shadow scorer writes a batch: one ``shadow_scored`` entry, its rows
alongside (``never_shown`` true, ``entry_seq`` None, ``source_seq`` the batch entry, paired
with the live display's report id and entry). Outcomes are imported through the real
``outcomes_imported`` path.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert

from caselens.audit import AuditEvent, AuditStore
from caselens.monitoring.outcomes import OutcomeRow, import_rows
from caselens.monitoring.tables import prediction_log, ready_engine

SHADOW_ACTION = "shadow_scored"


@dataclass(frozen=True)
class LiveRow:
    """One live display (a report shown) to write."""

    report_id: str
    patient_ref: str
    day: dt.date
    probability: float
    threshold: float
    inputs: dict
    bundle_sha256: str = "a" * 64
    model_version: str = "1.0.0"
    action: str = "viewed"


@dataclass(frozen=True)
class ShadowRow:
    """One candidate prediction beside a live display."""

    paired_report_id: str
    patient_ref: str
    probability: float
    threshold: float
    bundle_sha256: str = "c" * 64
    model_version: str = "2.0.0"


def _stamp(day: dt.date, n: int) -> str:
    return f"{day.isoformat()}T10:{(n // 60) % 60:02d}:{n % 60:02d}.000Z"


def write_live(store: AuditStore, model_id: str, rows: list[LiveRow]) -> dict[str, int]:
    """Each live display as its own ``viewed`` entry with its log row; report id → seq."""
    ready_engine(store)
    seqs: dict[str, int] = {}
    for n, row in enumerate(rows):
        values = {
            "source_seq": None,
            "simulated": False,
            "run_id": None,
            "recorded_at": _stamp(row.day, n),
            "recorded_on": row.day.isoformat(),
            "action": row.action,
            "audience": "clinician",
            "model_id": model_id,
            "model_version": row.model_version,
            "patient_ref": row.patient_ref,
            "report_id": row.report_id,
            "probability": row.probability,
            "threshold": row.threshold,
            "conformal_set": None,
            "limitation_codes": "[]",
            "inputs_json": json.dumps(row.inputs, sort_keys=True),
            "bundle_sha256": row.bundle_sha256,
            "never_shown": False,
            "paired_report_id": None,
            "paired_entry_seq": None,
        }

        def write(conn, entry, values=values):
            conn.execute(insert(prediction_log).values(**values, entry_seq=entry.seq))

        entry = store.append(
            AuditEvent(
                actor_id="dr.lee",
                actor_name="Dr. Ana Lee",
                actor_role="clinician",
                audience="clinician",
                action=row.action,
                patient_ref=row.patient_ref,
                model_id=model_id,
                model_version=row.model_version,
            ),
            alongside=write,
        )
        seqs.setdefault(row.report_id, entry.seq)
    return seqs


def write_simulated_display(
    store: AuditStore, model_id: str, row: LiveRow, *, probability: float
) -> None:
    """A simulated row with a live display's report id (written first): never a live row."""
    ready_engine(store)

    def write(conn, entry):
        conn.execute(
            insert(prediction_log).values(
                entry_seq=None, source_seq=entry.seq, simulated=True, run_id="sim1",
                recorded_at=_stamp(row.day, 0), recorded_on=row.day.isoformat(),
                action="viewed", audience="clinician", model_id=model_id,
                model_version=row.model_version, patient_ref=row.patient_ref,
                report_id=row.report_id, probability=probability, threshold=row.threshold,
                conformal_set=None, limitation_codes="[]",
                inputs_json=json.dumps(row.inputs, sort_keys=True),
                bundle_sha256=row.bundle_sha256, never_shown=False,
            )
        )  # fmt: skip

    store.append(
        AuditEvent(
            actor_id="cli", actor_name="caselens monitor simulate", actor_role="system",
            audience="system", action="monitoring_simulated", model_id=model_id,
            detail={"run_id": "sim1", "predictions": 1},
        ),
        alongside=write,
    )  # fmt: skip


def write_shadow_batch(
    store: AuditStore,
    model_id: str,
    rows: list[ShadowRow],
    live_seqs: dict[str, int],
    *,
    day: dt.date,
) -> int:
    """One ``shadow_scored`` entry and its never-shown rows in one transaction; its seq."""
    ready_engine(store)
    shas = {r.bundle_sha256 for r in rows}

    def write(conn, entry):
        conn.execute(
            insert(prediction_log),
            [
                {
                    "entry_seq": None,
                    "source_seq": entry.seq,
                    "simulated": False,
                    "run_id": None,
                    "recorded_at": _stamp(day, n),
                    "recorded_on": day.isoformat(),
                    "action": SHADOW_ACTION,
                    "audience": "system",
                    "model_id": model_id,
                    "model_version": r.model_version,
                    "patient_ref": r.patient_ref,
                    "report_id": f"shadow-{r.bundle_sha256[:8]}-{r.paired_report_id}",
                    "probability": r.probability,
                    "threshold": r.threshold,
                    "conformal_set": None,
                    "limitation_codes": "[]",
                    "inputs_json": "{}",
                    "bundle_sha256": r.bundle_sha256,
                    "never_shown": True,
                    "paired_report_id": r.paired_report_id,
                    "paired_entry_seq": live_seqs.get(r.paired_report_id),
                }
                for n, r in enumerate(rows)
            ],
        )

    entry = store.append(
        AuditEvent(
            actor_id="lifecycle",
            actor_name="caselens model lifecycle",
            actor_role="system",
            audience="system",
            action=SHADOW_ACTION,
            model_id=model_id,
            detail={
                "model_id": model_id,
                "candidate_bundle_sha256": sorted(shas),
                "rows": len(rows),
            },
        ),
        alongside=write,
    )
    return entry.seq


def write_outcomes(store: AuditStore, model_id: str, outcomes: list[tuple[str, int, dt.date]]):
    """Outcomes (patient, 0 or 1, known on) through the real import path."""
    rows = [OutcomeRow(ref, model_id, y, day) for ref, y, day in outcomes]
    return import_rows(store, rows, sha256="0" * 64, source_name="outcomes.csv")


def random_log(
    store: AuditStore,
    model_id: str,
    *,
    patients: int = 300,
    with_outcomes: int = 240,
    females: int = 7,
    seed: int = 7,
    start: dt.date = dt.date(2026, 11, 2),
    live_sha: str = "a" * 64,
) -> dict[str, object]:
    """A log of ``patients`` live displays (every tenth shown twice) with the candidate
    scored beside each, outcomes for the first ``with_outcomes`` patients (known on the
    display day), ``females`` women (a small subgroup) and, as noise that must be left out:
    a second candidate's rows, a live display the candidate never scored, a shadow row whose
    display is not in the log, and a simulated row with a paired report id."""
    rng = np.random.default_rng(seed)
    live_p = rng.beta(2, 3, patients)
    cand_p = np.clip(live_p + rng.normal(0.02, 0.08, patients), 0.001, 0.999)
    y = (rng.random(patients) < live_p).astype(int)
    live_rows: list[LiveRow] = []
    shadow: list[ShadowRow] = []
    for i in range(patients):
        day = start + dt.timedelta(days=i % 28)
        inputs = {
            "age": int(30 + (i * 7) % 50),
            "sex": "Female" if i < females else "Male",
        }
        row = LiveRow(
            f"R-{i:04d}", f"P-{i:04d}", day, float(live_p[i]), 0.5, inputs, bundle_sha256=live_sha
        )
        live_rows.append(row)
        if i % 10 == 0:  # shown again (previewed for the patient): the same report
            live_rows.append(
                LiveRow(row.report_id, row.patient_ref, day, row.probability, 0.5, inputs,
                        action="previewed")
            )  # fmt: skip
        shadow.append(ShadowRow(row.report_id, row.patient_ref, float(cand_p[i]), 0.45))
    extra = LiveRow("R-UNSCORED", "P-9999", start, 0.9, 0.5, {"age": 60, "sex": "Male"})
    live_rows.append(extra)
    write_simulated_display(store, model_id, live_rows[5], probability=0.99)
    seqs = write_live(store, model_id, live_rows)
    half = patients // 2
    write_shadow_batch(store, model_id, shadow[:half], seqs, day=start)
    write_shadow_batch(store, model_id, shadow[half:], seqs, day=start + dt.timedelta(days=28))
    other = [ShadowRow(s.paired_report_id, s.patient_ref, 0.01, 0.3, "d" * 64) for s in shadow[:20]]
    other.append(ShadowRow("R-GONE", "P-GONE", 0.5, 0.45))
    write_shadow_batch(store, model_id, other, seqs, day=start)
    outcomes = [
        (f"P-{i:04d}", int(y[i]), start + dt.timedelta(days=i % 28)) for i in range(with_outcomes)
    ]
    write_outcomes(store, model_id, outcomes)
    return {"live": live_p, "candidate": cand_p, "y": y, "seqs": seqs}
