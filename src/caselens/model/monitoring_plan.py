"""The monitoring plan: what is judged, against which thresholds, from how many patients.

Every threshold has a default, stated and justified in ``docs/monitoring.md``. A bundle may
override any of them in its card's ``monitoring`` section or in a ``monitoring.json``
beside its card (not both: which one counts would be a guess), and an operator may pass a
plan file of their own, which then counts alone; all are validated and bounded like any
bundle JSON.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from caselens.errors import CaseLensError
from caselens.model.bounded import loads_bounded

if TYPE_CHECKING:  # the card holds a plan, so the bundle module imports this one
    from caselens.model.bundle import ModelBundle

#: The file beside a bundle's card that may override the plan's defaults.
PLAN_FILE = "monitoring.json"
#: Largest plan file read (a plan is a few hundred bytes).
MAX_PLAN_BYTES = 64 * 1024
#: Outcome window when the card's ``outcome.time_window`` states no duration (e.g. "at the
#: time of the angiography"): 30 days, so a result known within a month of the display
#: still links to it. Say so in the plan when another window is right.
DEFAULT_OUTCOME_WINDOW_DAYS = 30
#: Days per unit of a stated window ("within 30 days", "within one year").
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
}
_WINDOW_RE = re.compile(
    r"\b(\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")[\s-]+(day|week|month|year)s?\b",
    re.IGNORECASE,
)

Period = Literal["month", "week"]


class PlanError(CaseLensError):
    """A monitoring plan that is not valid (the message names the field)."""


def window_days_from_text(time_window: str) -> int | None:
    """Days in a card's outcome window, or None when it states no duration.

    Examples
    --------
    >>> window_days_from_text("within 30 days of discharge")
    30
    >>> window_days_from_text("within one year")
    365
    >>> window_days_from_text("at the time of the angiography") is None
    True
    """
    match = _WINDOW_RE.search(time_window)
    if match is None:
        return None
    count_text, unit = match.group(1).lower(), match.group(2).lower()
    count = int(count_text) if count_text.isdigit() else _NUMBER_WORDS[count_text]
    return count * _UNIT_DAYS[unit] if count > 0 else None


class MonitoringPlan(BaseModel):
    """Thresholds and minimum numbers for one model's monitoring (defaults in the docs).

    An alert is raised only when the 95% confidence interval lies wholly beyond its
    threshold (the evidence, not the noise, crosses it); a point estimate beyond it with an
    interval that still reaches back is shown as "watch", not raised.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period = "month"
    outcome_window_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="None: parsed from the card's outcome.time_window, else the default.",
    )
    calibration_slope_low: float = Field(default=0.8, gt=0)
    calibration_slope_high: float = Field(default=1.25, gt=0)
    auroc_drop: float = Field(default=0.05, gt=0, lt=0.5)
    psi_threshold: float = Field(default=0.2, gt=0)
    subgroup_auroc_drop: float = Field(default=0.10, gt=0, lt=0.5)
    min_predictions: int = Field(default=100, ge=1)
    min_outcomes: int = Field(default=200, ge=1)
    min_events: int = Field(default=20, ge=1)
    min_subgroup_outcomes: int = Field(default=100, ge=1)
    min_subgroup_events: int = Field(default=10, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    psi_bins: int = Field(default=10, ge=2, le=50)
    ece_bins: int = Field(default=10, ge=2, le=50)

    @model_validator(mode="after")
    def _band(self) -> MonitoringPlan:
        if self.calibration_slope_low >= self.calibration_slope_high:
            raise ValueError("calibration_slope_low must be below calibration_slope_high")
        return self

    def window_days(self, time_window: str) -> int:
        """The outcome window in days: the plan's, else the card's stated one, else 30."""
        if self.outcome_window_days is not None:
            return self.outcome_window_days
        return window_days_from_text(time_window) or DEFAULT_OUTCOME_WINDOW_DAYS


def parse_plan(data: bytes, *, source: str) -> MonitoringPlan:
    """A plan from JSON bytes; raises PlanError naming the file and field."""
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(f"{source}: larger than {MAX_PLAN_BYTES} bytes.")
    try:
        parsed = loads_bounded(data, what=source, max_depth=4)
        return MonitoringPlan.model_validate(parsed)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PlanError(f"{source}: {problems}") from exc
    except CaseLensError as exc:  # not JSON, or nested too deeply
        raise PlanError(str(exc)) from exc


def plan_for(bundle: ModelBundle, plan_file: Path | None = None) -> MonitoringPlan:
    """The plan for a bundle: ``plan_file`` if given; else the card's ``monitoring`` section
    or the bundle's ``monitoring.json`` (refused when both state one); else the defaults."""
    if plan_file is not None and not plan_file.is_file():
        raise PlanError(f"There is no monitoring plan at {plan_file}.")
    path = plan_file if plan_file is not None else bundle.path / PLAN_FILE
    in_card = bundle.card.monitoring
    if plan_file is None and in_card is not None:
        if path.is_file():
            raise PlanError(
                f"Model {bundle.model_id} states a monitoring plan both in its card's "
                f"monitoring section and in {PLAN_FILE}; keep one of them."
            )
        return in_card
    if not path.is_file():
        return MonitoringPlan()
    with path.open("rb") as handle:
        data = handle.read(MAX_PLAN_BYTES + 1)
    return parse_plan(data, source=f"The monitoring plan {path.name}")
