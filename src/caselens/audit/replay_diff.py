"""Replay: compare the report stored in an entry with one recomputed now (pure).

A comparison has one of three outcomes (:data:`COMPARISON_OUTCOMES`):

``identical``
    every field is the same, bit for bit;
``within_tolerance``
    only numbers differ, each by at most :data:`~caselens.numeric_tolerance.NUMERIC_TOLERANCE`
    (the last bits of a float on another CPU or BLAS build), and the report id, a digest of
    those numbers, with them;
``differs``
    anything else: a number beyond the tolerance, a word, a flag, a missing field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from caselens.audit.errors import AuditError
from caselens.audit.records import AuditEntry
from caselens.numeric_tolerance import NUMERIC_TOLERANCE, numeric_difference

ComparisonOutcome = Literal["identical", "within_tolerance", "differs"]
COMPARISON_OUTCOMES: tuple[ComparisonOutcome, ...] = ("identical", "within_tolerance", "differs")

#: Fields computed from the rest of the report (a digest): they change whenever any number
#: does, so they are judged by what they are derived from.
DERIVED_FIELDS = ("/report_id",)

_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
MISSING = _MISSING
"""Stands for a field present on one side only."""


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field that differs between the stored and the fresh report.

    Attributes
    ----------
    path : str
        Where, as a JSON-pointer-like path (``/shap/contributions/3/value``).
    stored, fresh : Any
        The two values; ``MISSING`` when the field is absent on that side.
    """

    path: str
    stored: Any
    fresh: Any


@dataclass(frozen=True, slots=True)
class ReportComparison:
    """How a recomputed report compares with the stored one.

    Attributes
    ----------
    outcome : {"identical", "within_tolerance", "differs"}
    tolerance : float
        The numeric tolerance applied (absolute up to 1, relative above).
    largest_difference : float
        The largest numeric difference found, on the tolerance's scale (0.0 when identical).
    largest_difference_path : str or None
        Where that difference is.
    differences : tuple of FieldDiff
        The fields that differ beyond the tolerance (empty unless ``outcome == "differs"``).
    tolerated : tuple of FieldDiff
        The numbers that differ within the tolerance (and derived digests).
    """

    outcome: ComparisonOutcome
    tolerance: float
    largest_difference: float
    largest_difference_path: str | None
    differences: tuple[FieldDiff, ...]
    tolerated: tuple[FieldDiff, ...]

    @property
    def reproduces(self) -> bool:
        """True for ``identical`` and ``within_tolerance``."""
        return self.outcome != "differs"

    def summary(self) -> str:
        """One sentence for the reviewer, stating the tolerance where it applied."""
        if self.outcome == "identical":
            return "Reproduces, identical: every field is the same, bit for bit."
        if self.outcome == "within_tolerance":
            return (
                f"Reproduces within numerical tolerance: {len(self.tolerated)} number(s) differ "
                f"in their last digits, the largest by {self.largest_difference:.1e} at "
                f"{self.largest_difference_path} (tolerance |Δ| ≤ {self.tolerance:g})."
            )
        names = ", ".join(d.path for d in self.differences[:5])
        more = f" and {len(self.differences) - 5} more" if len(self.differences) > 5 else ""
        return (
            f"Does not reproduce: {len(self.differences)} field(s) differ beyond the tolerance "
            f"(|Δ| ≤ {self.tolerance:g}): {names}{more}."
        )

    def record_detail(self) -> dict[str, Any]:
        """What the re-run record stores about this comparison."""
        return {
            "outcome": self.outcome,
            "tolerance": self.tolerance,
            "largest_difference": self.largest_difference,
            "largest_difference_path": self.largest_difference_path,
            "differences": [d.path for d in self.differences],
            "tolerated": len(self.tolerated),
        }


def replay_payload(entry: AuditEntry) -> dict[str, Any]:
    """The report stored in an entry, parsed.

    Raises
    ------
    AuditError
        If the entry recorded no report (a sign-in, an export …).
    """
    if entry.report_json is None:
        raise AuditError(f"entry {entry.seq} ({entry.action}) recorded no report to replay")
    return json.loads(entry.report_json)


def diff_reports(
    stored: Mapping[str, Any],
    fresh: Mapping[str, Any],
    *,
    ignore: Iterable[str] = ("timings", "created_at"),
) -> list[FieldDiff]:
    """Every field that differs between two reports, walking nested objects and lists.

    Parameters
    ----------
    stored, fresh : mapping
        The report as recorded and as recomputed.
    ignore : iterable of str
        Keys skipped at any depth (values expected to change between runs).

    Returns
    -------
    list of FieldDiff
        In path order; empty when the reports are identical (numbers compared exactly,
        ``1`` equals ``1.0``, NaN equals NaN).

    Examples
    --------
    >>> diff_reports({"p": 0.1, "timings": 3}, {"p": 0.2, "timings": 4})
    [FieldDiff(path='/p', stored=0.1, fresh=0.2)]
    """
    out: list[FieldDiff] = []
    _walk(stored, fresh, "", frozenset(ignore), out)
    return out


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float))


def _walk(a: Any, b: Any, path: str, ignore: frozenset[str], out: list[FieldDiff]) -> None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            if key in ignore:
                continue
            sub = f"{path}/{_escape(key)}"
            if key not in a:
                out.append(FieldDiff(sub, MISSING, b[key]))
            elif key not in b:
                out.append(FieldDiff(sub, a[key], MISSING))
            else:
                _walk(a[key], b[key], sub, ignore, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = f"{path}/{i}"
            if i >= len(a):
                out.append(FieldDiff(sub, MISSING, b[i]))
            elif i >= len(b):
                out.append(FieldDiff(sub, a[i], MISSING))
            else:
                _walk(a[i], b[i], sub, ignore, out)
        return
    if not _same_scalar(a, b) or (a != b and not _both_nan(a, b)):
        out.append(FieldDiff(path or "/", a, b))


def _both_nan(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare_reports(
    stored: Mapping[str, Any],
    fresh: Mapping[str, Any],
    *,
    ignore: Iterable[str] = ("timings", "created_at"),
    tolerance: float = NUMERIC_TOLERANCE,
) -> ReportComparison:
    """Compare a stored and a recomputed report: identical, within tolerance, or differs.

    Parameters
    ----------
    stored, fresh : mapping
        The report as recorded and as recomputed (parsed JSON).
    ignore : iterable of str
        Keys skipped at any depth (values expected to change between runs).
    tolerance : float
        Largest accepted numeric difference (absolute up to 1, relative above).

    Examples
    --------
    >>> compare_reports({"p": 0.1}, {"p": 0.1 + 1e-16}).outcome
    'within_tolerance'
    >>> compare_reports({"p": 0.1}, {"p": 0.2}).outcome
    'differs'
    """
    exact = diff_reports(stored, fresh, ignore=ignore)
    tolerated: list[FieldDiff] = []
    beyond: list[FieldDiff] = []
    derived: list[FieldDiff] = []
    largest, largest_path = 0.0, None
    for diff in exact:
        if diff.path in DERIVED_FIELDS:
            derived.append(diff)
            continue
        if _is_number(diff.stored) and _is_number(diff.fresh):
            size = numeric_difference(float(diff.stored), float(diff.fresh))
            if size > largest or largest_path is None:
                largest, largest_path = size, diff.path
            if size <= tolerance:
                tolerated.append(diff)
                continue
        beyond.append(diff)
    if not exact:
        outcome: ComparisonOutcome = "identical"
    elif beyond or not tolerated:
        # A digest that changed although every field it covers is the same is a difference.
        outcome = "differs"
        beyond.extend(derived)
    else:
        outcome = "within_tolerance"
        tolerated.extend(derived)
    return ReportComparison(
        outcome=outcome,
        tolerance=tolerance,
        largest_difference=largest,
        largest_difference_path=largest_path,
        differences=tuple(sorted(beyond, key=lambda d: d.path)) if outcome == "differs" else (),
        tolerated=tuple(tolerated),
    )
