"""``caselens bench what-if``: how long one "Change a value" takes through the door.

For each sample model a clinician is signed in to a throwaway workflow (its own trail and
accounts), a demo case is shown, and then ``runs`` what-ifs are made of it, each changing
the first numeric input to another value in its training range: checked, explained,
recorded and compared, exactly as the Case page asks (target p95 ≤ 1 s: a click's worth).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from caselens.lifecycle.seed import seed_first_versions

#: A what-if is a click: its answer beside the original within a second.
TARGET_P95_MS = 1000.0
_PASSWORD = "a bench password, long enough"


def _edited_values(feature: Any, current: Any, runs: int) -> list[float]:
    """``runs`` values of a numeric input spread over its training range, none equal to the
    current one (whole numbers for an integer input)."""
    low, high = float(feature.training_min), float(feature.training_max)
    values = []
    for i in range(runs * 2):
        value = low + (high - low) * (i + 1) / (runs * 2 + 1)
        value = float(round(value)) if feature.kind == "integer" else round(value, 2)
        if value != current and value not in values:
            values.append(value)
    return values[:runs]


def bench_what_if(
    models_dir: Path, model_ids: tuple[str, ...], *, runs: int = 20
) -> list[dict[str, Any]]:
    """Per model: the input changed, p50/p95 in ms of ``Workflow.show_what_if``, the target."""
    from caselens.access.accounts import AccountStore
    from caselens.access.app_database import open_app_database
    from caselens.access.model_status import ModelStatusStore
    from caselens.audit import AuditStore
    from caselens.explain.cases import validate_inputs
    from caselens.explain.report import explainer_for
    from caselens.model.bundle import BundleCatalogue, load_bundle
    from caselens.workflow import UserSession, Workflow

    results = []
    bundles = {model_id: load_bundle(models_dir / model_id) for model_id in model_ids}
    with tempfile.TemporaryDirectory() as folder:
        engine = open_app_database(Path(folder))
        accounts = AccountStore(engine)
        accounts.add("bench.clinician", name="Benchmark", role="clinician", password=_PASSWORD)
        store = AuditStore.open(Path(folder) / "audit.sqlite", key=bytes(32))
        try:
            door = Workflow(
                audit=store,
                accounts=accounts,
                statuses=ModelStatusStore(engine),
                catalogue=BundleCatalogue(bundles=bundles, refused={}),
                explainer=lambda model_id: explainer_for(bundles[model_id]),
                audit_key=bytes(32),
                estimate_first=lambda user_id, role: False,
            )
            seed_first_versions(
                door.lifecycle,
                door.catalogue.bundles.values(),
                registered_by="bench",
                approved_by="bench-approver",
            )
            session = UserSession()
            door.sign_in(session, "bench.clinician", _PASSWORD)
            for model_id, bundle in bundles.items():
                demo = bundle.demo_cases[0]
                case = validate_inputs(
                    demo.inputs, bundle.features, source="demo", case_id=demo.case_id
                )
                parent = door.show_report(session, model_id, case, patient_ref=demo.case_id)
                feature = next(
                    f
                    for f in bundle.features
                    if f.kind != "category" and f.training_min is not None
                )
                current = parent.case.values()[feature.name]
                times = []
                for value in _edited_values(feature, current, runs):
                    values = {**parent.case.values(), feature.name: value}
                    start = time.perf_counter()
                    door.show_what_if(session, parent, values)
                    times.append(1000 * (time.perf_counter() - start))
                times.sort()
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                results.append(
                    {
                        "model": model_id,
                        "input_changed": feature.name,
                        "runs": len(times),
                        "p50_ms": round(statistics.median(times), 1),
                        "p95_ms": round(p95, 1),
                        "target_p95_ms": TARGET_P95_MS,
                        "meets_target": p95 <= TARGET_P95_MS,
                    }
                )
        finally:
            store.close()
    return results
