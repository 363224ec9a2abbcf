"""How clinicians used the model, per period: their feedback, how their own estimates compared
with the model's (the automation-bias record), and how often each limitation was shown.

* **Feedback** comes from the trail's ``feedback`` entries of the model (what the clinician
  said, with the estimate they recorded *before* seeing the model's, if they did). Each is
  matched to the probability shown by its report id in the prediction log.
* **EHR cards**: feedback from the CDS Hooks service (``channel`` ``cds-hooks``) says whether
  the clinician accepted or overrode the card; those are counted apart (``card_accepted``,
  ``card_overridden``) and have no verdict, so they never enter the agreement share.
* **Own estimate versus the model**: the mean absolute gap in points out of 100, and the
  share of estimates on the other side of the decision threshold from the model's. A gap
  that shrinks over time while agreement rises can mean clinicians defer to the model
  (automation bias) rather than that the model improved: read it beside the performance
  figures.
* **Limitations shown**: per period, the share of displays that showed each limitation code
  (the prediction log keeps the codes shown with every display). A code that fires far more
  often than on the reference data is a sign the patients changed.

Everything is read with a few aggregate queries (grouped in the database), never by
loading every entry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from caselens.audit.store.tables import entries_table
from caselens.monitoring.figures import period_of
from caselens.monitoring.stats import Estimate, wilson
from caselens.monitoring.tables import prediction_log

#: The verdicts a clinician can give (``app/app_pages/case.py``).
AGREE, DISAGREE, NOT_USEFUL = "I agree", "I disagree", "Not useful"
#: Report ids looked up per query.
_CHUNK = 500


@dataclass(frozen=True)
class FeedbackFigures:
    """Clinicians' feedback on one model in one period.

    Attributes
    ----------
    period : str
    feedback : int
        Feedback entries.
    agree, disagree, not_useful : int
    agreement : Estimate
        Share of "I agree" among agree and disagree, with its Wilson interval.
    with_own_estimate : int
        Feedback that carried the clinician's own estimate (recorded before the model's).
    mean_gap_points : float or None
        Mean ``|own estimate - model probability x 100|``.
    other_side : Estimate
        Share of own estimates on the other side of the threshold from the model's.
    card_accepted, card_overridden : int
        Feedback on CDS Hooks cards in the EHR: accepted, or overridden (with a reason).
    """

    period: str
    feedback: int
    agree: int
    disagree: int
    not_useful: int
    agreement: Estimate
    with_own_estimate: int
    mean_gap_points: float | None
    other_side: Estimate
    card_accepted: int = 0
    card_overridden: int = 0


@dataclass(frozen=True)
class LimitationFigures:
    """How often each limitation was shown with this model's displays in one period."""

    period: str
    displays: int
    shown: dict[str, int] = field(default_factory=dict)

    def rate(self, code: str) -> float:
        """Share of the period's displays that showed ``code``."""
        return self.shown.get(code, 0) / self.displays if self.displays else 0.0


def _probabilities(engine: Engine, model_id: str, report_ids: list[str]) -> dict[str, tuple]:
    """(probability, threshold) shown for each report id, from the prediction log."""
    c = prediction_log.c
    found: dict[str, tuple] = {}
    with engine.connect() as conn:
        for start in range(0, len(report_ids), _CHUNK):
            chunk = report_ids[start : start + _CHUNK]
            query = (
                select(c.report_id, func.min(c.probability), func.min(c.threshold))
                .where(
                    c.model_id == model_id,
                    c.simulated.is_(False),
                    c.never_shown.is_(False),  # what was shown, never a shadow's number
                    c.report_id.in_(chunk),
                )
                .group_by(c.report_id)
            )
            found.update({r: (p, t) for r, p, t in conn.execute(query)})
    return found


def feedback_by_period(
    engine: Engine, model_id: str, *, period: str = "month", confidence: float = 0.95
) -> list[FeedbackFigures]:
    """Clinicians' feedback on ``model_id`` per month or ISO week, oldest first."""
    t = entries_table.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.recorded_at, t.detail_json)
            .where(t.action == "feedback", t.model_id == model_id)
            .order_by(t.seq)
        ).all()
    details = [(recorded_at, json.loads(detail)) for recorded_at, detail in rows]
    shown = _probabilities(engine, model_id, sorted({str(d.get("report_id")) for _, d in details}))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for recorded_at, detail in details:
        label = period_of(dt.date.fromisoformat(recorded_at[:10]), period).label
        grouped[label].append(detail)
    figures = []
    for label in sorted(grouped):
        items = grouped[label]
        verdicts = [d.get("verdict") for d in items]
        outcomes = [d.get("cds_outcome") for d in items]
        agree, disagree = verdicts.count(AGREE), verdicts.count(DISAGREE)
        gaps, other = [], 0
        for d in items:
            own = d.get("own_estimate_out_of_100")
            model = shown.get(str(d.get("report_id")))
            if own is None or model is None:
                continue
            probability, threshold = model
            gaps.append(abs(own - 100 * probability))
            other += (own / 100 >= threshold) != (probability >= threshold)
        figures.append(
            FeedbackFigures(
                period=label,
                feedback=len(items),
                agree=agree,
                disagree=disagree,
                not_useful=verdicts.count(NOT_USEFUL),
                agreement=wilson(agree, agree + disagree, confidence),
                with_own_estimate=len(gaps),
                mean_gap_points=sum(gaps) / len(gaps) if gaps else None,
                other_side=wilson(other, len(gaps), confidence),
                card_accepted=outcomes.count("accepted"),
                card_overridden=outcomes.count("overridden"),
            )
        )
    return figures


def limitations_by_period(
    engine: Engine,
    model_id: str,
    *,
    period: str = "month",
    simulated: bool = False,
    run_id: str | None = None,
) -> list[LimitationFigures]:
    """Per period, the displays of ``model_id`` and how many showed each limitation code.

    Grouped in the database by day and by the set of codes shown (few distinct sets), so
    a million displays cost one aggregate query.
    """
    c = prediction_log.c
    # Displays only: a shadow candidate's rows showed no limitation to anyone.
    conditions = [c.model_id == model_id, c.simulated.is_(simulated), c.never_shown.is_(False)]
    if run_id is not None:
        conditions.append(c.run_id == run_id)
    query = (
        select(c.recorded_on, c.limitation_codes, func.count())
        .where(*conditions)
        .group_by(c.recorded_on, c.limitation_codes)
    )
    displays: dict[str, int] = defaultdict(int)
    shown: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with engine.connect() as conn:
        for day, codes, count in conn.execute(query):
            label = period_of(dt.date.fromisoformat(day), period).label
            displays[label] += count
            for code in set(json.loads(codes or "[]")):
                shown[label][str(code)] += count
    return [
        LimitationFigures(label, displays[label], dict(sorted(shown[label].items())))
        for label in sorted(displays)
    ]
