"""``caselens bench counterfactual``: how good and how fast the counterfactual search is.

Per bundle and method, over its demo cases (then reference rows, up to ``cases``): the
search's time per case (p50/p95, after one warm-up search), and for every alternative shown
whether it really crosses the threshold when the engine explains the changed case as a
report (``validity``: the report's own probability, not the search's), how many inputs it
changes (``sparsity``) and how far it moves them (``distance``: Σ |change| / spread × cost
weight), with the cases that got no alternative, those the method did not search at all
(DiCE refuses a case with a value not recorded) and those that ran out of budget. Beside the
sample bundles (or every bundle in ``CASELENS_MODELS_DIR``), two
bring-your-own bundles built here on the heart-disease sample's data: a 5-fold calibrated
random forest (:func:`caselens.bench.reports.build_cv5_forest_bundle`) and an ONNX file
converted by ``caselens bundle convert``'s converter (:func:`build_onnx_bundle`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Cases searched per bundle by default (its demo cases first, then reference rows).
DEFAULT_CASES = 20


def build_onnx_bundle(path: Path, *, source: Path | None = None) -> Path:
    """A bundle whose model is an ONNX file: a one-hot encoded, scaled logistic regression
    with a 5-fold sigmoid calibrator, fitted on the heart-disease sample's calibration split
    and converted with the converter ``caselens bundle convert`` uses (checked against the
    source model on the fitting rows). A benchmark fixture, not a validated model."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from caselens.authoring.onnx_convert import convert_model
    from caselens.bench.refit import fitting_rows, write_refitted_bundle
    from caselens.model.bundle import load_bundle
    from caselens.model.onnx import OnnxClassifier
    from caselens.settings import SAMPLE_MODELS_DIR

    sample = load_bundle(source or SAMPLE_MODELS_DIR / "heart-disease")
    names = sample.features.names
    numbers = [f.name for f in sample.features if f.kind != "category"]
    categories = [f.name for f in sample.features if f.kind == "category"]
    # Only complete rows are fitted on: the converters cannot take an imputer of text (a
    # value not recorded in a category is then no known category, which one-hot ignores).
    train = fitting_rows(sample).dropna(subset=categories)
    scaled = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    prepare = ColumnTransformer(
        [
            ("numbers", scaled, numbers),
            ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
        ]
    )
    calibrated = CalibratedClassifierCV(LogisticRegression(max_iter=1000), method="sigmoid", cv=5)
    model = Pipeline([("prepare", prepare), ("model", calibrated)])
    model.fit(train[names], train["outcome"])
    onnx_model = OnnxClassifier(convert_model(model, train[names]).onnx_bytes)
    write_refitted_bundle(
        sample,
        onnx_model,
        Path(path),
        model_type="Logistic regression, 5-fold sigmoid calibration, as ONNX (benchmark fixture)",
    )
    return Path(path)


def _cases(bundle: Any, n: int) -> list[Any]:
    """Up to ``n`` validated cases: the demo cases, then reference rows."""
    import pandas as pd

    from caselens.explain.cases import validate_inputs

    cases = [
        validate_inputs(d.inputs, bundle.features, source="demo", case_id=d.case_id)
        for d in bundle.demo_cases[:n]
    ]
    rows = bundle.reference[bundle.features.names].head(max(0, n - len(cases)))
    for i, (_, row) in enumerate(rows.iterrows()):
        values = {
            k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v))
            for k, v in row.items()
        }
        cases.append(
            validate_inputs(
                values, bundle.features, source="reference", case_id=f"reference row {i}"
            )
        )
    return cases


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_counterfactual_bundle(
    path: Path, *, methods: Sequence[str], cases: int = DEFAULT_CASES, name: str | None = None
) -> list[dict[str, Any]]:
    """One figures dict per method for the bundle at ``path`` (see the module)."""
    from caselens.explain.counterfactual import (
        SearchSettings,
        alternative_case,
        default_settings,
        find_alternatives,
    )
    from caselens.explain.counterfactual.dice_backend import DICE_REFUSED
    from caselens.explain.report import CaseExplainer
    from caselens.model.bundle import load_bundle

    bundle = load_bundle(path)
    explainer = CaseExplainer(bundle)
    chosen = _cases(bundle, cases)
    parents = [explainer.explain(case) for case in chosen]
    base = default_settings(explainer)
    lines = []
    for method in methods:
        settings = SearchSettings(method=method, seed=base.seed, budget_ms=base.budget_ms)
        find_alternatives(explainer, chosen[0], parents[0], settings=settings)  # warm-up
        times, sizes, distances, valid = [], [], [], []
        exhausted = none_found = refused = 0
        for case, parent in zip(chosen, parents, strict=True):
            start = time.perf_counter()
            result = find_alternatives(explainer, case, parent, settings=settings)
            times.append(1000 * (time.perf_counter() - start))
            exhausted += result.budget_exhausted
            none_found += not result.alternatives
            refused += bool(result.none_reason and result.none_reason.startswith(DICE_REFUSED))
            for alternative in result.alternatives:
                changed = alternative_case(
                    case, alternative, parent_report_id=parent.report_id, parent_entry=None
                )
                p = explainer.explain(changed).probability
                crossed = (
                    p < result.threshold
                    if result.target_side == "below"
                    else (p >= result.threshold)
                )
                valid.append(crossed)
                sizes.append(len(alternative.changes))
                distances.append(alternative.distance)
        lines.append(
            {
                "model": name or bundle.model_id,
                "method": method,
                "cases": len(chosen),
                "alternatives": len(valid),
                "validity": round(sum(valid) / len(valid), 4) if valid else None,
                "sparsity": round(statistics.mean(sizes), 3) if sizes else None,
                "distance": round(statistics.mean(distances), 3) if distances else None,
                "p50_ms": round(_percentile(times, 0.5) or 0.0, 1),
                "p95_ms": round(_percentile(times, 0.95) or 0.0, 1),
                "max_ms": round(max(times), 1),
                "cases_none_found": none_found,
                "cases_not_searched": refused,
                "cases_budget_exhausted": exhausted,
                "budget_ms": settings.budget_ms,
            }
        )
    return lines
