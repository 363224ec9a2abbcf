"""Fingerprints of everything CaseLens computes, to prove a refactor changed no number.

Run before and after a move on the same machine and compare the two JSON files:

    .venv/bin/python tools/house_fingerprints.py > before.json
    ... move ...
    .venv/bin/python tools/house_fingerprints.py > after.json && diff before.json after.json

Recorded: the report id (SHA-256 of the canonical report) of every demo case of each sample
bundle in every patient language, and of fixed rows through the test-built bundles (a random
forest calibrated and not, and an ONNX conversion); the card, schema, card checks and figures of
each bundle; the monitoring figures of a fixed simulated run; the FHIR and CSV export of a fixed
trail. Each is a SHA-256, so one changed digit shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from caselens.audit.csv_export import to_csv  # noqa: E402
from caselens.audit.fhir_export import to_bundle  # noqa: E402
from caselens.audit.store import AuditStore  # noqa: E402
from caselens.explain.cases import validate_inputs  # noqa: E402
from caselens.explain.patient_language import LANGUAGES  # noqa: E402
from caselens.explain.report import explain, in_patient_language  # noqa: E402
from caselens.model.bundle import ModelBundle, load_bundle  # noqa: E402
from caselens.model.monitoring_plan import plan_for  # noqa: E402
from caselens.monitoring.figures import build_profile  # noqa: E402
from caselens.monitoring.simulate import simulate_months, simulated_figures  # noqa: E402
from caselens.settings import SAMPLE_MODELS_DIR  # noqa: E402

SEED = 20261206


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


def bundle_facts(bundle: ModelBundle) -> dict[str, str]:
    """The card, schema, card checks and figures as loaded."""
    return {
        "card": _digest(bundle.card),
        "schema": _digest(bundle.features),
        "card_problems": _digest(list(bundle.card_problems)),
        "measured_validation": _digest(bundle.measured_validation),
        "warnings": _digest(list(bundle.warnings)),
        "validation": _digest(bundle.card.validation),
    }


def demo_report_ids(bundle: ModelBundle) -> dict[str, str]:
    """Report id of every demo case, and of its patient summary in every language."""
    out = {}
    for demo in bundle.demo_cases:
        case = validate_inputs(demo.inputs, bundle.features, case_id=demo.case_id)
        report = explain(bundle, case)
        out[demo.case_id] = report.report_id
        for language in LANGUAGES:
            out[f"{demo.case_id}/{language}"] = in_patient_language(
                report, bundle, language
            ).report_id
    return out


def row_report_ids(bundle: ModelBundle, rows: int = 4) -> dict[str, str]:
    """Report ids of the first reference rows, as cases."""
    names = list(bundle.features.names)
    out = {}
    for i, row in bundle.reference[names].head(rows).iterrows():
        inputs = {
            k: (None if v != v else v.item() if hasattr(v, "item") else v) for k, v in row.items()
        }
        case = validate_inputs(inputs, bundle.features, case_id=f"row-{i}")
        out[f"row-{i}"] = explain(bundle, case).report_id
    return out


def test_built(folder: Path) -> dict[str, Any]:
    from other_family import build_other_family_bundle, cohort

    out: dict[str, Any] = {}
    calibrated = build_other_family_bundle(folder / "calibrated", calibrated=True)
    uncalibrated = build_other_family_bundle(folder / "uncalibrated", calibrated=False)
    for name, bundle in (("calibrated", calibrated), ("uncalibrated", uncalibrated)):
        out[f"other-family/{name}"] = {**bundle_facts(bundle), **row_report_ids(bundle)}

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from caselens.authoring.onnx_convert import convert_model
    from caselens.model.onnx import OnnxClassifier

    names = list(calibrated.features.names)
    rows = cohort().iloc[:1200]
    split = [(np.arange(900), np.arange(900, 1200))]
    source = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "calibrated",
                CalibratedClassifierCV(LogisticRegression(), method="sigmoid", cv=split),
            ),
        ]
    )
    source.fit(rows[names], rows["outcome"])
    converted = convert_model(source, rows[names])
    onnx = dataclasses.replace(calibrated, model=OnnxClassifier(converted.onnx_bytes))
    out["onnx"] = {
        "model": hashlib.sha256(converted.onnx_bytes).hexdigest(),
        **row_report_ids(onnx),
    }
    return out


def monitoring(bundle: ModelBundle) -> dict[str, str]:
    plan = plan_for(bundle)
    sim = simulate_months(bundle, months=3, per_month=300, seed=SEED)
    figures = simulated_figures(sim, build_profile(bundle, plan), plan)
    return {f"{bundle.card.model_id}/month-{i}": _digest(f) for i, f in enumerate(figures)}


def exports(folder: Path) -> dict[str, str]:
    from audit_fixtures import KEY, build_trail

    build_trail(folder / "trail.sqlite", 40)
    with AuditStore.open(folder / "trail.sqlite", key=KEY) as store:
        entries = store.entries()
    return {
        "fhir": _digest(to_bundle(entries)),
        "fhir_pseudonymised": _digest(to_bundle(entries, pseudonymise_key=KEY)),
        "csv": hashlib.sha256(to_csv(entries).encode("utf-8")).hexdigest(),
    }


def main() -> None:
    result: dict[str, Any] = {"seed": SEED}
    for model_id in ("readmission-30d", "heart-disease"):
        bundle = load_bundle(SAMPLE_MODELS_DIR / model_id)
        result[model_id] = {**bundle_facts(bundle), **demo_report_ids(bundle)}
        result[f"monitoring/{model_id}"] = monitoring(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        result.update(test_built(Path(tmp)))
        result["exports"] = exports(Path(tmp))
    print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
