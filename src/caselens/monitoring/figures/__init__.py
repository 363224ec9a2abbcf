"""Monitoring figures for one model and one period, each with its n and interval.

The reference is the bundle's own reference data (the held-out rows every figure CaseLens
shows about a model is measured on): the predicted-probability and input distributions,
the training ranges, and the AUROC overall and per subgroup. A period's figures are
computed from that model's prediction-log rows of that period only, read in one query,
with the outcomes of those patients linked in a second: never from the whole trail.

* volume: displays, and distinct predictions (one patient's report shown to the clinician
  and previewed for the patient is one prediction);
* drift: PSI and a two-sample KS test of the predicted probabilities; per input, PSI over
  reference-quantile bins (numbers) or categories, with a missing bin, a chi-square test
  for categories, the missing share and the out-of-range rate (outside the training range
  or categories);
* once outcomes are linked: AUROC, calibration-in-the-large, calibration slope, ECE,
  Brier, observed vs mean predicted rate, realised conformal coverage (overall and per
  outcome class), sensitivity and specificity at the card's threshold; the same per
  subgroup, and the largest gap between the subgroups of one variable.

By job: :mod:`.reference_profile` (the reference), :mod:`.calendar_periods` (months and
weeks), :mod:`.log_reading` (a period read from the log, outcomes linked),
:mod:`.column_reading` (the same read as columns: the fast path), :mod:`.measures` (the
figures from a DataFrame) and :mod:`.column_measures` (the same figures from columns). The
names below load lazily (:mod:`caselens._lazy`).
"""

from caselens._lazy import lazy_face

__all__ = [
    "NOT_RECORDED",
    "InputDrift",
    "InputReference",
    "Performance",
    "Period",
    "PeriodColumns",
    "PeriodFigures",
    "ReferenceProfile",
    "SetHits",
    "SubgroupFigures",
    "auroc_drop",
    "build_profile",
    "columns_figures",
    "corrections_stamp",
    "link_outcomes",
    "linkable_outcome_count",
    "linkable_outcomes",
    "outcome_rows",
    "parse_period",
    "performance",
    "period_figures",
    "period_of",
    "periods",
    "read_period",
    "read_period_columns",
    "simulated_runs",
]

_PARTS = {
    "NOT_RECORDED": "reference_profile",
    "InputDrift": "measures",
    "InputReference": "reference_profile",
    "Performance": "measures",
    "Period": "calendar_periods",
    "PeriodColumns": "column_reading",
    "PeriodFigures": "measures",
    "ReferenceProfile": "reference_profile",
    "SetHits": "measures",
    "SubgroupFigures": "measures",
    "auroc_drop": "measures",
    "build_profile": "reference_profile",
    "columns_figures": "column_measures",
    "corrections_stamp": "log_reading",
    "link_outcomes": "log_reading",
    "linkable_outcome_count": "log_reading",
    "linkable_outcomes": "log_reading",
    "outcome_rows": "log_reading",
    "parse_period": "calendar_periods",
    "performance": "measures",
    "period_figures": "measures",
    "period_of": "calendar_periods",
    "periods": "calendar_periods",
    "read_period": "log_reading",
    "read_period_columns": "column_reading",
    "simulated_runs": "log_reading",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
