"""The shadow scorer and its log (issue 27, item 3): bounds, skips, batches, verification,
and the live model's figures untouched by a candidate's rows.

Real bundles (the heart sample and a copy with another threshold; a random forest and its
second version with an added required input), a real SQLite trail, the real writer.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert, select

from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model.monitoring_plan import plan_for
from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
from caselens.monitoring.figures import periods, read_period
from caselens.monitoring.figures_cache import FiguresCache
from caselens.monitoring.period_rows import forget_period_rows
from caselens.monitoring.prediction_log import verify_prediction_log
from caselens.monitoring.shadow_log import ShadowBatch, shadow_report_id, write_shadow_batch
from caselens.monitoring.shadow_scorer import ShadowJob, ShadowScorer, score_case
from caselens.monitoring.tables import prediction_log, ready_engine
from caselens.monitoring.views import iter_figures
from caselens.workflow.model_versions import LIFECYCLE_SYSTEM
from monitoring_fixtures import heart_case, signed_in, trail_path, workflow
from shadow_fixtures import HEART, candidate_copy

__all__ = ["trail_path", "workflow"]  # fixtures used by name below


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    return candidate_copy(tmp_path_factory.mktemp("candidate") / "heart-disease-1.1")


def shadow_rows(store) -> list:
    c = prediction_log.c
    with ready_engine(store).connect() as conn:
        return conn.execute(
            select(prediction_log).where(c.never_shown.is_(True)).order_by(c.id)
        ).all()


def shadow_entries(store) -> list:
    return [e for e in store.entries() if e.action == "shadow_scored"]


def writer(store):
    return lambda batch: write_shadow_batch(store, batch, LIFECYCLE_SYSTEM)


def displayed(workflow, case_ids):
    """Each case shown to the clinician: (report, its display entry)."""
    session = signed_in(workflow, "dr.lee")
    out = []
    for case_id in case_ids:
        report = workflow.show_report(
            session, HEART, heart_case(workflow, case_id), patient_ref=case_id
        )
        out.append((report, workflow.trail.get(session.display_entries[report.report_id])))
    return out


def test_a_full_queue_drops_and_counts_and_the_next_batch_records_the_count(workflow, candidate):
    started, release = threading.Event(), threading.Event()

    def held_score(candidate, report, **where):
        # The worker holds the first job here, so the queue's one place fills.
        started.set()
        release.wait(30)
        return score_case(candidate, report, **where)

    scorer = ShadowScorer(writer(workflow.trail), score=held_score, queue_size=1)
    shown = displayed(workflow, ("H-01", "H-02", "H-03", "H-04"))
    jobs = [ShadowJob(r, e.seq, e.recorded_at, candidate) for r, e in shown]
    assert scorer.offer(jobs[0])
    assert started.wait(30)
    assert scorer.offer(jobs[1])  # waits in the queue
    assert not scorer.offer(jobs[2]) and not scorer.offer(jobs[3])  # full: dropped
    release.set()
    assert scorer.flush()
    (batch,) = shadow_entries(workflow.trail)
    assert batch.detail()["dropped"] == 2 and batch.detail()["rows"] == 2
    assert scorer.counts().dropped == 2
    # A dropped display may be offered again later (it was never scored).
    assert scorer.offer(jobs[2])
    scorer.stop()
    assert [e.detail()["dropped"] for e in shadow_entries(workflow.trail)] == [2, 0]
    assert len(shadow_rows(workflow.trail)) == 3
    assert verify_prediction_log(workflow.trail).ok


@pytest.fixture(scope="module")
def added_input_versions(tmp_path_factory):
    """A random forest (version 1) and its version 2 with an added required input
    (``nt_pro_bnp``), both real bundles of the same model id."""
    import other_family

    folder = tmp_path_factory.mktemp("added-input")
    live = other_family.build_other_family_bundle(folder / "v1")
    extra = {
        "name": "nt_pro_bnp",
        "label": "NT-proBNP",
        "patient_label": "A heart blood test (NT-proBNP)",
        "kind": "integer",
        "unit": "pg/mL",
        "hard_min": 5,
        "hard_max": 70000,
    }
    base = other_family.cohort

    def cohort_with_bnp(n: int = 1500, seed: int = other_family.SEED):
        frame = base(n, seed)
        values = np.random.default_rng(seed + 1).integers(50, 5000, n)
        frame.insert(frame.columns.get_loc("outcome"), "nt_pro_bnp", values)
        return frame

    patch = pytest.MonkeyPatch()
    patch.setattr(other_family, "_FEATURES", [*other_family._FEATURES, extra])
    patch.setattr(other_family, "cohort", cohort_with_bnp)
    try:
        candidate = other_family.build_other_family_bundle(folder / "v2")
    finally:
        patch.undo()
    assert candidate.model_id == live.model_id
    assert candidate.bundle_sha256 != live.bundle_sha256
    return live, candidate


def test_a_candidate_with_an_added_required_input_skips_cases_lacking_it(
    tmp_path, added_input_versions
):
    from caselens.audit import AuditStore
    from caselens.workflow.display import record_display

    live, candidate = added_input_versions
    store = AuditStore.open(tmp_path / "audit.sqlite", key=b"k" * 32)
    try:
        scorer = ShadowScorer(writer(store))
        clinician = LIFECYCLE_SYSTEM.__class__("dr.lee", "Dr. Ana Lee", "clinician")
        for demo in live.demo_cases[:3]:
            case = validate_inputs(demo.inputs, live.features, source="demo", case_id=demo.case_id)
            report = explainer_for(live).explain(case)
            entry = record_display(store, report, clinician, audience="clinician")
            assert scorer.offer(ShadowJob(report, entry.seq, entry.recorded_at, candidate))
        scorer.stop()
        (batch,) = shadow_entries(store)
        assert batch.detail()["rows"] == 0
        assert batch.detail()["skipped"] == {"missing_required": 3}
        assert shadow_rows(store) == []
        # With the input given, the same candidate scores the case.
        demo = candidate.demo_cases[0]
        case = validate_inputs(demo.inputs, candidate.features, source="demo")
        report = explainer_for(candidate).explain(case)
        row = score_case(candidate, report, entry_seq=1, recorded_at="x")
        assert not isinstance(row, str)
        assert row.probability == report.confidence.probability
    finally:
        store.close()


def test_verification_flags_shadow_rows_without_their_batch_entry(workflow, candidate):
    ((report, entry),) = displayed(workflow, ("H-02",))
    row = score_case(candidate, report, entry_seq=entry.seq, recorded_at=entry.recorded_at)
    batch = ShadowBatch(
        model_id=HEART,
        live_bundle_sha256=report.model.bundle_sha256,
        candidate_bundle_sha256=candidate.bundle_sha256,
        candidate_version=candidate.version,
        candidate_model_sha256=candidate.model_sha256,
        rows=(row,),
    )
    written = write_shadow_batch(workflow.trail, batch, LIFECYCLE_SYSTEM)
    assert written is not None and verify_prediction_log(workflow.trail).ok
    assert verify_prediction_log(workflow.trail).shadow_rows == 1
    # The same computation is logged once, even when a second server offers it again.
    again = write_shadow_batch(workflow.trail, batch, LIFECYCLE_SYSTEM)
    assert again.detail()["rows"] == 0 and again.detail()["skipped"] == {"already_scored": 1}
    # A shadow row that points at a display entry (not its batch) is flagged.
    (stored,) = shadow_rows(workflow.trail)
    forged = {
        k: v for k, v in stored._mapping.items() if k not in {"id", "source_seq", "report_id"}
    }
    with ready_engine(workflow.trail).begin() as conn:
        conn.execute(
            insert(prediction_log).values(
                **forged,
                source_seq=entry.seq,
                report_id=shadow_report_id("f" * 64, report.report_id),
            )
        )
    check = verify_prediction_log(workflow.trail)
    assert not check.ok
    assert any("have no 'shadow_scored' entry" in p for p in check.problems)


def test_the_live_models_figures_are_the_same_with_and_without_shadow_rows(workflow, candidate):
    shown = displayed(workflow, ("H-01", "H-02", "H-03", "H-04", "H-05"))
    session = signed_in(workflow, "dr.lee")
    workflow.give_feedback(session, shown[0][0], verdict="I agree", own_estimate_out_of_100=40)
    bundle = workflow.bundle(HEART)
    plan = plan_for(bundle)
    engine = ready_engine(workflow.trail)
    cache = FiguresCache.for_store(workflow.trail)

    def figures():
        window = plan.window_days(bundle.card.outcome.time_window)
        read = []
        for period in periods(engine, HEART, plan.period):
            frame, displays = read_period(engine, HEART, period, window_days=window)
            read.append((period.label, json.loads(frame.to_json()), displays))
        return {
            "fresh": [f.as_dict() for f in iter_figures(engine, bundle, plan)],
            "cached": [f.as_dict() for f in iter_figures(engine, bundle, plan, cache=cache)],
            "read_period": read,
            "limitations": limitations_by_period(engine, HEART),
            "feedback": feedback_by_period(engine, HEART),
        }

    before = figures()
    assert sum(displays for _, _, displays in before["read_period"]) == 5
    scorer = ShadowScorer(writer(workflow.trail))
    for report, entry in shown:
        assert scorer.offer(ShadowJob(report, entry.seq, entry.recorded_at, candidate))
    scorer.stop()
    assert len(shadow_rows(workflow.trail)) == 5
    # Kept rows are reused when only newer rows were added: they must still be displays.
    assert figures() == before
    forget_period_rows()
    assert figures() == before
    assert verify_prediction_log(workflow.trail).ok


def test_the_bounds_are_checked(tmp_path: Path):
    with pytest.raises(ValueError, match="queue_size"):
        ShadowScorer(lambda batch: None, queue_size=0)
