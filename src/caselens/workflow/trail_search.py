"""Finding a display in the audit trail: by entry number or by report id, and the choices
the reviewer's filters offer (the actions, models and roles the trail holds).

Every lookup is an indexed read, never a scan of the trail: the distinct actions and models
are read by a loose index scan (one index probe per distinct value, on SQLite and
PostgreSQL alike), and a report id is found through the monitoring prediction log, which
holds the report id and the entry number of every display (written in the display's own
transaction, checked against the trail by ``caselens monitor verify``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, text

from caselens.access.policy import ROLES
from caselens.errors import CaseLensError
from caselens.monitoring.tables import ensure_tables, prediction_log

#: Roles an entry's actor can have: the four people's roles, the system (scheduled checks,
#: commands) and "anonymous" (a refused sign-in by nobody known).
ACTOR_ROLES: tuple[str, ...] = (*ROLES, "system", "anonymous")
#: Shortest report id prefix searched: the report view prints 12 or 16 characters, and 8
#: hex characters already make a chance match among a million reports unlikely (1 in ~4000).
MIN_REPORT_PREFIX = 8
#: Longest text the search box takes (a full SHA-256 report id is 64 characters).
MAX_QUERY_LENGTH = 80
#: Displays of one report listed at most (the same report shown, previewed, replayed …).
MAX_MATCHES = 50
#: Distinct values listed at most per filter (a trail restored from elsewhere may hold any).
MAX_CHOICES = 500

#: Readable names of actions whose word alone does not say what they are (the filter shows
#: the name and the word; any other action is shown as its word).
ACTION_NAMES: dict[str, str] = {
    "what_if_viewed": "What-if viewed (hypothetical values, not the patient's)",
    "counterfactuals_viewed": "Counterfactuals viewed (what would move a result across the "
    "threshold)",
    "shadow_scored": "Shadow candidate scored (a batch of its predictions, never shown)",
    "shadow_comparison_viewed": "Shadow comparison viewed (live and candidate versions on the "
    "same patients; an approval cites it)",
}

_ENTRY_RE = re.compile(r"#?\s*(\d{1,18})")
_REPORT_RE = re.compile(rf"[0-9a-f]{{{MIN_REPORT_PREFIX},64}}")


class SearchError(CaseLensError):
    """What was typed is neither an entry number nor a report id, or matches nothing."""


@dataclass(frozen=True)
class TrailQuery:
    """A search, parsed: an entry number, or a report id (or its first characters); a
    long number is both, the entry tried first."""

    kind: Literal["entry", "report"]
    entry: int | None = None
    report_prefix: str | None = None


def action_name(action: str) -> str:
    """How the reviewer's filter names an action: its readable name and its word, e.g.
    "Counterfactuals viewed (what would move a result across the threshold) —
    counterfactuals_viewed"; any other action as its word."""
    name = ACTION_NAMES.get(action)
    return action if name is None else f"{name} — {action}"


def parse_query(typed: str) -> TrailQuery:
    """An entry number ('123' or '#123') or a report id prefix (8–64 hex characters).

    Raises
    ------
    SearchError
        Saying what is expected, when the text is neither.

    Examples
    --------
    >>> parse_query(" #42 ").entry
    42
    >>> parse_query("3F2A9C01B7").report_prefix
    '3f2a9c01b7'
    """
    value = (typed or "").strip()
    if not value:
        raise SearchError("Search: type an entry number (e.g. 123) or a report id.")
    if len(value) > MAX_QUERY_LENGTH:
        raise SearchError(f"Search: at most {MAX_QUERY_LENGTH} characters.")
    number = _ENTRY_RE.fullmatch(value)
    prefix = value.lower().rstrip("…").rstrip(".")
    if number:
        # Eight digits or more may also be the start of a report id (hex ids are all
        # digits often enough): the entry is tried first, then the report.
        digits = number.group(1)
        also = digits if _REPORT_RE.fullmatch(digits) and not value.startswith("#") else None
        return TrailQuery("entry", entry=int(digits), report_prefix=also)
    if _REPORT_RE.fullmatch(prefix):
        return TrailQuery("report", report_prefix=prefix)
    shown = value if len(value) <= 40 else value[:40] + "…"
    raise SearchError(
        f"Search: '{shown}' is neither an entry number (digits, e.g. 123) nor a report id "
        f"({MIN_REPORT_PREFIX} to 64 characters 0-9 and a-f, as printed under a report)."
    )


def displays_of_report(engine: Engine, prefix: str) -> tuple[int, ...]:
    """Entry numbers of the displays of the report(s) whose id starts with ``prefix``,
    newest first (at most ``MAX_MATCHES``)."""
    ensure_tables(engine)
    t = prediction_log.c
    # A range on the indexed column, not LIKE (which SQLite only indexes case-insensitively):
    # every id starting with the prefix sorts between it and the prefix followed by '~'.
    query = (
        prediction_log.select()
        .with_only_columns(t.entry_seq)
        .where(
            t.report_id >= prefix,
            t.report_id < prefix + "~",
            # Displays only: a shadow candidate's row has no display entry and is no report.
            t.entry_seq.is_not(None),
            t.never_shown.is_(False),
        )
        .order_by(t.entry_seq.desc())
        .limit(MAX_MATCHES)
    )
    with engine.connect() as conn:
        return tuple(int(row[0]) for row in conn.execute(query))


def _distinct(engine: Engine, column: str) -> tuple[str, ...]:
    # A loose index scan: each step asks the index for the next value above the last one,
    # so the cost is one probe per distinct value, however long the trail.
    statement = text(
        f"WITH RECURSIVE found(value, n) AS ("
        f" SELECT (SELECT MIN({column}) FROM audit_entry), 1"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM audit_entry WHERE {column} > found.value), n + 1"
        f" FROM found WHERE found.value IS NOT NULL AND n < :most"
        f") SELECT value FROM found WHERE value IS NOT NULL"
    )
    with engine.connect() as conn:
        return tuple(str(row[0]) for row in conn.execute(statement, {"most": MAX_CHOICES}))


def trail_actions(engine: Engine) -> tuple[str, ...]:
    """The actions recorded in the trail, sorted."""
    return _distinct(engine, "action")


def trail_models(engine: Engine) -> tuple[str, ...]:
    """The model ids named by entries of the trail, sorted."""
    return _distinct(engine, "model_id")
