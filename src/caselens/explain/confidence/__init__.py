"""How sure the model is about one patient: threshold, conformal set, local reliability.

Three levels, as in ``sklearn.calibration``:

- pure functions of outcomes and probabilities (:mod:`.reliability`): :func:`wilson_interval`,
  :func:`reliability_table`;
- estimators with a workflow: :class:`SplitConformalClassifier` (:mod:`.conformal`;
  class-conditional split conformal; ``fit`` returns ``self``, fitted state ends in ``_``,
  ``predict_set`` before ``fit`` fails naming the fix) and :class:`CalibrationBootstrap`
  (:mod:`.bootstrap`; an interval for the calibrated probability from bootstrap refits of the
  bundle's sigmoid calibrator);
- a per-bundle object computed once (:mod:`.model`): :class:`ConfidenceModel` predicts the
  reference (test) and calibration splits one time each, fits the conformal quantile and the
  reliability curve, and then answers :meth:`ConfidenceModel.assess` for one probability in
  microseconds.

Every result is a frozen, JSON-able pydantic model (:mod:`.results`; no numpy scalars, no NaN).
"""

from caselens._lazy import lazy_face

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CANDIDATE_LEVELS",
    "CONFORMAL_METHOD",
    "DECIMALS",
    "FLOOR_NEIGHBOURS",
    "INTERVAL_CONFIDENCE",
    "MAX_NEIGHBOUR_SHARE",
    "MIN_NEIGHBOURS",
    "NEAR_THRESHOLD_POINTS",
    "NEIGHBOUR_SHARE",
    "NOT_FITTED_MESSAGE",
    "OFF_CENTRE_POINTS",
    "RECOVERED_CALIBRATOR_TOLERANCE",
    "SIMULATE_COVERAGE_UP_TO",
    "CalibrationBootstrap",
    "ClassCoverage",
    "ConfidenceAssessment",
    "ConfidenceModel",
    "ConformalSet",
    "Neighbourhood",
    "ProbabilityInterval",
    "ReliabilityBin",
    "SetReading",
    "Side",
    "SplitConformalClassifier",
    "headline_label",
    "neighbour_count",
    "platt_fit",
    "reliability_table",
    "set_reading",
    "set_statement",
    "wilson_interval",
]

_PARTS = {
    "BOOTSTRAP_RESAMPLES": "bootstrap",
    "BOOTSTRAP_SEED": "bootstrap",
    "CANDIDATE_LEVELS": "bootstrap",
    "CONFORMAL_METHOD": "conformal",
    "DECIMALS": "_numbers",
    "FLOOR_NEIGHBOURS": "model",
    "INTERVAL_CONFIDENCE": "_numbers",
    "MAX_NEIGHBOUR_SHARE": "model",
    "MIN_NEIGHBOURS": "model",
    "NEAR_THRESHOLD_POINTS": "model",
    "NEIGHBOUR_SHARE": "model",
    "NOT_FITTED_MESSAGE": "conformal",
    "OFF_CENTRE_POINTS": "model",
    "RECOVERED_CALIBRATOR_TOLERANCE": "bootstrap",
    "SIMULATE_COVERAGE_UP_TO": "bootstrap",
    "CalibrationBootstrap": "bootstrap",
    "ClassCoverage": "results",
    "ConfidenceAssessment": "results",
    "ConfidenceModel": "model",
    "ConformalSet": "results",
    "Neighbourhood": "results",
    "ProbabilityInterval": "results",
    "ReliabilityBin": "results",
    "SetReading": "results",
    "Side": "results",
    "SplitConformalClassifier": "conformal",
    "headline_label": "model",
    "neighbour_count": "model",
    "platt_fit": "bootstrap",
    "reliability_table": "reliability",
    "set_reading": "conformal",
    "set_statement": "conformal",
    "wilson_interval": "reliability",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
