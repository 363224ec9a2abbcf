"""An interval for the calibrated probability: bootstrap refits of the sigmoid calibrator
(:func:`platt_fit`, :class:`CalibrationBootstrap`), with its coverage checked by simulation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

from caselens.explain.confidence._numbers import (
    INTERVAL_CONFIDENCE,
    _check_outcomes,
    _check_probabilities,
    _level_text,
    _round,
)
from caselens.explain.confidence.results import ProbabilityInterval

if TYPE_CHECKING:
    from caselens.model.bundle import ModelBundle

#: Bootstrap refits of the calibrator behind each probability interval, and their seed.
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0
#: The interval's coverage is simulated when a bundle is loaded if its calibration split has
#: at most this many patients (small splits are where a percentile bootstrap falls short).
SIMULATE_COVERAGE_UP_TO = 2000
#: Percentile levels tried, narrowest first, until the interval's own simulation shows it
#: holding the true probability at least as often as the stated level (a percentile
#: bootstrap on a small calibration split falls short of its nominal level: 90% for 95%
#: on 61 patients). The widest is kept, and the level stated as "about N%", if none does.
CANDIDATE_LEVELS = (0.95, 0.96, 0.97, 0.98, 0.99, 0.995)
#: A model's probabilities are taken to end in one sigmoid calibrator fitted on the
#: bundle's calibration split when a Platt refit of their log-odds on that split returns
#: slope −1 and intercept 0 within this (an ONNX file's float32 probabilities move the refit
#: by about 1e-6; a different calibrator or split moves it by far more).
RECOVERED_CALIBRATOR_TOLERANCE = 1e-3


def _platt_targets(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # Platt's smoothed targets, exactly as sklearn's sigmoid calibration sets them.
    prior1 = weights @ y
    prior0 = weights.sum(axis=1) - prior1
    return np.where(
        y[None, :] == 1, ((prior1 + 1) / (prior1 + 2))[:, None], (1 / (prior0 + 2))[:, None]
    )


def platt_fit(
    scores: ArrayLike,
    outcomes: ArrayLike,
    weights: np.ndarray | None = None,
    *,
    start: tuple[float, float] | None = None,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid (Platt) calibration fits, one per row of ``weights``, by Newton's method.

    Solves the objective of scikit-learn's ``sigmoid`` calibration — log-loss against
    Platt's smoothed targets, with sample weights — for every weight vector at once, so a
    few hundred bootstrap refits (weights = resample counts) cost a few vectorised passes.
    The fitted probability is ``1 / (1 + exp(a·score + b))`` (sklearn's convention).

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        The base model's decision values (or probabilities) on the calibration split.
    outcomes : array-like of 0/1, shape (n,)
    weights : ndarray of shape (B, n), optional
        One weight vector per fit; default: one unweighted fit.
    start : (a, b), optional
        Where Newton's method starts (e.g. the fit on all patients, for bootstrap refits);
        default: slope 0 at the weighted mean log-odds.
    max_iter : int, default 100

    Returns
    -------
    (a, b) : two arrays of shape (B,)

    Raises
    ------
    ValueError
        If a fit does not converge.
    """
    f = np.asarray(scores, dtype=float).ravel()
    y = _check_outcomes("outcomes", outcomes, f.size).astype(float)
    w = np.ones((1, f.size)) if weights is None else np.asarray(weights, dtype=float)
    centre, scale = float(f.mean()), float(f.std()) or 1.0
    x = (f - centre) / scale
    targets = _platt_targets(y, w)
    # z = alpha·x + beta is the log-odds; start from the weighted-mean log-odds.
    mean_t = np.clip((w * targets).sum(axis=1) / w.sum(axis=1), 1e-6, 1 - 1e-6)
    alpha = np.zeros(w.shape[0])
    beta = np.log(mean_t / (1 - mean_t))
    if start is not None:
        # alpha·x + beta = −(a·f + b) with x = (f − centre)/scale.
        alpha = np.full(w.shape[0], -start[0] * scale)
        beta = np.full(w.shape[0], -(start[1] + start[0] * centre))
    for _ in range(max_iter):
        z = alpha[:, None] * x[None, :] + beta[:, None]
        prob = 1 / (1 + np.exp(-z))
        resid = w * (prob - targets)
        curv = w * prob * (1 - prob)
        g_a, g_b = resid @ x, resid.sum(axis=1)
        h_aa, h_ab, h_bb = curv @ (x * x), curv @ x, curv.sum(axis=1)
        det = h_aa * h_bb - h_ab * h_ab
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        alpha, beta = alpha - step_a, beta - step_b
        if np.all(np.abs(step_a) + np.abs(step_b) < 1e-10):
            break
    else:
        raise ValueError("platt_fit: Newton's method did not converge.")
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))):
        raise ValueError("platt_fit: the fit is not finite.")
    # Back to the original scores and sklearn's sign convention p = 1/(1+exp(a·f + b)).
    return -alpha / scale, -(beta - alpha * centre / scale)


def _sigmoid(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(np.clip(a * f + b, -700, 700)))


class CalibrationBootstrap:
    """An interval for a sigmoid-calibrated probability: bootstrap refits of the calibrator.

    Construction: the bundle's model is a ``CalibratedClassifierCV`` around a frozen base
    model, with one sigmoid calibrator fitted on the bundle's calibration split. The base
    model is held fixed; the calibrator is refitted (same objective, :func:`platt_fit`) on
    ``resamples`` bootstrap resamples (with replacement, same size) of the calibration
    split. A patient's interval is the (α/2, 1 − α/2) percentile range of their
    probability under the refits. It measures how much the probability depends on which
    patients happened to be in the calibration split; it does not include the base
    model's own training uncertainty, and it is never widened to fit anything.

    Since the calibrator is monotone, the patient's base score is recovered from the
    calibrated probability itself (``f = (log(1/p − 1) − b) / a``), so the interval needs
    nothing but the probability.

    Parameters
    ----------
    scores, outcomes : array-like
        The base model's scores on the calibration split and the observed outcomes.
    a, b : float
        The bundle's fitted calibrator (``p = 1/(1+exp(a·f+b))``).
    resamples : int, default BOOTSTRAP_RESAMPLES
    level : float, default INTERVAL_CONFIDENCE
    seed : int, default BOOTSTRAP_SEED
    """

    def __init__(
        self,
        scores: ArrayLike,
        outcomes: ArrayLike,
        *,
        a: float,
        b: float,
        resamples: int = BOOTSTRAP_RESAMPLES,
        level: float = INTERVAL_CONFIDENCE,
        seed: int = BOOTSTRAP_SEED,
        calibrator: Literal["model", "recovered"] = "model",
    ) -> None:
        f = np.asarray(scores, dtype=float).ravel()
        y = _check_outcomes("outcomes", outcomes, f.size)
        if f.size == 0 or a == 0 or not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError("CalibrationBootstrap: needs calibration patients and a slope ≠ 0.")
        self.a, self.b = float(a), float(b)
        self.resamples, self.level, self.seed = int(resamples), float(level), int(seed)
        self.calibration_n = int(f.size)
        self._scores, self._outcomes = f, y
        self.simulated_coverage: float | None = None
        self.simulated_runs = 0
        #: The percentile range used; widened by :meth:`simulate_coverage` when needed.
        self.nominal_level = self.level
        self.level_reached: bool | None = None
        #: Simulated coverage of every candidate percentile range tried.
        self.coverage_by_level: dict[float, float] = {}
        self.calibrator = calibrator
        rng = np.random.default_rng(seed)
        slopes, intercepts = [], []
        # Resample counts as weights; in chunks so a 20,000-patient split stays small.
        for start in range(0, self.resamples, 50):
            size = min(50, self.resamples - start)
            draws = rng.integers(0, f.size, size=(size, f.size))
            counts = np.stack([np.bincount(d, minlength=f.size) for d in draws])
            ra, rb = platt_fit(f, y, counts, start=(self.a, self.b))
            slopes.append(ra)
            intercepts.append(rb)
        self.slopes_ = np.concatenate(slopes)
        self.intercepts_ = np.concatenate(intercepts)

    def simulate_coverage(
        self, held_out_probabilities: ArrayLike, *, runs: int = 60, resamples: int = 100
    ) -> float:
        """How often the interval holds the true calibrated probability, by simulation, and
        the narrowest percentile range that holds it at the stated level.

        Truth is the bundle's own calibrator. Each run draws new calibration outcomes from
        it (same calibration scores), refits the calibrator, builds the bootstrap interval
        from that refit and checks it at the held-out (reference) patients' scores, for
        every percentile range of :data:`CANDIDATE_LEVELS` at once. The narrowest range
        whose share covered (over all runs and patients) reaches ``level`` becomes the
        interval (``nominal_level``; ``level_reached`` True); if none does, the widest is
        kept and ``level_reached`` is False, so the level is stated as "about" what was
        measured. The chosen range's share is returned and kept on the object.
        """
        p = np.clip(_check_probabilities("held_out", held_out_probabilities), 1e-15, 1 - 1e-15)
        f_held = (np.log(1 / p - 1) - self.b) / self.a
        truth = _sigmoid(np.float64(self.a), np.float64(self.b), f_held)
        truth_cal = _sigmoid(np.float64(self.a), np.float64(self.b), self._scores)
        candidates = sorted({self.level, *(c for c in CANDIDATE_LEVELS if c > self.level)})
        rng = np.random.default_rng(self.seed + 1)
        covered: dict[float, list[float]] = {c: [] for c in candidates}
        for run in range(runs):
            y = (rng.uniform(size=self._scores.size) < truth_cal).astype(int)
            a, b = platt_fit(self._scores, y)
            refit = CalibrationBootstrap(
                self._scores, y, a=a[0], b=b[0], resamples=resamples, level=self.level, seed=run
            )
            ordered = refit._ordered_refits(_sigmoid(a[0], b[0], f_held))
            for level in candidates:
                low, high = refit._ends(ordered, level)
                covered[level].append(float(np.mean((low <= truth) & (truth <= high))))
        self.coverage_by_level = {c: float(np.mean(v)) for c, v in covered.items()}
        reaching = [c for c in candidates if self.coverage_by_level[c] >= self.level]
        self.level_reached = bool(reaching)
        self.nominal_level = reaching[0] if reaching else candidates[-1]
        self.simulated_coverage = self.coverage_by_level[self.nominal_level]
        self.simulated_runs = runs
        return self.simulated_coverage

    def method(self) -> str:
        """The construction, in one sentence, with its simulated coverage when measured."""
        calibrator = (
            "the sigmoid calibrator"
            if self.calibrator == "model"
            else "the model's final sigmoid calibration step (recovered from its own "
            "probabilities on the calibration split, where a refit reproduces it exactly)"
        )
        text = (
            f"{_level_text(self.nominal_level)} percentile bootstrap: {calibrator} refitted "
            f"on {self.resamples} resamples of the {self.calibration_n:,}-patient calibration "
            f"split (seed {self.seed}), base model held fixed; it shows the calibration "
            "step's uncertainty, not the base model's"
        )
        if self.simulated_coverage is not None:
            text += (
                f". In {self.simulated_runs} simulations on this bundle's held-out patients it "
                f"held the true calibrated probability {100 * self.simulated_coverage:.1f}% of "
                "the time"
            )
            if self.nominal_level != self.level and self.level_reached:
                text += (
                    f" (the {_level_text(self.level)} range held it only "
                    f"{100 * self.coverage_by_level[self.level]:.1f}% of the time, so the "
                    f"{_level_text(self.nominal_level)} range is used to reach "
                    f"{_level_text(self.level)})"
                )
            elif self.level_reached is False:
                text += f", short of {_level_text(self.level)}, so its level is stated as that"
        else:
            text += ". Its level was not checked by simulation on this bundle"
        return text

    def _ordered_refits(self, probabilities: ArrayLike) -> np.ndarray:
        """The refitted calibrators' probabilities, sorted, one column per probability."""
        p = np.clip(_check_probabilities("probabilities", probabilities), 1e-15, 1 - 1e-15)
        f = (np.log(1 / p - 1) - self.b) / self.a
        refits = _sigmoid(self.slopes_[:, None], self.intercepts_[:, None], f[None, :])
        return np.sort(refits, axis=0)

    def intervals(self, probabilities: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Interval ends for many probabilities (vectorised), at ``nominal_level``."""
        return self._ends(self._ordered_refits(probabilities), self.nominal_level)

    def _ends(self, ordered: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        # Percentiles with numpy's default (linear) rule, written out: it is the hot path.
        ends = []
        for share in ((1 - level) / 2, 1 - (1 - level) / 2):
            position = share * (self.resamples - 1)
            below = math.floor(position)
            above = min(below + 1, self.resamples - 1)
            weight = position - below
            ends.append(ordered[below] + weight * (ordered[above] - ordered[below]))
        return ends[0], ends[1]

    def interval(self, probability: float) -> ProbabilityInterval:
        """The interval for one probability."""
        low, high = self.intervals([probability])
        return ProbabilityInterval(
            low=_round(low[0]),
            high=_round(high[0]),
            level=self.level,
            method=self.method(),
            resamples=self.resamples,
            seed=self.seed,
            calibration_n=self.calibration_n,
            simulated_coverage=(
                None if self.simulated_coverage is None else _round(self.simulated_coverage)
            ),
            simulated_runs=self.simulated_runs,
            nominal_level=self.nominal_level,
            level_reached=self.level_reached,
            calibrator=self.calibrator,
        )

    @classmethod
    def for_bundle(
        cls, bundle: ModelBundle, calibration_probabilities: ArrayLike | None = None
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """The bootstrap for a bundle, or None and the reason no interval can be given.

        ``calibration_probabilities`` (the model's probabilities on the calibration split)
        spare a second pass of the model when the caller already has them."""
        method = bundle.card.calibration.method
        if method == "none":
            return None, (
                "The model is not calibrated (model card: calibration method 'none'), so no "
                "interval for the probability can be given."
            )
        model = bundle.model
        calibrated = getattr(model, "calibrated_classifiers_", None)
        unsupported = (
            "CaseLens gives an interval for the probability only for a CalibratedClassifierCV "
            "with one sigmoid calibrator around a frozen base model, fitted on the bundle's "
            f"calibration split; this model ({type(model).__name__}) is not one, so no "
            "interval is given."
        )
        if bundle.calibration_data is None or not len(bundle.calibration_data):
            return None, "The bundle has no calibration split, so no interval can be given."
        if (
            type(model).__name__ != "CalibratedClassifierCV"
            or getattr(model, "method", None) != "sigmoid"
            or method != "sigmoid"
            or not calibrated
            or len(calibrated) != 1
            or type(calibrated[0].estimator).__name__ != "FrozenEstimator"
            or len(calibrated[0].calibrators) != 1
            or list(getattr(model, "classes_", [])) != [0, 1]
        ):
            # Not a model CaseLens can open up (an ONNX file, another library's pipeline):
            # the same method applies when its probabilities are one sigmoid fitted on the
            # calibration split, which a refit of their log-odds there shows.
            if method != "sigmoid":
                return None, unsupported
            return cls.recovered(bundle, calibration_probabilities)
        calibrator = calibrated[0].calibrators[0]
        try:
            a, b = float(calibrator.a_), float(calibrator.b_)
            if calibration_probabilities is None:
                calibration_probabilities = bundle.predict_proba(bundle.calibration_data)
            shown = _check_probabilities("calibration_probabilities", calibration_probabilities)
            # The calibrator is p = 1/(1+exp(a·f+b)), so the base scores are recovered from
            # the model's own probabilities without calling the base model again.
            clipped = np.clip(shown, 1e-15, 1 - 1e-15)
            scores = (np.log(1 / clipped - 1) - b) / a
            return cls(scores, bundle.calibration_data["outcome"].to_numpy(), a=a, b=b), None
        except (AttributeError, ValueError, TypeError, ZeroDivisionError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"

    @classmethod
    def recovered(
        cls, bundle: ModelBundle, calibration_probabilities: ArrayLike | None = None
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """The bootstrap for a model whose calibrator cannot be read (an ONNX file), when its
        probabilities show it ends in one sigmoid fitted on the bundle's calibration split.

        A Platt refit of the model's log-odds ``z`` on the calibration split gives
        ``p = 1/(1+exp(a·z+b))``; for a sigmoid calibrator fitted on that split (on any
        base score, since ``z`` is an affine function of it) the refit is exactly
        ``a = −1, b = 0``. Then ``z`` serves as the base score and the bootstrap is the
        same as with the calibrator in hand. Otherwise no interval, and the reason says why.
        """
        outcomes = bundle.calibration_data["outcome"].to_numpy()  # type: ignore[index]
        try:
            if calibration_probabilities is None:
                calibration_probabilities = bundle.predict_proba(bundle.calibration_data)
        except (ValueError, TypeError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"
        return cls.from_probabilities(
            calibration_probabilities, outcomes, model_name=type(bundle.model).__name__
        )

    @classmethod
    def from_probabilities(
        cls, calibration_probabilities: ArrayLike, outcomes: ArrayLike, *, model_name: str
    ) -> tuple[CalibrationBootstrap | None, str | None]:
        """:meth:`recovered` from a model's probabilities on the calibration split and the
        outcomes there (``model_name`` names the model in the reason when there is none)."""
        try:
            shown = _check_probabilities("calibration_probabilities", calibration_probabilities)
            clipped = np.clip(shown, 1e-15, 1 - 1e-15)
            log_odds = np.log(clipped / (1 - clipped))
            a, b = platt_fit(log_odds, outcomes)
        except (ValueError, TypeError, ZeroDivisionError, FloatingPointError) as exc:
            return None, f"No interval for the probability could be computed: {exc}"
        slope, intercept = float(a[0]), float(b[0])
        if (
            abs(slope + 1) > RECOVERED_CALIBRATOR_TOLERANCE
            or abs(intercept) > RECOVERED_CALIBRATOR_TOLERANCE
        ):
            return None, (
                f"No interval for the probability: this model ({model_name}) "
                "cannot be opened up, and its probabilities are not one sigmoid calibration "
                "fitted on the bundle's calibration split (refitting one there changes them: "
                f"slope {-slope:.3f}, shift {-intercept:.3f}, where 1 and 0 would mean it is). "
                "The interval refits that calibration step, so without it none can be given."
            )
        return cls(log_odds, outcomes, a=-1.0, b=0.0, calibrator="recovered"), None
