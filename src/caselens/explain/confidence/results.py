"""The frozen, JSON-able records of how sure the model is: reliability bins, conformal sets,
the probability interval, the neighbourhood, and the whole assessment a report holds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

#: What a prediction set means, jointly with the threshold statement (see :func:`set_reading`).
SetReading = Literal["both", "positive_only", "negative_only", "neither", "conflict"]

Side = Literal["above", "below", "at"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReliabilityBin(_Frozen):
    """One bin of the reliability curve: predicted against observed, with its evidence.

    ``mean_predicted``, ``observed_rate`` and the interval are None for an empty bin.
    """

    bin_low: float
    bin_high: float
    count: int
    events: int
    mean_predicted: float | None
    observed_rate: float | None
    ci_low: float | None
    ci_high: float | None


class ClassCoverage(_Frozen):
    """One outcome class of a class-conditional conformal set: how it was fitted and how often
    the set held the true outcome for held-out (reference) patients of that class."""

    label: int
    name: str
    calibration_n: int
    quantile: float
    held_out_n: int
    held_out_covered: int
    held_out_coverage: float | None


class ConformalSet(_Frozen):
    """The conformal prediction set for one patient, what it means and how it was obtained.

    ``statement`` is the sentence shown; ``reading`` says which case of the joint rule
    (:func:`set_reading`) it is. ``empirical_coverage`` is measured on the reference
    (held-out) split, overall; ``class_coverage`` per outcome class. Reports recorded before
    class-conditional sets have one marginal ``quantile`` and no ``reading`` or
    ``class_coverage``.
    """

    coverage: float
    method: str
    calibration_n: int
    quantile: float | None
    labels: tuple[int, ...]
    statement: str
    empirical_coverage: float | None
    empirical_coverage_n: int
    reading: SetReading | None = None
    class_coverage: tuple[ClassCoverage, ...] = ()


class ProbabilityInterval(_Frozen):
    """An uncertainty interval for the probability itself, with its construction.

    ``level`` is the level aimed at (95%). ``nominal_level`` is the percentile range used to
    reach it (wider than ``level`` when the simulation showed the narrower one falling
    short); ``level_reached`` says whether the interval's own simulation
    (``simulated_coverage``) reached ``level``: True, False (then the level is stated as
    "about" the simulated coverage), or None when no simulation was run. Reports recorded
    before these fields have them None (``nominal_level`` was then ``level``).
    ``calibrator`` says where the refitted calibrator came from: the model's own sigmoid
    calibrator, or one recovered from the model's probabilities (an ONNX file).
    """

    low: float
    high: float
    level: float
    method: str
    resamples: int
    seed: int
    calibration_n: int
    simulated_coverage: float | None = None
    simulated_runs: int = 0
    nominal_level: float | None = None
    level_reached: bool | None = None
    calibrator: Literal["model", "recovered"] = "model"


class Neighbourhood(_Frozen):
    """Reference (test) patients whose predicted probability was closest to this one.

    ``prob_low``/``prob_high`` are the lowest and highest predicted probabilities in the
    neighbourhood. ``outside_reference`` is True when the patient's probability lies outside
    that span: no tested patient had a probability this extreme, so the neighbourhood is
    only the nearest available evidence and the definition says so. ``off_centre`` is True
    when the neighbourhood's mean predicted probability is more than ``OFF_CENTRE_POINTS``
    from the patient's (a sparse tail): its observed rate then describes patients at a
    different risk, and the definition says so too.
    """

    n: int
    events: int
    observed_rate: float
    ci_low: float
    ci_high: float
    mean_predicted: float
    prob_low: float
    prob_high: float
    outside_reference: bool
    off_centre: bool
    definition: str


class ConfidenceAssessment(_Frozen):
    """Everything the screen says about how sure the model is for one patient.

    Attributes
    ----------
    probability : float
        The calibrated probability, unrounded.
    base_rate : float
        Observed outcome rate in the reference (test) split.
    threshold : float
        The card's decision threshold.
    side : {'above', 'below', 'at'}
        Where the probability falls relative to the threshold.
    side_statement : str
        E.g. "above the 20% threshold by 3.1 points".
    distance_points : float
        |probability − threshold| in percentage points.
    near_threshold : bool
        True when within ``near_threshold_margin`` points, or when the threshold lies inside
        the uncertainty range.
    near_threshold_margin : float
        The margin in percentage points (``NEAR_THRESHOLD_POINTS``).
    near_threshold_reason : str or None
        Why it is near (None when it is not).
    conformal : ConformalSet or None
        None when the bundle has no calibration split.
    neighbourhood : Neighbourhood
    range_low, range_high : float or None
        The probability interval's ends (``interval``), or None when no interval for the
        probability can be given. In reports recorded before intervals existed they held
        the neighbourhood's Wilson interval, widened to include the probability.
    range_statement : str
        E.g. "between 9 and 13 out of 100", or why no interval is given.
    reliability_curve : tuple of ReliabilityBin
        The whole model's reliability curve on the reference split.
    calibrated : bool
        True only when the model card names a calibration method (not "none").
    calibration_method : str or None
        The card's calibration method.
    probability_label : str
        How the number is named on every screen: "Calibrated probability (sigmoid)" or
        "Model probability (not calibrated)".
    interval : ProbabilityInterval or None
    interval_unavailable_reason : str or None
        Why no interval for the probability is given (None when one is).
    conformal_unavailable_reason : str or None
        Why no conformal set is given (None when one is).
    neighbourhood_statement : str or None
        Whether the probability lies inside the neighbourhood's observed-rate interval.
    estimate_outside_neighbourhood : bool
        True when it does not.
    """

    probability: float
    base_rate: float
    threshold: float
    side: Side
    side_statement: str
    distance_points: float
    near_threshold: bool
    near_threshold_margin: float
    near_threshold_reason: str | None
    conformal: ConformalSet | None
    neighbourhood: Neighbourhood
    range_low: float | None
    range_high: float | None
    range_statement: str
    reliability_curve: tuple[ReliabilityBin, ...]
    calibrated: bool = True
    calibration_method: str | None = None
    probability_label: str = "Calibrated probability"
    interval: ProbabilityInterval | None = None
    interval_unavailable_reason: str | None = None
    conformal_unavailable_reason: str | None = None
    neighbourhood_statement: str | None = None
    estimate_outside_neighbourhood: bool = False
