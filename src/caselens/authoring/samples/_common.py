"""Pieces shared by the sample-model builds: splits, calibration choice, figures, demo cases."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupShuffleSplit, StratifiedKFold, train_test_split

from caselens.authoring.demo_cases import clean_value
from caselens.errors import CaseLensError
from caselens.model.card import Calibration
from caselens.model.performance import expected_calibration_error

Progress = Callable[[str], None]

#: Card fields every sample model shares: who owns it and that it is a demonstration.
DEMONSTRATION_CARD: dict[str, Any] = {
    "version": "1.0.0",
    "owner": "CaseLens project",
    "contact": "caselens@example.org",
    "release_date": "2026-11-25",
    "last_review_date": "2026-11-25",
    "review_interval_days": 365,
    "demonstration_only": True,
    "conformal_coverage": 0.9,
}
DEMONSTRATION_SOURCE_ATTRIBUTES: dict[str, str] = {
    "developer_name_and_contact": "CaseLens project (demonstration), caselens@example.org",
    "funding_source": "Not available — built by the CaseLens open-source project without "
    "external funding.",
}


@contextmanager
def step(progress: Progress, what: str) -> Iterator[None]:
    """Report a long step's start and its duration."""
    progress(f"  … {what}")
    start = time.perf_counter()
    yield
    progress(f"    done in {time.perf_counter() - start:.1f} s")


def verify_checksum(path: Path, expected: str, *, gunzip: bool = False) -> None:
    """Refuse a dataset file whose SHA-256 differs from its README's."""
    import gzip

    opener = gzip.open if gunzip else open
    digest = hashlib.sha256()
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise CaseLensError(
            f"{path.name}: SHA-256 is {digest.hexdigest()}, its README says {expected}; the "
            "dataset is not the published file, so the sample models are not rebuilt from it."
        )


def split_three_ways(
    y: np.ndarray, *, groups: np.ndarray | None, seed: int, calibration: float, test: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train / calibration / test row indices; by patient when ``groups`` is given."""
    index = np.arange(len(y))
    if groups is not None:
        outer = GroupShuffleSplit(n_splits=1, test_size=test, random_state=seed)
        rest, test_idx = next(outer.split(index, y, groups))
        inner = GroupShuffleSplit(
            n_splits=1, test_size=calibration / (1 - test), random_state=seed + 1
        )
        train_rel, cal_rel = next(inner.split(rest, y[rest], groups[rest]))
        return rest[train_rel], rest[cal_rel], test_idx
    rest, test_idx = train_test_split(index, test_size=test, stratify=y, random_state=seed)
    train_idx, cal_idx = train_test_split(
        rest, test_size=calibration / (1 - test), stratify=y[rest], random_state=seed + 1
    )
    return train_idx, cal_idx, test_idx


def choose_calibration(
    fitted: Any, x_cal: pd.DataFrame, y_cal: np.ndarray, *, seed: int
) -> tuple[CalibratedClassifierCV, Calibration]:
    """Pick isotonic or sigmoid calibration by 2-fold cross-validated Brier score.

    Each candidate is fitted on one half of the calibration split and scored on the other
    (and vice versa), so the choice never sees the test split. The winner is refitted on the
    whole calibration split.
    """
    candidates: dict[str, dict[str, float]] = {}
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    for method in ("isotonic", "sigmoid"):
        briers, eces = [], []
        for fit_idx, score_idx in folds.split(x_cal, y_cal):
            model = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
            model.fit(x_cal.iloc[fit_idx], y_cal[fit_idx])
            p = model.predict_proba(x_cal.iloc[score_idx])[:, 1]
            briers.append(float(np.mean((p - y_cal[score_idx]) ** 2)))
            eces.append(expected_calibration_error(y_cal[score_idx], p))
        candidates[method] = {
            "brier": round(float(np.mean(briers)), 5),
            "ece": round(float(np.mean(eces)), 5),
        }
    chosen = min(candidates, key=lambda m: (candidates[m]["brier"], candidates[m]["ece"]))
    other = "sigmoid" if chosen == "isotonic" else "isotonic"
    model = CalibratedClassifierCV(FrozenEstimator(fitted), method=chosen).fit(x_cal, y_cal)
    rationale = (
        f"{chosen.capitalize()} calibration had the lower held-out Brier score "
        f"({candidates[chosen]['brier']:.5f} vs {candidates[other]['brier']:.5f} for {other}; "
        f"ECE {candidates[chosen]['ece']:.4f} vs {candidates[other]['ece']:.4f}) in 2-fold "
        "cross-validation within the calibration split, which the test split never touched."
    )
    return model, Calibration(
        method=chosen,
        fitted_on=f"calibration split ({len(y_cal)} rows), model frozen",
        rationale=rationale,
        candidates=candidates,
    )


def row_inputs(frame: pd.DataFrame, index: int, names: list[str]) -> dict[str, Any]:
    """One row's clinical inputs as a JSON-able dict."""
    return {n: clean_value(frame.iloc[index][n]) for n in names}


#: One picked demo case: its test-split row, title, description, tags and changed inputs.
Pick = tuple[int, str, str, tuple[str, ...], dict[str, Any]]


def demo_case_dicts(
    test: pd.DataFrame, names: list[str], picks: list[Pick], prefix: str
) -> list[dict[str, Any]]:
    """The picked rows as demo cases numbered ``{prefix}-01`` …, with their inputs changed
    only where a pick says so (a modified case's description says it was modified)."""
    cases = []
    for n, (i, title, description, tags, override) in enumerate(picks, start=1):
        inputs = row_inputs(test, i, names)
        inputs.update(override)
        cases.append(
            {
                "case_id": f"{prefix}-{n:02d}",
                "title": title,
                "description": description,
                "inputs": inputs,
                "tags": tags,
            }
        )
    return cases
