"""LIME's explainer for one background, built once: each case's neighbourhoods drawn as
LIME's own sampler draws them, and LIME's weighted fits on them."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _frame
from caselens.explain.attribution._lime_encoding import _LimeEncoding
from caselens.explain.attribution._weighted_ridge import _WeightedFits
from caselens.explain.attribution.lime_result import _lime_failed, _lime_result
from caselens.explain.attribution.results import LimeExplanation
from caselens.model.features import FeatureSchema


@dataclass(frozen=True)
class _LimeDraw:
    """Every run's neighbourhood of one case, drawn with LIME's own sampler, not yet predicted."""

    encoding: _LimeEncoding
    row: np.ndarray
    imputed: tuple[str, ...]
    seeds: tuple[int, ...]
    num_samples: int
    top_k: int
    neighbourhoods: list[tuple[np.ndarray, np.ndarray]]

    @property
    def rows(self) -> int:
        return len(self.seeds) * self.num_samples

    def columns(self) -> list[np.ndarray]:
        """The rows the model must predict (every run's, in run order), one array per variable."""
        return self.encoding.decode_columns(self.stacked())

    def stacked(self) -> np.ndarray:
        """Every run's sampled rows in LIME's numeric encoding (categories as codes)."""
        return np.concatenate([inverse for _, inverse in self.neighbourhoods])

    def frame(self) -> pd.DataFrame:
        return _frame(self.columns(), self.encoding.schema)

    def failed(self, reason: str) -> LimeExplanation:
        return _lime_failed(
            reason,
            num_samples=self.num_samples,
            seeds=self.seeds,
            top_k=self.top_k,
            imputed=self.imputed,
        )


class _LimeSetup:
    """LIME's encoding and explainer for one background, built once and reused per case.

    LIME's own sampler draws, per seed, categories and quartile bins from the background's
    frequencies, then a value inside each drawn bin; only the first row (the case) and the 0/1
    "same as the case" matrix depend on the case. That case-free part is drawn once per seed
    with LIME's own random state and discretiser (:meth:`_seed_draw`), and each case derives
    its neighbourhood from it: the rows are exactly those LIME's sampler returns for that case
    (``tests/explain/test_attribution_lime.py`` compares them bit for bit).

    The weighted ridge fits that LIME runs on a neighbourhood (:meth:`_surrogate`) are done
    here in numpy, operation for operation as scikit-learn's ``Ridge`` does them, because the
    scikit-learn calls spent most of their time validating 1,000 × 13 arrays; the weights and
    R² are LIME's to the last bit (compared by the same tests). LIME's explainer keeps one
    random state shared by its discretiser and its base, so drawing is serialised by a lock.
    """

    #: LIME's 'auto' feature selection uses forward selection up to this many variables
    #: (which, selecting every variable, only orders the columns: see ``_surrogate``).
    _FORWARD_SELECTION_MAX = 6
    #: Per-seed draws kept (a report uses ``lime_runs`` of them; other seeds are rare).
    _MAX_CACHED_DRAWS = 64

    def __init__(self, background: pd.DataFrame, schema: FeatureSchema, *, seed: int) -> None:
        self.schema = schema
        self.seed = seed
        self.encoding = _LimeEncoding(background, schema)
        self._explainer: Any = None
        self._lock = threading.Lock()
        self._draws: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._kernel_by_zeros: np.ndarray | None = None

    def _get_explainer(self) -> Any:
        if self._explainer is None:
            from lime.lime_tabular import LimeTabularExplainer

            encoding = self.encoding
            explainer = LimeTabularExplainer(
                encoding.training,
                mode="classification",
                feature_names=self.schema.names,
                categorical_features=encoding.categorical,
                categorical_names={j: list(c) for j, c in encoding.categories.items()},
                class_names=["no outcome", "outcome"],
                discretize_continuous=True,
                random_state=self.seed,
            )
            # With the discretiser every variable is sampled as a category (LIME sets the
            # scaler to mean 0, scale 1 for them): what _seed_draw and _surrogate rely on.
            if (
                explainer.discretizer is None
                or explainer.categorical_features != list(range(len(self.schema)))
                or not (explainer.scaler.mean_ == 0).all()
                or not (explainer.scaler.scale_ == 1).all()
            ):  # pragma: no cover - fixed by the arguments above
                raise RuntimeError("LIME's explainer is not set up as CaseLens expects")
            # LIME's kernel weight of a row with k zeros (distance √k to the case), k = 0..m.
            table = explainer.base.kernel_fn(np.sqrt(np.arange(len(self.schema) + 1.0)))
            table.flags.writeable = False
            self._kernel_by_zeros = table
            self._explainer = explainer
        return self._explainer

    def _seed_draw(self, seed: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """LIME's case-free draw for one seed: (drawn codes and bins, sampled values).

        Replays ``LimeTabularExplainer.__data_inverse`` with the discretiser: per variable,
        ``random_state.choice`` over the discretised background's values and frequencies,
        then ``discretizer.undiscretize`` of rows 1.. (LIME overwrites row 0 with the case).
        The random state is consumed exactly as there, and neither step looks at the case.
        Call with the lock held.
        """
        key = (seed, num_samples)
        cached = self._draws.get(key)
        if cached is not None:
            return cached
        explainer = self._get_explainer()
        state = explainer.random_state  # shared by the discretiser and LIME's base
        state.seed(seed)
        m = len(self.schema)
        drawn = np.empty((num_samples, m))
        for column in range(m):
            drawn[:, column] = state.choice(
                explainer.feature_values[column],
                size=num_samples,
                replace=True,
                p=explainer.feature_frequencies[column],
            )
        values = drawn.copy()
        values[1:] = explainer.discretizer.undiscretize(drawn[1:])
        drawn.flags.writeable = values.flags.writeable = False  # shared by every case
        if len(self._draws) >= self._MAX_CACHED_DRAWS:
            self._draws.pop(next(iter(self._draws)))
        self._draws[key] = (drawn, values)
        return drawn, values

    def _neighbourhood(
        self, row: np.ndarray, seed: int, num_samples: int, case_bins: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(data, inverse) as LIME's sampler returns them for this case and seed.

        ``data`` is 1 where a row's category or bin equals the case's (row 0, the case, all
        ones), ``inverse`` the sampled values with the case as row 0. ``case_bins``: the
        discretiser's bins of ``row``, when the caller has them. Call with the lock held.
        """
        drawn, values = self._seed_draw(seed, num_samples)
        if case_bins is None:
            case_bins = self._get_explainer().discretizer.discretize(row)
        data = (drawn == case_bins).astype(float)
        data[0] = 1.0
        inverse = values.copy()
        inverse[0] = row
        return data, inverse

    def draw(
        self,
        case_frame: pd.DataFrame,
        *,
        runs: int,
        num_samples: int,
        top_k: int,
        case_columns: Sequence[np.ndarray] | None = None,
    ) -> _LimeDraw | LimeExplanation:
        """Every run's neighbourhood (run i seeded ``seed + i``), or the failed result
        (``case_columns``: :func:`_columns` of the frame, when the caller has them)."""
        if runs < 1:
            raise ValueError("LIME needs at least one run")
        schema = self.schema
        seeds = tuple(self.seed + i for i in range(runs))
        row, imputed_idx = self.encoding.encode_case(case_frame, case_columns)
        imputed = tuple(schema.names[j] for j in imputed_idx)
        try:
            with self._lock:
                # Every run's neighbourhood first, so the model sees all of them in ONE call.
                bins = self._get_explainer().discretizer.discretize(row)  # the same every run
                neighbourhoods = [self._neighbourhood(row, s, num_samples, bins) for s in seeds]
        except Exception as exc:  # a failed LIME is reported, never silently dropped
            return _lime_failed(
                f"{type(exc).__name__}: {exc}",
                num_samples=num_samples,
                seeds=seeds,
                top_k=top_k,
                imputed=imputed,
            )
        return _LimeDraw(
            encoding=self.encoding,
            row=row,
            imputed=imputed,
            seeds=seeds,
            num_samples=num_samples,
            top_k=top_k,
            neighbourhoods=neighbourhoods,
        )

    def finish(
        self,
        draw: _LimeDraw,
        all_probs: np.ndarray,
        predict: Callable[[pd.DataFrame], np.ndarray] | None = None,
    ) -> LimeExplanation:
        """Each run's surrogate on its predicted neighbourhood; fidelity, stability and notes.

        ``all_probs`` holds ``predict_proba`` of :meth:`_LimeDraw.frame` (both classes, run
        order). ``predict`` is not needed (the surrogate sees only the drawn rows); it is
        accepted for callers written when LIME could ask the model again.
        """
        del predict
        try:
            explainer = self._get_explainer()
            weights_runs, scores = [], []
            with warnings.catch_warnings():  # as LIME's calls were: ill-conditioning
                warnings.simplefilter("ignore")  # warnings do not reach the screen
                for i, (data, _) in enumerate(draw.neighbourhoods):
                    probs = all_probs[i * draw.num_samples : (i + 1) * draw.num_samples]
                    weights, score = self._surrogate(explainer, data, probs)
                    weights_runs.append(weights)
                    scores.append(score)
        except Exception as exc:  # a failed LIME is reported, never silently dropped
            return draw.failed(f"{type(exc).__name__}: {exc}")
        return _lime_result(self.schema, draw, weights_runs, scores)

    def _surrogate(
        self, explainer: Any, data: np.ndarray, probs: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """LIME's weighted linear fit of one neighbourhood: weight per variable, and R².

        What ``explain_instance`` does after sampling, for label 1 and every variable:
        distances of the scaled rows to the case, LIME's kernel, feature selection (its
        'auto': above six variables 'highest_weights', a ridge fit with alpha 0.01 that
        orders the variables by |coef × case|), then a ridge fit with alpha 1 on the
        variables in that order, and its weighted R². The fits are :class:`_WeightedFits`
        (scikit-learn's operations): above six variables the result is LIME's bit for bit.

        Up to six variables LIME's 'auto' is 'forward_selection': 21 unpenalised fits and
        scores for six variables, per run, only to decide the ORDER of the columns of the
        final fit, since every variable is selected. A ridge fit and its R² do not depend on
        the order of the columns (the penalty and the centring treat each alike), so the
        variables are taken in schema order: the weights and R² are LIME's up to float
        rounding (about 1e-16; tested against LIME within 1e-12), at a fifth of the cost.
        Should a fit be singular, LIME itself is asked (scikit-learn then switches solver).
        """
        m = data.shape[1]
        labels = probs[:, 1]
        if explainer.feature_selection == "auto" and len(data) >= m:
            # (with fewer rows than variables scikit-learn solves the kernel (dual) problem)
            # LIME's scaler is the identity here (mean 0, scale 1: checked when it is built),
            # so the scaled rows are the 0/1 rows themselves. Row 0 (the case) is all ones,
            # so a row's squared distance to it is its count of zeros: a small whole number,
            # exact whichever way it is summed, and LIME's kernel of it is looked up.
            zeros = (m - data @ np.ones(m)).astype(np.intp)  # sums of 0/1: exact in BLAS
            weights = self._kernel_by_zeros[zeros]  # type: ignore[index]  # set with explainer
            try:
                fits = _WeightedFits(labels, weights)
                if m > self._FORWARD_SELECTION_MAX:
                    order = fits.highest_weights(data)
                    used = data[:, order]
                else:  # forward selection would only permute the columns (see above)
                    order, used = list(range(m)), data
                coef, intercept = fits.fit(used, alpha=1.0)
            except np.linalg.LinAlgError:  # scikit-learn would switch to SVD: let LIME do it
                pass
            else:
                result = np.zeros(m)
                result[order] = coef
                return result, fits.r2(used @ coef + intercept)
        from sklearn.metrics import pairwise_distances

        scaled = (data - explainer.scaler.mean_) / explainer.scaler.scale_

        distances = pairwise_distances(scaled, scaled[0].reshape(1, -1)).ravel()
        _, pairs, score, _ = explainer.base.explain_instance_with_data(
            scaled, probs, distances, 1, m, feature_selection=explainer.feature_selection
        )
        result = np.zeros(m)
        for j, w in pairs:
            result[j] = w
        return result, float(score)
