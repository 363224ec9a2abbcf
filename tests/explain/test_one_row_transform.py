"""The one-row replay of a fitted preprocessing equals scikit-learn's transform bit for bit,
takes only allow-listed parts, and leaves every case it cannot replay to scikit-learn."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
)

from caselens.explain.attribution import select_background
from caselens.explain.attribution._frames import _columns
from caselens.explain.attribution.log_odds import _LogOdds, _unwrap_logistic
from caselens.explain.attribution.one_row_transform import OneRowTransform
from caselens.explain.cases import validate_inputs

NUMBERS = ["age", "creatinine"]
TEXTS = ["sex", "ward"]
NAMES = NUMBERS + TEXTS


def _training(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 12, n).round(),
            "creatinine": rng.lognormal(0, 0.4, n),
            "sex": rng.choice(["Female", "Male"], n).astype(object),
            "ward": rng.choice(["Cardiology", "Surgery", "Medicine"], n).astype(object),
        }
    )
    frame.loc[rng.random(n) < 0.1, "creatinine"] = np.nan
    return frame


def _frame(values: list) -> pd.DataFrame:
    # As a case reaches the model: one row, each column object dtype (Case.to_frame()).
    return pd.DataFrame(
        {n: pd.Series([v], dtype=object) for n, v in zip(NAMES, values, strict=True)}
    )


PREPROCESSING = {
    "impute, scale, one-hot (ignore)": lambda: ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMBERS),
            (
                "texts",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                TEXTS,
            ),
        ]
    ),
    "scale without mean, constant fill, one-hot alone": lambda: ColumnTransformer(
        [
            (
                "numbers",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    StandardScaler(with_mean=False),
                ),
                NUMBERS,
            ),
            ("texts", OneHotEncoder(handle_unknown="ignore", sparse_output=False), TEXTS),
        ]
    ),
    "one-hot, numbers passed through as the remainder": lambda: ColumnTransformer(
        [("texts", OneHotEncoder(handle_unknown="ignore"), TEXTS)], remainder="passthrough"
    ),
    "one-hot that raises on an unknown category, in a pipeline": lambda: Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
                        ("texts", OneHotEncoder(handle_unknown="error"), TEXTS),
                    ]
                ),
            )
        ]
    ),
}


def _fitted(name: str):
    return PREPROCESSING[name]().fit(_training())


def _sklearn_row(preprocess, values: list) -> np.ndarray | None:
    try:
        out = preprocess.transform(_frame(values))
    except ValueError:
        return None  # e.g. an unknown category with handle_unknown="error"
    return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=float)[0]


@pytest.mark.parametrize("name", sorted(PREPROCESSING))
def test_the_replay_equals_scikit_learn_on_every_training_row(name):
    preprocess = _fitted(name)
    fast = OneRowTransform.compile(preprocess, NAMES)
    assert fast is not None, name
    training = _training()
    rows = training[NAMES].astype(object).where(training[NAMES].notna(), None).values.tolist()
    expected = np.asarray(preprocess.transform(training[NAMES]), dtype=float)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    assert fast.verified(rows, expected) is fast
    replayed = np.vstack([fast(r) for r in rows])
    assert np.array_equal(replayed, expected, equal_nan=True)


number = st.one_of(
    st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(0, 120)
)
text = st.one_of(
    st.none(),
    st.sampled_from(["Female", "Male", "Cardiology", "Surgery", "Medicine"]),
    st.text(max_size=8),
)


@pytest.mark.parametrize("name", sorted(PREPROCESSING))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.tuples(number, number, text, text))
def test_any_case_is_replayed_exactly_or_left_to_scikit_learn(name, values):
    preprocess = _fitted(name)
    fast = OneRowTransform.compile(preprocess, NAMES)
    values = [math.nan if v is None and i < 2 else v for i, v in enumerate(values)]
    replayed = fast(values)
    if replayed is None:
        return  # scikit-learn transforms this case (or raises on it, as it would anyway)
    expected = _sklearn_row(preprocess, values)
    assert expected is not None, "replayed a case scikit-learn refuses"
    assert np.array_equal(replayed, expected, equal_nan=True), (values, replayed, expected)


def test_missing_unknown_and_non_text_categories_are_left_to_scikit_learn():
    fast = OneRowTransform.compile(_fitted("impute, scale, one-hot (ignore)"), NAMES)
    assert fast([61.0, 1.1, None, "Surgery"]) is None  # missing category: imputed by sklearn
    assert fast([61.0, 1.1, 3, "Surgery"]) is None
    assert fast([61.0, "1.1", "Male", "Surgery"]) is None
    # Unknown with handle_unknown="ignore": all zeros, as scikit-learn gives.
    preprocess = _fitted("impute, scale, one-hot (ignore)")
    assert np.array_equal(
        fast([61.0, 1.1, "Male", "Oncology"]),
        _sklearn_row(preprocess, [61.0, 1.1, "Male", "Oncology"]),
    )
    raising = OneRowTransform.compile(
        _fitted("one-hot that raises on an unknown category, in a pipeline"), NAMES
    )
    assert raising([61.0, 1.1, "Male", "Oncology"]) is None


@pytest.mark.parametrize(
    "preprocess",
    [
        ColumnTransformer([("n", MinMaxScaler(), NUMBERS), ("t", OneHotEncoder(), TEXTS)]),
        ColumnTransformer(
            [("n", FunctionTransformer(np.log1p), NUMBERS), ("t", OneHotEncoder(), TEXTS)]
        ),
        ColumnTransformer(
            [("n", StandardScaler(), NUMBERS), ("t", OneHotEncoder(drop="first"), TEXTS)]
        ),
        ColumnTransformer(
            [("n", StandardScaler(), NUMBERS), ("t", OneHotEncoder(min_frequency=50), TEXTS)]
        ),
        ColumnTransformer([("n", SimpleImputer(add_indicator=True), NUMBERS)]),
        Pipeline([("s", StandardScaler())]),
    ],
    ids=["min-max", "function", "drop-first", "infrequent", "indicator", "no-columns"],
)
def test_parts_off_the_allow_list_are_not_replayed(preprocess):
    training = _training().fillna({"creatinine": 1.0})
    preprocess.fit(training[NUMBERS] if isinstance(preprocess, Pipeline) else training[NAMES])
    assert OneRowTransform.compile(preprocess, NAMES) is None


def test_a_replay_that_disagrees_with_scikit_learn_is_dropped():
    preprocess = _fitted("impute, scale, one-hot (ignore)")
    fast = OneRowTransform.compile(preprocess, NAMES)
    training = _training().head(20)
    rows = training[NAMES].astype(object).where(training[NAMES].notna(), None).values.tolist()
    expected = np.asarray(preprocess.transform(training[NAMES]), dtype=float)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    off = expected.copy()
    off[3, 0] = np.nextafter(off[3, 0], np.inf)  # one bit on one row
    assert fast.verified(rows, off) is None
    assert fast.verified(rows, expected[:, :-1]) is None  # another width


def test_the_sample_log_odds_are_the_same_with_and_without_the_replay(heart_bundle):
    schema = heart_bundle.features
    background = select_background(heart_bundle.reference, size=100, seed=0, columns=schema.names)
    log_odds = _LogOdds.build(heart_bundle.model, background, schema)
    assert log_odds is not None and log_odds.one_row is not None  # the sample takes the replay
    plain = dataclasses.replace(log_odds, one_row=None)
    preprocess, _ = _unwrap_logistic(heart_bundle.model)
    for demo in heart_bundle.demo_cases:
        frame = validate_inputs(demo.inputs, schema, source="demo").to_frame()
        fast_baseline, fast_values = log_odds.of(frame)
        baseline, values = plain.of(frame)
        assert fast_baseline == baseline
        assert np.array_equal(fast_values, values), demo.case_id
        expected = np.asarray(preprocess.transform(frame[schema.names]), dtype=float)[0]
        assert np.array_equal(log_odds.transformed(frame), expected)
        # The replay is taken for a complete case (no missing category).
        values_in_order = [c[0] for c in _columns(frame[schema.names], schema)]
        if all(v is not None for v in values_in_order):
            assert log_odds.one_row(values_in_order) is not None
