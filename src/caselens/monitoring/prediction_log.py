"""The prediction log: one row per recorded display of a report, written with its entry.

Monitoring must judge what was actually shown, so the log is fed by the display recording
itself (:func:`caselens.workflow.display.record_display` passes :func:`prediction_log_writer` to
``AuditStore.append(alongside=…)``): the entry and its row are written in one transaction,
or neither is. The row holds what monitoring needs without re-reading reports — model and
version, time, the entry's sequence number, patient reference, probability, the case
values (bounded JSON, for input drift), the conformal set and the limitation codes shown.

The log is derived data. :func:`verify_prediction_log` checks it against the trail: every
display entry has its row with the same probability, model and patient, and no row stands
without its entry. Simulated rows (``simulated`` true) never come from a display: each
batch points at the ``monitoring_simulated`` entry that wrote it. A shadow candidate's rows
(``never_shown`` true, :mod:`caselens.monitoring.shadow_log`) are no display either: each
batch points at the ``shadow_scored`` entry that wrote it, and each row at the live display
it was computed beside.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from caselens.audit import AuditEntry, AuditStore, AuditWriteError
from caselens.audit.store.tables import entries_table
from caselens.explain.report import CaseReport
from caselens.monitoring.tables import prediction_log, ready_engine

#: The audit actions that are displays of a report to a person (each gets one log row).
DISPLAY_ACTIONS: tuple[str, ...] = ("viewed", "patient_viewed", "previewed")
#: The audit action of a batch of simulated predictions and outcomes.
SIMULATED_ACTION = "monitoring_simulated"
#: The audit action of a batch of a shadow candidate's predictions (never shown); the same
#: word as :data:`caselens.monitoring.shadow_log.SHADOW_ACTION`.
SHADOW_ACTION = "shadow_scored"
#: Longest text kept for one input value: case values are validated against the feature
#: schema, so this only stops a bundle with very long category names from bloating rows.
MAX_INPUT_TEXT = 200
#: Longest inputs JSON kept per row; beyond it the values are dropped (and drift cannot use
#: this row) rather than the display failing.
MAX_INPUTS_CHARS = 32 * 1024
#: Problems listed by a verification before it only counts them.
MAX_PROBLEMS_LISTED = 20
#: Rows fetched at a time while verifying.
_BATCH = 2000


def bounded_inputs(values: Mapping[str, Any]) -> str:
    """Case values as canonical JSON, strings cut at ``MAX_INPUT_TEXT``, NaN as null, and
    ``{}`` if the whole still exceeds ``MAX_INPUTS_CHARS``."""
    kept: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        elif isinstance(value, str):
            value = value[:MAX_INPUT_TEXT]
        elif value is not None and not isinstance(value, (int, float, bool)):
            value = str(value)[:MAX_INPUT_TEXT]
        kept[str(name)[:MAX_INPUT_TEXT]] = value
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text if len(text) <= MAX_INPUTS_CHARS else "{}"


def report_columns(report: CaseReport) -> dict[str, Any]:
    """The log columns that come from the report itself (everything but the entry's)."""
    conformal = report.confidence.conformal
    return {
        "source_seq": None,
        "simulated": False,
        "run_id": None,
        "model_id": report.model.model_id,
        "model_version": report.model.version,
        "patient_ref": report.case.case_id,
        "report_id": report.report_id,
        "probability": float(report.confidence.probability),
        "threshold": float(report.confidence.threshold),
        "conformal_set": None if conformal is None else json.dumps(list(conformal.labels)),
        "limitation_codes": json.dumps([lim.code for lim in report.limitations]),
        "inputs_json": bounded_inputs(report.case.values()),
        "bundle_sha256": report.model.bundle_sha256,
        "never_shown": False,
        "paired_report_id": None,
        "paired_entry_seq": None,
    }


def entry_columns(entry: AuditEntry) -> dict[str, Any]:
    """The log columns that come from the entry that recorded the display."""
    return {
        "entry_seq": entry.seq,
        "recorded_at": entry.recorded_at,
        "recorded_on": entry.recorded_at[:10],
        "action": entry.action,
        "audience": entry.audience,
    }


def prediction_log_writer(
    store: AuditStore, report: CaseReport
) -> Callable[[Connection, AuditEntry], None]:
    """The ``alongside`` writer for one display of ``report``: it inserts the log row with
    the entry's transaction.

    The tables are created and the report's columns computed here, before the trail's
    write lock is taken, so the transaction only inserts.

    Raises
    ------
    AuditWriteError
        If the log's tables cannot be created: then the display is not recorded, and so
        not shown (fail-closed, like the trail itself).
    """
    try:
        ready_engine(store)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise AuditWriteError(
            f"The audit entry could not be recorded: its prediction log could not be "
            f"prepared ({reason})"
        ) from exc
    columns = report_columns(report)

    def write(conn: Connection, entry: AuditEntry) -> None:
        conn.execute(insert(prediction_log).values(**columns, **entry_columns(entry)))

    return write


@dataclass(frozen=True)
class LogCheck:
    """The prediction log compared with the trail.

    Attributes
    ----------
    displays : int
        Display entries in the trail.
    rows : int
        Log rows derived from displays.
    simulated_rows : int
        Simulated rows (checked against their ``monitoring_simulated`` entries).
    problems : tuple of str
        The first problems found, in words; empty when the log matches the trail.
    problem_count : int
        How many problems there were in all.
    """

    displays: int
    rows: int
    simulated_rows: int
    problems: tuple[str, ...] = field(default=())
    problem_count: int = 0
    #: A shadow candidate's rows (checked against their ``shadow_scored`` entries and the
    #: live displays they were paired with).
    shadow_rows: int = 0

    @property
    def ok(self) -> bool:
        """True when every display has its row, every row its display, and they agree."""
        return self.problem_count == 0


def _display_entries(conn: Connection) -> Iterator[tuple[int, str | None, str | None, float]]:
    t = entries_table.c
    stmt = (
        select(t.seq, t.model_id, t.patient_ref, t.report_json)
        .where(t.action.in_(DISPLAY_ACTIONS))
        .order_by(t.seq)
    )
    for seq, model_id, patient_ref, report_json in conn.execution_options(
        stream_results=True, yield_per=_BATCH
    ).execute(stmt):
        try:
            probability = float(json.loads(report_json)["confidence"]["probability"])
        except (TypeError, ValueError, KeyError):
            probability = math.nan  # reported as a mismatch below
        yield int(seq), model_id, patient_ref, probability


def _log_rows(conn: Connection) -> Iterator[tuple[int, str, str | None, float]]:
    c = prediction_log.c
    stmt = (
        select(c.entry_seq, c.model_id, c.patient_ref, c.probability)
        .where(c.simulated.is_(False), c.never_shown.is_(False))
        .order_by(c.entry_seq)
    )
    for seq, model_id, patient_ref, probability in conn.execution_options(
        stream_results=True, yield_per=_BATCH
    ).execute(stmt):
        yield (-1 if seq is None else int(seq)), model_id, patient_ref, float(probability)


def verify_prediction_log(store: AuditStore) -> LogCheck:
    """Walk the display entries and the log rows together (both in ``seq`` order, streamed)
    and report every display without its row, row without its display, or disagreement."""
    engine = ready_engine(store)
    problems: list[str] = []
    count = 0

    def problem(text: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS_LISTED:
            problems.append(text)

    displays = rows = 0
    with engine.connect() as entries_conn, engine.connect() as log_conn:
        entries = _display_entries(entries_conn)
        logged = _log_rows(log_conn)
        entry = next(entries, None)
        row = next(logged, None)
        while entry is not None or row is not None:
            if row is not None and (entry is None or row[0] < entry[0]):
                rows += 1
                problem(f"log row for entry {row[0]} has no display entry in the trail")
                row = next(logged, None)
            elif entry is not None and (row is None or entry[0] < row[0]):
                displays += 1
                problem(f"display entry {entry[0]} has no row in the prediction log")
                entry = next(entries, None)
            else:
                assert entry is not None and row is not None
                displays += 1
                rows += 1
                if entry[3] != row[3]:
                    problem(
                        f"entry {entry[0]}: the log says probability {row[3]!r}, the trail "
                        f"{entry[3]!r}"
                    )
                if (entry[1], entry[2]) != (row[1], row[2]):
                    problem(f"entry {entry[0]}: the log's model or patient differs from the trail")
                entry = next(entries, None)
                row = next(logged, None)
        simulated = _check_simulated(entries_conn, problem)
        shadow = _check_shadow(entries_conn, problem)
    return LogCheck(displays, rows, simulated, tuple(problems), count, shadow_rows=shadow)


def _check_simulated(conn: Connection, problem: Callable[[str], None]) -> int:
    """Every simulated batch points at its ``monitoring_simulated`` entry, which names as
    many predictions as the batch holds and the same run."""
    c = prediction_log.c
    batches = conn.execute(
        select(c.source_seq, c.run_id, func.count())
        .where(c.simulated.is_(True))
        .group_by(c.source_seq, c.run_id)
    ).all()
    total = 0
    for source_seq, run_id, n in batches:
        total += int(n)
        row = None
        if source_seq is not None:
            row = conn.execute(
                select(entries_table.c.action, entries_table.c.detail_json).where(
                    entries_table.c.seq == source_seq
                )
            ).first()
        if row is None or row[0] != SIMULATED_ACTION:
            problem(f"{n} simulated rows of run {run_id} have no '{SIMULATED_ACTION}' entry")
            continue
        detail = json.loads(row[1])
        if detail.get("run_id") != run_id or detail.get("predictions") != int(n):
            problem(
                f"simulated run {run_id}: entry {source_seq} names "
                f"{detail.get('predictions')} predictions, the log holds {n}"
            )
    # A row that claims to be a display but is marked simulated, or the reverse, would be
    # caught above (a simulated row with an entry_seq is not part of the display walk).
    stray = conn.execute(
        select(func.count()).where(c.simulated.is_(True), c.entry_seq.is_not(None))
    ).scalar_one()
    if stray:
        problem(f"{stray} simulated rows point at display entries")
    return total


def _check_shadow(conn: Connection, problem: Callable[[str], None]) -> int:
    """Every shadow batch points at its ``shadow_scored`` entry, which names the model and
    the candidate version and as many rows as the batch holds; no shadow row claims a
    display entry; every row's paired entry is a display of the same model and patient."""
    c = prediction_log.c
    e = entries_table.c
    batches = conn.execute(
        select(c.source_seq, c.model_id, c.bundle_sha256, func.count())
        .where(c.never_shown.is_(True))
        .group_by(c.source_seq, c.model_id, c.bundle_sha256)
    ).all()
    total = 0
    for source_seq, model_id, sha, n in batches:
        total += int(n)
        row = None
        if source_seq is not None:
            row = conn.execute(select(e.action, e.detail_json).where(e.seq == source_seq)).first()
        if row is None or row[0] != SHADOW_ACTION:
            problem(
                f"{n} shadow rows of {model_id} (entry {source_seq}) have no "
                f"'{SHADOW_ACTION}' entry"
            )
            continue
        detail = json.loads(row[1])
        if (
            detail.get("rows") != int(n)
            or detail.get("model_id") != model_id
            or detail.get("candidate_bundle_sha256") != sha
        ):
            problem(
                f"shadow batch {source_seq}: the entry names {detail.get('rows')} rows of "
                f"{detail.get('model_id')}, the log holds {n} of {model_id}"
            )
    stray = conn.execute(
        select(func.count()).where(c.never_shown.is_(True), c.entry_seq.is_not(None))
    ).scalar_one()
    if stray:
        problem(f"{stray} shadow rows point at display entries")
    # Each row's pair: a display entry of the same model and patient (one join).
    unpaired = conn.execute(
        select(func.count())
        .select_from(prediction_log.outerjoin(entries_table, e.seq == c.paired_entry_seq))
        .where(
            c.never_shown.is_(True),
            (e.seq.is_(None))
            | e.action.not_in(DISPLAY_ACTIONS)
            | (e.model_id != c.model_id)
            | (e.patient_ref.is_distinct_from(c.patient_ref)),
        )
    ).scalar_one()
    if unpaired:
        problem(f"{unpaired} shadow rows are not paired with a display of their model and patient")
    return total
