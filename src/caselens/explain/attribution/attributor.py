"""The probability, SHAP and LIME of one case in one model call, with everything that
depends only on the background prepared once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _case_values, _columns, _frame, _in_order
from caselens.explain.attribution._lime_setup import _LimeDraw, _LimeSetup
from caselens.explain.attribution._runtime import _library_version, _model_threads
from caselens.explain.attribution._variable_table import _combine
from caselens.explain.attribution.agreement import TOP_K
from caselens.explain.attribution.lime_explanation import LIME_RUNS, LIME_SAMPLES
from caselens.explain.attribution.log_odds import _LogOdds, _unwrap_logistic
from caselens.explain.attribution.model_usage import ModelUsage, _CountingPredict
from caselens.explain.attribution.results import Attributions, LimeExplanation, ShapExplanation
from caselens.explain.attribution.shap_explanation import _shap_failed, _shap_from_estimate
from caselens.explain.attribution.shapley import ShapleyPlan
from caselens.model.budget import ModelBudgetError
from caselens.model.features import FeatureSchema


def case_probability(
    model: Any, schema: FeatureSchema, case_frame: pd.DataFrame, *, single_threaded: bool = True
) -> float:
    """One case's probability alone: the model asked for this one row (columns in schema
    order, one thread for its native code), its answer checked as every answer of
    :meth:`Attributor.explain` is. It is the call :meth:`Attributor.explain` makes for the
    case when its one batched call fails, so it equals the report's probability bit for bit
    for trees and within the batch's last-bit caveat otherwise (see :class:`Attributor`).
    A shadow candidate is scored with it: no background, no SHAP, no LIME.

    Raises
    ------
    ValueError
        When ``case_frame`` is not one row; whatever the model raises on the case.
    """
    if len(case_frame) != 1:
        raise ValueError(f"one case at a time (got {len(case_frame)} rows)")
    case_frame = _in_order(case_frame, schema.names)
    predict = _CountingPredict(model)
    with _model_threads(single_threaded, every_api=True):
        return float(predict(case_frame)[0, 1])


@dataclass(frozen=True)
class CaseAttribution:
    """:meth:`Attributor.explain`'s answer: the probability, SHAP/LIME, and the model's use."""

    probability: float
    attributions: Attributions
    usage: ModelUsage


class Attributor:
    """The probability, SHAP and LIME of one case, in one model call whatever the model.

    Everything that depends only on the background is prepared once (its columns, LIME's
    encoding and explainer, the logistic regression's transformed background mean). Per case,
    the SHAP coalitions and every LIME run's neighbourhood are drawn and go to
    ``predict_proba`` in ONE call with the case itself as the last row: a model wrapped in
    k-fold calibration, or a pipeline whose per-call cost is milliseconds of validation, pays
    that cost once per report. Should that call raise, the case is asked alone (its failure
    is the report's: there is nothing to show), then each part alone, so that a failure is
    reported for the part that failed.

    The model predicts each row on its own, so the numbers are those of separate calls, with
    one caveat: BLAS (a logistic regression's matrix product) may round a row's last bit
    differently in a batch of another size or at another position (about 1e-17 on a
    probability; trees are bit-exact). The batch is ordered LIME, SHAP, then the case, so the
    explanation rows keep the positions they had before the case joined the call; the case's
    probability may differ from a one-row ``predict_proba`` call in its last bit, far below
    the numeric tolerance of a re-run and the 0.1-point resolution shown.

    Parameters
    ----------
    model : estimator
        Calibrated classifier taking a DataFrame of the clinical inputs.
    background : DataFrame
        From :func:`select_background`.
    schema : FeatureSchema
    seed, lime_runs, lime_samples, top_k, single_threaded
        As for :func:`explain_attributions`.
    """

    def __init__(
        self,
        model: Any,
        background: pd.DataFrame,
        schema: FeatureSchema,
        *,
        seed: int = 0,
        lime_runs: int = LIME_RUNS,
        lime_samples: int = LIME_SAMPLES,
        top_k: int = TOP_K,
        single_threaded: bool = True,
    ) -> None:
        self.model = model
        self.schema = schema
        self.background = background[schema.names]
        self.seed = seed
        self.lime_runs = lime_runs
        self.lime_samples = lime_samples
        self.top_k = top_k
        self.single_threaded = single_threaded
        self._background_columns: list[np.ndarray] | None = None
        self._lime: _LimeSetup | None = None
        self._is_logistic = _unwrap_logistic(model) is not None
        self._log_odds: _LogOdds | None = None
        self._codes: dict[int, tuple[Any, dict[str, int], np.ndarray]] | None = None

    def _lime_setup(self) -> _LimeSetup:
        if self._lime is None:
            self._lime = _LimeSetup(self.background, self.schema, seed=self.seed)
        return self._lime

    def _log_odds_model(self) -> _LogOdds | None:
        if self._is_logistic and self._log_odds is None:
            self._log_odds = _LogOdds.build(self.model, self.background, self.schema)
        return self._log_odds

    def explain(self, case_frame: pd.DataFrame) -> CaseAttribution:
        """The probability, SHAP, LIME and their agreement for one case (one model call).

        Raises whatever the model raises on the case itself (there is nothing to show then);
        a failure of SHAP or LIME alone is reported in its result.
        """
        schema = self.schema
        if len(case_frame) != 1:
            raise ValueError(f"explain one case at a time (got {len(case_frame)} rows)")
        case_frame = _in_order(case_frame, schema.names)
        values = _case_values(case_frame, schema)  # read once: a mixed-type row is slow to read
        predict = _CountingPredict(self.model)
        with _model_threads(self.single_threaded, every_api=True):
            probability, shap_result, lime_result = self._explain(case_frame, values, predict)
        return CaseAttribution(
            probability=probability,
            attributions=_combine(schema, values, shap_result, lime_result, self.top_k),
            usage=predict.usage(),
        )

    def probability(self, case_frame: pd.DataFrame) -> float:
        """The case's probability alone: the model asked for this one row, its answer
        checked as :meth:`explain` checks it (the same call :meth:`explain` falls back to
        when the batch fails). Equal to :meth:`explain`'s probability bit for bit for trees,
        within the BLAS last-bit caveat of the class doc otherwise; a shadow candidate is
        scored with it (no SHAP, no LIME)."""
        return case_probability(
            self.model, self.schema, case_frame, single_threaded=self.single_threaded
        )

    def _category_codes(self) -> dict[int, tuple[Any, dict[str, int], np.ndarray]]:
        """Per category variable whose background values are all schema categories (or
        missing): (the categories as an Arrow text array, category → code, the background's
        codes with -1 = missing)."""
        if self._codes is None:
            import pyarrow as pa

            codes: dict[int, tuple[Any, dict[str, int], np.ndarray]] = {}
            columns = self._background_columns or _columns(self.background, self.schema)
            for j, spec in enumerate(self.schema):
                if spec.kind != "category" or not spec.categories:
                    continue
                lookup = {c: i for i, c in enumerate(spec.categories)}
                values = columns[j]
                if all(v is None or (type(v) is str and v in lookup) for v in values):
                    background = np.array([-1 if v is None else lookup[v] for v in values])
                    categories = pa.array(list(spec.categories), type=pa.large_string())
                    codes[j] = (categories, lookup, background)
            self._codes = codes
        return self._codes

    def _batch_columns(
        self,
        draw: _LimeDraw,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
        *,
        text_dtype: Any = None,
    ) -> list[Any]:
        """Every LIME row, every SHAP row, then the case, one array per variable: float64
        (NaN = missing) or object (None = missing), as :func:`_columns` gives them; with
        ``text_dtype`` (pandas' Arrow-backed text dtype), the category columns that can be
        are that dtype's arrays built from category codes (see :meth:`_batch_frame`)."""
        stacked = draw.stacked()
        text: dict[int, Any] = {}
        if text_dtype is not None:
            try:
                text = self._text_columns(text_dtype, stacked, plan, case_columns)
            except Exception:  # pragma: no cover - never a reason to fail a report
                text = {}
        return [
            text[j]
            if j in text
            else np.concatenate(
                [draw.encoding.decode_column(stacked, j), plan.batch_columns[j], case_columns[j]]
            )
            for j in range(len(self.schema))
        ]

    def _batch_frame(
        self, draw: _LimeDraw, plan: ShapleyPlan, case_columns: Sequence[np.ndarray]
    ) -> pd.DataFrame:
        """The frame of every LIME row, every SHAP row, then the case: exactly ``_frame`` of
        :meth:`_batch_columns`, with the text columns built from category codes.

        pandas turns a column of Python strings into its Arrow-backed ``str`` dtype by
        converting every string (about 0.3 ms per 8,000-row column); LIME's rows are codes
        already and SHAP's rows are background rows with some cells set to the case's value,
        so the same column is taken from the category list by code in Arrow instead. Used
        only where the result is that dtype and every value is a schema category; otherwise
        (and on any surprise) the frame is built the plain way.
        """
        columns = self._batch_columns(draw, plan, case_columns, text_dtype=_inferred_text_dtype())
        return _frame(columns, self.schema)

    def _predict_batch(
        self,
        predict: _CountingPredict,
        draw: _LimeDraw,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
    ) -> np.ndarray:
        """The one model call on the batch. A model that takes the batch as columns (an ONNX
        model: :meth:`~caselens.model.onnx.OnnxClassifier.predict_proba_columns`, the same
        probabilities bit for bit) gets them without a DataFrame being built and taken apart
        again; any other model gets :meth:`_batch_frame`."""
        if predict.takes_columns:
            columns = self._batch_columns(draw, plan, case_columns)
            return predict.columns(dict(zip(self.schema.names, columns, strict=True)))
        return predict(self._batch_frame(draw, plan, case_columns))

    def _text_columns(
        self,
        text_dtype: Any,
        stacked: np.ndarray,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
    ) -> dict[int, Any]:
        """The batch's category columns that can be taken from the category list by code,
        as pandas' Arrow-backed text arrays (see :meth:`_batch_frame`)."""
        import pyarrow as pa

        text = {}
        for j, (categories, lookup, background) in self._category_codes().items():
            case_value = case_columns[j][0]
            known = case_value is None or (type(case_value) is str and case_value in lookup)
            if not known:
                continue
            case_code = -1 if case_value is None else lookup[case_value]
            codes = np.concatenate(
                [
                    np.rint(stacked[:, j]).astype(int),
                    plan.column_from(j, background, case_code),
                    [case_code],
                ]
            )
            if not (codes >= 0).any():
                continue  # all missing: pandas would not make it a text column
            text[j] = text_dtype.__from_arrow__(categories.take(pa.array(codes, mask=codes < 0)))
        return text

    def _explain(
        self, case_frame: pd.DataFrame, values: Sequence[Any], predict: _CountingPredict
    ) -> tuple[float, ShapExplanation, LimeExplanation]:
        case_columns, plan, shap_error = self._shap_plan(case_frame, values)
        lime = self._lime_setup()
        draw = lime.draw(
            case_frame,
            runs=self.lime_runs,
            num_samples=self.lime_samples,
            top_k=self.top_k,
            case_columns=case_columns,
        )
        lime_draw = draw if isinstance(draw, _LimeDraw) else None
        answers = _Answers()
        if plan is not None and lime_draw is not None and case_columns is not None:
            self._ask_together(answers, predict, lime_draw, plan, case_columns)
        if answers.probability is None:
            # The case alone; raises: there is nothing to show.
            answers.probability = float(predict(case_frame)[0, 1])
        if plan is not None and answers.shap_probs is None:
            try:
                answers.shap_probs = predict(_frame(plan.batch_columns, self.schema))[:, 1]
            except Exception as exc:
                shap_error = exc
        if lime_draw is not None and answers.lime_probs is None:
            try:
                answers.lime_probs = predict(lime_draw.frame())
            except Exception as exc:
                draw = lime_draw.failed(f"{type(exc).__name__}: {exc}")
                lime_draw = None
        probability = answers.probability
        shap_result = self._shap_result(
            plan, answers.shap_probs, shap_error, probability, case_frame, case_columns
        )
        lime_result = (
            draw if lime_draw is None else lime.finish(lime_draw, answers.lime_probs, predict)
        )
        return probability, shap_result, lime_result

    def _shap_plan(
        self, case_frame: pd.DataFrame, values: Sequence[Any]
    ) -> tuple[list[np.ndarray] | None, ShapleyPlan | None, Exception | None]:
        """The case's typed columns and SHAP's coalition rows, or why they could not be built
        (reported in the SHAP result, as a failed model call is)."""
        case_columns: list[np.ndarray] | None = None
        try:
            case_columns = _columns(case_frame, self.schema, values)
            if self._background_columns is None:
                self._background_columns = _columns(self.background, self.schema)
            plan = ShapleyPlan.build(
                case_columns, self._background_columns, self.schema, seed=self.seed
            )
        except Exception as exc:
            return case_columns, None, exc
        return case_columns, plan, None

    def _ask_together(
        self,
        answers: _Answers,
        predict: _CountingPredict,
        lime_draw: _LimeDraw,
        plan: ShapleyPlan,
        case_columns: Sequence[np.ndarray],
    ) -> None:
        """The one call: every LIME run's rows, then SHAP's rows, then the case (last, so that
        the explanation rows keep the positions they had when the case was asked alone: BLAS
        may round a row's last bit differently at another position). On a failure other than
        the model's budget, what is not answered is asked part by part by the caller."""
        try:
            probs = self._predict_batch(predict, lime_draw, plan, case_columns)
            answers.lime_probs = probs[: lime_draw.rows]
            answers.shap_probs = probs[lime_draw.rows : -1, 1]
            answers.probability = float(probs[-1, 1])
        except ModelBudgetError:
            raise  # over its time or memory: asking again part by part would only stall
        except Exception:  # ask each part alone, so the failing part is named
            pass

    def _shap_result(
        self,
        plan: ShapleyPlan | None,
        shap_probs: np.ndarray | None,
        shap_error: Exception | None,
        probability: float,
        case_frame: pd.DataFrame,
        case_columns: Sequence[np.ndarray] | None,
    ) -> ShapExplanation:
        """SHAP's result from its rows' probabilities, or the failed result with the error."""
        common = dict(background_size=len(self.background), seed=self.seed)
        if plan is None or shap_probs is None:
            return _shap_failed(shap_error, probability, common)
        return _shap_from_estimate(
            plan.finish(shap_probs, probability),
            probability,
            self.schema,
            self._log_odds_model,
            case_frame,
            common,
            case_columns=case_columns,
        )


@dataclass
class _Answers:
    """The model's answers for one case, each None until it has been given."""

    probability: float | None = None
    shap_probs: np.ndarray | None = None
    lime_probs: np.ndarray | None = None


@functools.cache
def _inferred_text_dtype() -> Any:
    """The dtype pandas gives a column of Python strings, if it is Arrow-backed (else None)."""
    dtype = pd.Series(np.array(["a"], dtype=object)).dtype
    if getattr(dtype, "storage", None) != "pyarrow" or not hasattr(dtype, "__from_arrow__"):
        return None
    return dtype


def explain_attributions(
    model: Any,
    case_frame: pd.DataFrame,
    background: pd.DataFrame,
    schema: FeatureSchema,
    *,
    seed: int = 0,
    lime_runs: int = LIME_RUNS,
    lime_samples: int = LIME_SAMPLES,
    top_k: int = TOP_K,
    single_threaded: bool = True,
) -> Attributions:
    """SHAP, LIME and their agreement for one case.

    Parameters
    ----------
    model : estimator
        Calibrated classifier taking a DataFrame of the clinical inputs.
    case_frame : DataFrame
        One row (e.g. ``Case.to_frame()``).
    background : DataFrame
        From :func:`select_background` (its size and seed are the caller's to record; the
        result records the size).
    schema : FeatureSchema
    seed : int
        Seed of the SHAP orders and of the first LIME run.
    lime_runs, lime_samples, top_k : int
    single_threaded : bool
        Run the model's native code on one thread (see :func:`explain_shap`).

    Returns
    -------
    Attributions
        The model is asked twice (see :class:`Attributor`, which also keeps the background's
        preparation for the next case).
    """
    if len(case_frame) != 1:
        raise ValueError(f"explain one case at a time (got {len(case_frame)} rows)")
    attributor = Attributor(
        model,
        background,
        schema,
        seed=seed,
        lime_runs=lime_runs,
        lime_samples=lime_samples,
        top_k=top_k,
        single_threaded=single_threaded,
    )
    return attributor.explain(case_frame).attributions


def warm_up(
    model: Any = None, background: pd.DataFrame | None = None, schema: FeatureSchema | None = None
) -> None:
    """Pay the one-off costs (imports, first model calls) at start-up, not on the first case.

    Parameters
    ----------
    model, background, schema : optional
        When all three are given, one small explanation of the first background row is run.
    """
    import lime.lime_tabular  # noqa: F401  (slow first import)
    import scipy.stats  # noqa: F401

    _library_version()

    if model is None or background is None or schema is None or len(background) == 0:
        return
    small = background.iloc[: min(20, len(background))]
    explain_attributions(model, background.iloc[[0]], small, schema, lime_runs=1, lime_samples=200)
