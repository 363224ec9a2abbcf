"""DiCE (``dice-ml``, random sampling) as a second way to search, for the comparison only.

CaseLens's own grid search (:mod:`.search`) is the default; ``SearchSettings.method =
"dice-random"`` asks DiCE instead, so that ``caselens bench counterfactual --method
dice-random`` can measure both on the same cases. Whatever DiCE proposes goes through the
same filter (every value within the card's direction and bounds, the hard limits and the
training range, at most three changes) and the same re-asking of the model as the grid's
answers: DiCE's own verdict is never shown.

How DiCE is held:

- The model is passed **in memory** (``dice_ml.Model(model=…, backend="sklearn")``), never
  by ``model_path`` (which unpickles a file). What DiCE gets is a thin wrapper that asks the
  bundle's model through the report's guarded call (answer checked to be a probability) and
  maps the card's threshold to 0.5 (monotone, piecewise linear): DiCE judges a binary
  answer at 0.5 and silently replaces any other stopping threshold by 0.25 or 0.75.
- DiCE's random method seeds and draws from numpy's and Python's global generators; the
  search sets them from ``SearchSettings.seed`` and puts the previous states back after.
  Because those generators are shared by the whole process, this backend is not safe to run
  on two threads at once, one more reason it is not the default.
- A DiCE call cannot be stopped part-way: the budget is checked after it.
- ``dice-ml`` 0.12 is an optional install (``pip install --no-deps dice-ml==0.12
  raiutils==0.4.2``): its declared requirement ``xgboost`` would replace the suite's
  ``xgboost-cpu`` (and pull a 350 MB CUDA library). When it is missing the method is
  refused with that instruction.
"""

from __future__ import annotations

import contextlib
import io
import random
import warnings
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from caselens.explain.attribution._frames import _frame
from caselens.explain.attribution._runtime import _model_threads
from caselens.explain.attribution.model_usage import _CountingPredict
from caselens.model.bundle_layout import OUTCOME_COLUMN

if TYPE_CHECKING:
    from caselens.explain.counterfactual.candidates import InputRange
    from caselens.explain.report import CaseExplainer

#: The method name in :class:`SearchSettings` that selects this backend.
DICE_METHOD = "dice-random"
#: Counterfactuals asked of DiCE per case; the best three (fewest changes, then smallest
#: distance) that pass CaseLens's filter are kept.
DICE_TOTAL_CFS = 10
#: DiCE's random sample per step (its default).
DICE_SAMPLE_SIZE = 1000
#: Fewest complete reference rows DiCE's data description is built from.
MIN_DICE_ROWS = 10

#: How every refusal of DiCE's to search a case or model begins.
DICE_REFUSED = "DiCE cannot search"
#: Why the method cannot run, when dice-ml is not installed.
DICE_MISSING = (
    "The DiCE comparison method needs dice-ml 0.12, which is not installed; install it with "
    "'pip install --no-deps dice-ml==0.12 raiutils==0.4.2' (its xgboost requirement would "
    "replace xgboost-cpu)."
)

_DATA: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class DiceRefusal(ValueError):
    """DiCE cannot search this case or model; the message says why, in plain words."""


class _ThresholdAtHalf:
    """The bundle's model as DiCE sees it: asked through the guarded call, its probability
    mapped so that the card's threshold reads as 0.5 (DiCE only judges at 0.5)."""

    def __init__(self, explainer: CaseExplainer) -> None:
        self.schema = explainer.bundle.features
        self._asked = _CountingPredict(explainer.bundle.model)
        self.single_threaded = explainer.attributor.single_threaded
        self.threshold = explainer.bundle.card.decision_threshold
        self.classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        columns = []
        for spec in self.schema:
            series = frame[spec.name]
            if spec.kind == "category":
                values = series.astype(object).to_numpy(dtype=object, copy=True)
                values[pd.isna(values)] = None
            else:
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            columns.append(values)
        with _model_threads(self.single_threaded, every_api=True):
            p = self._asked(_frame(columns, self.schema))[:, 1]
        t = self.threshold
        at_half = np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))
        return np.column_stack([1 - at_half, at_half])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The class at the card's threshold (DiCE asks for it)."""
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)


def dice_available() -> bool:
    """Whether dice-ml can be imported here."""
    try:
        import dice_ml  # noqa: F401
    except ImportError:
        return False
    return True


def _dice_data(explainer: CaseExplainer) -> Any:
    """DiCE's description of the data (ranges, categories), built once per explainer from
    the reference rows with every input recorded."""
    if explainer not in _DATA:
        import dice_ml

        bundle = explainer.bundle
        names = bundle.features.names
        rows = bundle.reference[[*names, OUTCOME_COLUMN]].dropna().reset_index(drop=True)
        if len(rows) < MIN_DICE_ROWS:
            _DATA[explainer] = None
        else:
            numbers = [f.name for f in bundle.features if f.kind != "category"]
            for name in numbers:
                rows[name] = rows[name].astype(float)
            _DATA[explainer] = dice_ml.Data(
                dataframe=rows, continuous_features=numbers, outcome_name=OUTCOME_COLUMN
            )
    return _DATA[explainer]


@contextlib.contextmanager
def _seeded_globals(seed: int) -> Iterator[None]:
    """numpy's and Python's global generators seeded, then put back as they were."""
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def dice_proposals(
    explainer: CaseExplainer,
    values: dict[str, Any],
    ranges: list[InputRange],
    *,
    target_positive: bool,
    seed: int,
) -> list[dict[str, Any]]:
    """DiCE's proposed changed values (input name → value, only the inputs it changed and
    the filter allows), in DiCE's order; [] when DiCE finds none.

    Raises
    ------
    DiceRefusal
        If DiCE cannot take this case or model (a value not recorded, too few complete
        reference rows), with DiCE's reason.
    RuntimeError
        If dice-ml is not installed (:data:`DICE_MISSING`).
    """
    if not dice_available():
        raise RuntimeError(DICE_MISSING)
    import dice_ml

    schema = explainer.bundle.features
    missing = [schema[n].label for n, v in values.items() if v is None and n in schema]
    if missing:
        raise DiceRefusal(
            f"{DICE_REFUSED} this case: it does not take a value not recorded "
            f"({', '.join(missing)})."
        )
    data = _dice_data(explainer)
    if data is None:
        raise DiceRefusal(
            f"{DICE_REFUSED} this model: it needs at least {MIN_DICE_ROWS} reference rows "
            "with every input recorded to describe the data, and this model's reference data "
            "has fewer."
        )
    wrapper = _ThresholdAtHalf(explainer)
    model = dice_ml.Model(model=wrapper, backend="sklearn")
    names = explainer.bundle.features.names
    query = pd.DataFrame([{n: values.get(n) for n in names}])
    for spec in explainer.bundle.features:
        if spec.kind != "category":
            query[spec.name] = pd.to_numeric(query[spec.name], errors="coerce").astype(float)
    permitted: dict[str, list[Any]] = {}
    for r in ranges:
        if r.is_category:
            permitted[r.name] = [r.current, *r.values]
        else:
            permitted[r.name] = [r.lowest, r.highest]
    # DiCE draws a progress bar on stderr for every call: kept off the server's log.
    quiet = io.StringIO()
    with (
        _seeded_globals(seed),
        contextlib.redirect_stderr(quiet),
        contextlib.redirect_stdout(quiet),
        warnings.catch_warnings(),
    ):
        # dice-ml 0.12 uses pandas keywords pandas 3 deprecates (inplace=…): not our warning.
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        dice = dice_ml.Dice(data, model, method="random")
        try:
            answer = dice.generate_counterfactuals(
                query,
                total_CFs=DICE_TOTAL_CFS,
                desired_class=1 if target_positive else 0,
                features_to_vary=[r.name for r in ranges],
                permitted_range=permitted,
                sample_size=DICE_SAMPLE_SIZE,
                random_seed=seed,
                verbose=False,
            )
        except Exception as exc:
            # DiCE says it found none by raising; anything else is a failure to report.
            if "No counterfactuals found" in str(exc):
                return []
            raise
    frame = answer.cf_examples_list[0].final_cfs_df
    if frame is None or len(frame) == 0:
        return []
    proposals = []
    for _, row in frame.iterrows():
        changed: dict[str, Any] = {}
        for r in ranges:
            value = row[r.name]
            if not r.is_category:
                value = float(value)
                if r.spec.kind == "integer":
                    value = float(round(value))
            if value != r.current:
                changed[r.name] = value
        if changed and all(r.allows(changed[r.name]) for r in ranges if r.name in changed):
            proposals.append(changed)
    return proposals
