"""Small cohorts and bundle files for the leakage tests (tests/model/test_leakage.py) and the
leakage flag on the Model facts page (tests/app/test_app_leakage_flag.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

SEED = 11
CARD = {
    "model_id": "leak-test",
    "name": "Leakage test model",
    "version": "0.0.1",
    "demonstration_only": True,
    "decision_threshold": 0.3,
    "release_date": "2026-11-25",
    "last_review_date": "2026-11-25",
}
INPUTS = ["age", "creatinine", "diabetes"]
EXPECTED = "expected inputs known before the outcome: refit the model without it"


def cohort(n: int = 900, seed: int = SEED) -> pd.DataFrame:
    """A seeded cohort whose outcome 'died' depends on age and diabetes, with noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(30, 90, n),
            "creatinine": rng.lognormal(0.1, 0.3, n).round(2),
            "diabetes": rng.integers(0, 2, n),
            "sex": rng.choice(["Female", "Male"], n),
        }
    )
    logit = -1 + 0.03 * (frame["age"] - 60) + 0.8 * frame["diabetes"]
    frame["died"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def write_files(
    folder: Path,
    frame: pd.DataFrame,
    inputs: list[str],
    *,
    test: pd.DataFrame | None = None,
    calibration: pd.DataFrame | None = None,
) -> list[str]:
    """Fit a model on the first 600 rows; write the files; return the create arguments."""
    train = frame.iloc[:600]
    test = frame.iloc[600:] if test is None else test
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(train[inputs], train["died"])
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    sio.dump(model, folder / "model.skops")
    (folder / "card.json").write_text(json.dumps(CARD))
    args = [
        "bundle",
        "create",
        "--model",
        str(folder / "model.skops"),
        "--train",
        str(folder / "train.csv"),
        "--test",
        str(folder / "test.csv"),
        "--outcome",
        "died",
        "--card",
        str(folder / "card.json"),
        "--out",
        str(folder / "out" / "bundle"),
    ]
    if calibration is not None:
        calibration.to_csv(folder / "calibration.csv", index=False)
        args += ["--calibration", str(folder / "calibration.csv")]
    return args


def near_deterministic_cohort(n: int = 900, seed: int = SEED) -> pd.DataFrame:
    """Two inputs that together all but fix the outcome; neither alone separates it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(30, 90, n),
            "creatinine": rng.lognormal(0.1, 0.3, n).round(2),
            "diabetes": rng.integers(0, 2, n),
            "sex": rng.choice(["Female", "Male"], n),
        }
    )
    score = (frame["age"] - 60) / 17 + (frame["creatinine"] - 1.15) / 0.35
    frame["died"] = (score + rng.normal(0, 0.05, n) > 0.3).astype(int)
    return frame
