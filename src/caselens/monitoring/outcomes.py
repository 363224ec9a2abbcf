"""Outcomes: what happened to the patients, imported from a CSV, all or nothing.

One row per patient reference, model id, outcome (0 or 1) and the date the outcome was
known. Every row is checked first and every problem is named by row and field; if any row
is wrong nothing is written. A sound file is written in one transaction together with its
``outcomes_imported`` audit entry (counts and the file's SHA-256), so the trail and the
table can never disagree. Importing the same file again adds nothing: a row already held
is counted as unchanged; a row that contradicts one already held (same patient, model and
date, other outcome) is refused, because silently overwriting an outcome would rewrite
what monitoring has already judged; a wrong outcome is corrected by its own recorded step
(:mod:`caselens.monitoring.corrections`).

An outcome links to the predictions of the same patient and model made on or before the
date it was known and at most the plan's outcome window before it (see
:func:`caselens.monitoring.figures.link_outcomes`). Record a negative outcome with the
date follow-up ended, within the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from caselens.access.policy import Viewer
from caselens.audit import AuditEntry, AuditEvent, AuditStore
from caselens.errors import CaseLensError
from caselens.monitoring.tables import current_outcome, outcome_table, ready_engine

#: The audit action of an outcome import.
IMPORTED_ACTION = "outcomes_imported"
#: The CSV columns, in the order a template shows them.
COLUMNS: tuple[str, ...] = ("patient_ref", "model_id", "outcome", "known_on")
#: The same rule as ``caselens.workflow.door.PATIENT_REF_PATTERN`` (a test keeps them equal;
#: importing it here would make the workflow and monitoring import each other).
PATIENT_REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
MODEL_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,99}", re.ASCII)
#: Largest file read (about 40 bytes a row: a million rows and room to spare).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Most rows in one import.
MAX_ROWS = 1_000_000
#: Problems listed before the rest are only counted.
MAX_ERRORS_LISTED = 50
#: Earliest date accepted: older dates are typing mistakes, not outcomes of this tool.
EARLIEST_DATE = dt.date(2000, 1, 1)
#: Keys looked up per query when checking what is already held.
_CHUNK = 500


class OutcomeImportError(CaseLensError):
    """An import refused; nothing was written. ``problems`` names each row and field."""

    #: What was refused, in the message: "The outcomes were not <done> …".
    done = "imported"

    def __init__(self, problems: Sequence[str], total: int | None = None) -> None:
        self.problems = tuple(problems)
        self.total = len(self.problems) if total is None else total
        shown = "\n".join(f"- {p}" for p in self.problems)
        more = self.total - len(self.problems)
        tail = f"\n… and {more} more" if more > 0 else ""
        super().__init__(
            f"The outcomes were not {self.done} ({self.total} problem"
            f"{'s' if self.total != 1 else ''}; nothing was written):\n{shown}{tail}"
        )


@dataclass(frozen=True)
class OutcomeRow:
    """One checked outcome."""

    patient_ref: str
    model_id: str
    outcome: int
    known_on: dt.date

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model_id, self.patient_ref, self.known_on.isoformat())


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, rows new, rows already held, the file's digest and
    the audit entry that records it."""

    rows: int
    new: int
    unchanged: int
    sha256: str
    seq: int


def check_rows(
    records: Iterable[Mapping[str, Any]],
    *,
    known_models: Iterable[str] | None = None,
    today: dt.date | None = None,
    first_line: int = 2,
) -> list[OutcomeRow]:
    """Check every row; raise OutcomeImportError naming each problem by row and field.

    Parameters
    ----------
    records : iterable of mapping
        Rows with the keys of :data:`COLUMNS` (strings as read from a CSV, or Python values).
    known_models : iterable of str, optional
        Model ids offered; an outcome for another model is refused.
    today : date, optional
        A date after today is refused (outcomes are known, not expected).
    first_line : int
        The file line of the first record (2 below a header), so problems name the line.
    """
    models = None if known_models is None else set(known_models)
    today = today or dt.datetime.now(dt.UTC).date()
    problems = _Problems()
    kept: dict[tuple[str, str, str], OutcomeRow] = {}
    first_seen: dict[tuple[str, str, str], int] = {}
    line = first_line - 1
    for line, record in enumerate(records, start=first_line):
        if line - first_line >= MAX_ROWS:
            problems.add(line, "file", f"more than {MAX_ROWS} rows; split the file")
            break
        row = _check_record(line, record, models, today, problems)
        if row is None:
            continue
        earlier = kept.get(row.key)
        if earlier is not None and earlier.outcome != row.outcome:
            problems.add(
                line,
                "outcome",
                f"{row.outcome} contradicts row {first_seen[row.key]} (same patient, model and "
                f"date, outcome {earlier.outcome})",
            )
        elif earlier is None:
            kept[row.key] = row
            first_seen[row.key] = line
    if line < first_line:
        problems.add(first_line, "file", "no outcome rows")
    if problems.total:
        raise OutcomeImportError(problems.listed, problems.total)
    return list(kept.values())


class _Problems:
    """The problems found so far: every one counted, the first MAX_ERRORS_LISTED worded."""

    def __init__(self) -> None:
        self.listed: list[str] = []
        self.total = 0

    def add(self, line: int, name: str, text: str) -> None:
        """Count a problem in field ``name`` of row ``line``; word it while the list has room."""
        self.total += 1
        if len(self.listed) < MAX_ERRORS_LISTED:
            self.listed.append(f"row {line}, {name}: {text}")


def _check_record(
    line: int,
    record: Mapping[str, Any],
    models: set[str] | None,
    today: dt.date,
    problems: _Problems,
) -> OutcomeRow | None:
    """Check one record's fields; the row when its outcome and date can be read, else None."""
    extra = sorted(k for k in record if k not in COLUMNS and k is not None)
    if None in record:
        problems.add(line, "row", "more values than the header has columns")
    if extra:
        problems.add(line, "row", f"unknown column(s) {', '.join(extra)}")
    ref = _text(record.get("patient_ref"))
    if not PATIENT_REF_PATTERN.fullmatch(ref):
        problems.add(
            line,
            "patient_ref",
            f"{_shown(ref)} is not a patient reference (1–64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit)",
        )
    model = _text(record.get("model_id"))
    if not MODEL_ID_PATTERN.fullmatch(model):
        problems.add(line, "model_id", f"{_shown(model)} is not a model id")
    elif models is not None and model not in models:
        problems.add(line, "model_id", f"{_shown(model)} is not a model CaseLens offers")
    value = _text(record.get("outcome"))
    if value not in ("0", "1"):
        problems.add(line, "outcome", f"{_shown(value)} is not 0 or 1")
    when_text = _text(record.get("known_on"))
    when = _date(when_text)
    if when is None:
        problems.add(line, "known_on", f"{_shown(when_text)} is not a date (YYYY-MM-DD)")
    elif when > today:
        problems.add(line, "known_on", f"{when_text} is after today; an outcome is known, not due")
    elif when < EARLIEST_DATE:
        problems.add(line, "known_on", f"{when_text} is before {EARLIEST_DATE.isoformat()}")
    if when is None or value not in ("0", "1"):
        return None
    return OutcomeRow(ref, model, int(value), when)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _shown(value: str) -> str:
    if not value:
        return "an empty value"
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _date(text: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def read_outcome_csv(data: bytes) -> list[dict[str, Any]]:
    """Rows of an outcome CSV (UTF-8, a header naming the columns), as dicts of text."""
    if len(data) > MAX_FILE_BYTES:
        raise OutcomeImportError([f"file: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OutcomeImportError([f"file: not UTF-8 text ({exc.reason})"]) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise OutcomeImportError([f"row 1, header: {exc}"]) from exc
    problems = header_problems(header)
    if problems:
        raise OutcomeImportError(problems[:MAX_ERRORS_LISTED], len(problems))
    reader.fieldnames = header
    try:
        return list(reader)
    except csv.Error as exc:
        raise OutcomeImportError([f"row {reader.line_num}, file: {exc}"]) from exc


def header_problems(header: Sequence[str]) -> list[str]:
    """Every problem of an outcome CSV's header, each naming its column.

    A column given twice is refused (a CSV reader would silently keep the last one, and an
    outcome could be read from the wrong column), as is a column missing or unknown; the
    expected columns are :data:`COLUMNS`.
    """
    expected = ", ".join(COLUMNS)
    counts = Counter(header)
    problems = [
        f"row 1, header: column {_column(name)} appears {counts[name]} times; keep one"
        for name in sorted(n for n, c in counts.items() if c > 1)
    ]
    missing = [c for c in COLUMNS if c not in counts]
    if missing:
        problems.append(
            f"row 1, header: missing column(s) {', '.join(missing)}; expected {expected}"
        )
    problems += [
        f"row 1, header: unknown column {_column(name)}; expected only {expected}"
        for name in sorted(counts)
        if name not in COLUMNS
    ]
    return problems


def _column(name: str) -> str:
    return _shown(name) if name else "with no name (an empty header cell)"


@dataclass(frozen=True)
class HeldOutcome:
    """An outcome row already in the database: its id, its value now (after any
    correction) and whether it is simulated."""

    row_id: int
    value: int
    simulated: bool


def held_outcomes(
    conn: Connection, rows: Sequence[OutcomeRow]
) -> dict[tuple[str, str, str], HeldOutcome]:
    """The outcomes already held for these rows' keys (looked up by model and patient)."""
    t = outcome_table.c
    held: dict[tuple[str, str, str], HeldOutcome] = {}
    by_model: dict[str, list[str]] = {}
    for row in rows:
        by_model.setdefault(row.model_id, []).append(row.patient_ref)
    for model, refs in by_model.items():
        unique = sorted(set(refs))
        for start in range(0, len(unique), _CHUNK):
            query = select(t.id, t.patient_ref, t.known_on, current_outcome(), t.simulated).where(
                t.model_id == model, t.patient_ref.in_(unique[start : start + _CHUNK])
            )
            for row_id, ref, known_on, value, simulated in conn.execute(query):
                held[(model, ref, known_on)] = HeldOutcome(int(row_id), int(value), simulated)
    return held


def _split(
    rows: Sequence[OutcomeRow], held: Mapping[tuple[str, str, str], HeldOutcome]
) -> tuple[list[OutcomeRow], int]:
    """The rows to add and how many are already held; raises on a contradiction."""
    new: list[OutcomeRow] = []
    unchanged = 0
    conflicts = []
    for row in rows:
        found = held.get(row.key)
        before = None if found is None else found.value
        if before is None:
            new.append(row)
        elif before == row.outcome:
            unchanged += 1
        else:
            conflicts.append(
                f"patient {row.patient_ref}, model {row.model_id}, {row.known_on}: outcome "
                f"{row.outcome} contradicts the outcome {before} already held (a wrong outcome is "
                "corrected with caselens outcomes correct)"
            )
    if conflicts:
        raise OutcomeImportError(conflicts[:MAX_ERRORS_LISTED], len(conflicts))
    return new, unchanged


def import_outcomes(
    store: AuditStore,
    data: bytes,
    *,
    source_name: str = "outcomes.csv",
    known_models: Iterable[str] | None = None,
    actor: Viewer | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Check and import an outcome CSV, all or nothing, recorded in the audit trail.

    Parameters
    ----------
    store : AuditStore
        The trail; the outcomes go in its database, in the same transaction as the entry.
    data : bytes
        The CSV file's content.
    source_name : str
        The file's name, kept in the entry.
    known_models : iterable of str, optional
        Model ids offered (others are refused).
    actor : Viewer, optional
        Who imports; default the command line.
    today : date, optional
        For tests.

    Raises
    ------
    OutcomeImportError
        Naming each bad row and field; nothing was written.
    AuditWriteError
        If the trail could not take the entry; nothing was written.
    """
    rows = check_rows(read_outcome_csv(data), known_models=known_models, today=today)
    return import_rows(
        store,
        rows,
        sha256=hashlib.sha256(data).hexdigest(),
        source_name=source_name,
        actor=actor,
    )


def import_rows(
    store: AuditStore,
    rows: Sequence[OutcomeRow],
    *,
    sha256: str,
    source_name: str,
    actor: Viewer | None = None,
) -> ImportResult:
    """Write checked rows with their ``outcomes_imported`` entry, in one transaction."""
    engine = ready_engine(store)
    with engine.connect() as conn:
        new, unchanged = _split(rows, held_outcomes(conn, rows))
    who = actor or Viewer("cli", "caselens outcomes", "system")
    detail = {
        "file": Path(source_name).name[:200],
        "sha256": sha256,
        "rows": len(rows),
        "new": len(new),
        "unchanged": unchanged,
        "models": sorted({r.model_id for r in rows}),
    }

    def write(conn: Connection, entry: AuditEntry) -> None:
        # The unique key makes a row that appeared since the check fail the whole
        # transaction (entry included) instead of being written twice.
        if new:
            conn.execute(insert(outcome_table), [_values(r, entry.seq) for r in new])

    entry = store.append(
        AuditEvent(
            actor_id=who.user_id,
            actor_name=who.name,
            actor_role=who.role,
            audience="system",
            action=IMPORTED_ACTION,
            detail=detail,
        ),
        alongside=write,
    )
    return ImportResult(len(rows), len(new), unchanged, sha256, entry.seq)


def _values(row: OutcomeRow, seq: int, *, run_id: str | None = None) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "patient_ref": row.patient_ref,
        "outcome": row.outcome,
        "known_on": row.known_on.isoformat(),
        "import_seq": seq,
        "simulated": run_id is not None,
        "run_id": run_id,
    }


def outcome_values_writer(
    rows: Sequence[OutcomeRow], *, run_id: str
) -> Callable[[Connection, AuditEntry], None]:
    """An ``alongside`` writer for simulated outcomes (flagged ``simulated``, with the run)."""

    def write(conn: Connection, entry: AuditEntry) -> None:
        if rows:
            conn.execute(
                insert(outcome_table), [_values(r, entry.seq, run_id=run_id) for r in rows]
            )

    return write
