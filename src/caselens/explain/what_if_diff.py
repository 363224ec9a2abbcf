"""What changed between a report and a what-if report derived from it.

A clinician who edits a value sees the two reports side by side: the probability and its
range before → after, whether the side of the threshold changed, each variable's
contribution before → after (largest change first) and the limitations that appeared or
went away. Every figure here is copied from one of the two reports; nothing is
re-estimated, so the comparison says exactly what the two recorded displays say.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from caselens.explain.cases import ChangedValue
from caselens.explain.limitation_record import Limitation
from caselens.explain.report import CaseReport

#: How the contribution table is ranked: by the SHAP change when both reports have SHAP,
#: else by the LIME change when both have LIME, else in schema order (nothing to rank by).
RankedBy = Literal["SHAP", "LIME", "none"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResultSide(_Frozen):
    """One report's probability, its range and its side of the threshold."""

    probability: float
    #: The probability's range (its interval), or None when that report gives none.
    range_low: float | None
    range_high: float | None
    #: True at or above the threshold (the positive side everywhere in CaseLens).
    at_or_above: bool
    side_statement: str


class ContributionChange(_Frozen):
    """One variable's contribution before and after (SHAP and LIME, as each report has them;
    None where that explanation failed)."""

    name: str
    label: str
    before_text: str
    after_text: str
    shap_before: float | None
    shap_after: float | None
    lime_before: float | None
    lime_after: float | None

    @property
    def shap_change(self) -> float | None:
        """After minus before, in probability units; None if either is missing."""
        if self.shap_before is None or self.shap_after is None:
            return None
        return self.shap_after - self.shap_before

    @property
    def lime_change(self) -> float | None:
        """After minus before, in probability units; None if either is missing."""
        if self.lime_before is None or self.lime_after is None:
            return None
        return self.lime_after - self.lime_before


class LimitationChange(_Frozen):
    """A limitation present in only one of the two reports."""

    code: str
    #: The input it is about (from its trigger), or "" for one about the whole case.
    about: str
    severity: str
    clinician_text: str


class WhatIfDiff(_Frozen):
    """The comparison of a parent report and the what-if report derived from it."""

    parent_report_id: str
    report_id: str
    threshold: float
    before: ResultSide
    after: ResultSide
    side_changed: bool
    ranked_by: RankedBy
    contributions: tuple[ContributionChange, ...]
    limitations_appeared: tuple[LimitationChange, ...]
    limitations_gone: tuple[LimitationChange, ...]
    changes: tuple[ChangedValue, ...]


def _side(report: CaseReport) -> ResultSide:
    c = report.confidence
    if c.interval is not None:
        low, high = c.interval.low, c.interval.high
    else:
        low, high = c.range_low, c.range_high
    return ResultSide(
        probability=c.probability,
        range_low=low,
        range_high=high,
        at_or_above=c.probability >= c.threshold,
        side_statement=c.side_statement,
    )


def _ranked_by(before: CaseReport, after: CaseReport) -> RankedBy:
    if before.attributions.shap.status == "ok" and after.attributions.shap.status == "ok":
        return "SHAP"
    if before.attributions.lime.status == "ok" and after.attributions.lime.status == "ok":
        return "LIME"
    return "none"


def _contributions(
    before: CaseReport, after: CaseReport, ranked_by: RankedBy
) -> tuple[ContributionChange, ...]:
    earlier = {v.name: v for v in before.attributions.variables}
    rows = []
    for v in after.attributions.variables:
        old = earlier.get(v.name)
        rows.append(
            ContributionChange(
                name=v.name,
                label=v.label,
                before_text=old.value_text if old is not None else "not in the parent report",
                after_text=v.value_text,
                shap_before=None if old is None else old.shap_value,
                shap_after=v.shap_value,
                lime_before=None if old is None else old.lime_weight,
                lime_after=v.lime_weight,
            )
        )
    if ranked_by == "none":
        return tuple(rows)

    def size(row: ContributionChange) -> float:
        change = row.shap_change if ranked_by == "SHAP" else row.lime_change
        return -abs(change) if change is not None else 0.0

    # A stable sort: equal changes keep the schema's order, so the table is deterministic.
    return tuple(sorted(rows, key=size))


def _limitation_key(limitation: Limitation, inputs: set[str]) -> tuple[str, str]:
    """A limitation's stable identity: its code and the input its trigger names, if any.

    The trigger also carries the value ('resting_bp = 210'), which an edit may change while
    the same limitation still applies; the value is not part of the identity."""
    subject = limitation.trigger.split(" = ", 1)[0].strip()
    return (limitation.code, subject if subject in inputs else "")


def _limitation_changes(first: CaseReport, second: CaseReport) -> tuple[LimitationChange, ...]:
    """The limitations of ``second`` that ``first`` does not have, in ``second``'s order."""
    inputs = {i.name for i in second.case.inputs} | {i.name for i in first.case.inputs}
    present = {_limitation_key(lim, inputs) for lim in first.limitations}
    out = []
    for lim in second.limitations:
        code, about = _limitation_key(lim, inputs)
        if (code, about) not in present:
            out.append(
                LimitationChange(
                    code=code,
                    about=about,
                    severity=lim.severity,
                    clinician_text=lim.clinician_text,
                )
            )
    return tuple(out)


def what_if_diff(before: CaseReport, after: CaseReport) -> WhatIfDiff:
    """Compare a parent report with a what-if report derived from it.

    Parameters
    ----------
    before : CaseReport
        The parent: the patient's recorded values, or an earlier what-if in a chain.
    after : CaseReport
        The what-if report; its case's ``hypothetical`` names the changes.

    Returns
    -------
    WhatIfDiff
        Contributions ranked by the absolute change of SHAP (LIME when either report has no
        SHAP), largest first; limitations compared by code and the input they are about.
    """
    ranked_by = _ranked_by(before, after)
    old, new = _side(before), _side(after)
    hypothetical = after.case.hypothetical
    return WhatIfDiff(
        parent_report_id=before.report_id,
        report_id=after.report_id,
        threshold=after.confidence.threshold,
        before=old,
        after=new,
        side_changed=old.at_or_above != new.at_or_above,
        ranked_by=ranked_by,
        contributions=_contributions(before, after, ranked_by),
        limitations_appeared=_limitation_changes(before, after),
        limitations_gone=_limitation_changes(after, before),
        changes=() if hypothetical is None else hypothetical.changes,
    )
