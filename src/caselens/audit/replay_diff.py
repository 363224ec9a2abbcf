"""Replay: compare the report stored in an entry with one recomputed now (pure)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from caselens.audit.errors import AuditError
from caselens.audit.records import AuditEntry

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
