"""The open period's rows kept in memory: a reuse reads only newer rows and gives exactly
what a full read gives; a row that appears below the ids already held (an out-of-order
commit) makes it read the period again; only a bounded number of periods is kept."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from caselens.audit import AuditStore
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import periods, read_period_columns
from caselens.monitoring.period_rows import _KEPT, MAX_PERIODS_KEPT, forget_period_rows
from caselens.monitoring.simulate import simulate_months, write_simulation
from caselens.monitoring.tables import prediction_log, ready_engine
from monitoring_fixtures import KEY

MODEL = "heart-disease"


@pytest.fixture()
def logged(tmp_path, sample_bundles):
    bundle = sample_bundles[MODEL]
    sim = simulate_months(bundle, months=2, per_month=150, shifts=[], seed=5)
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        run = write_simulation(store, bundle, sim, plan=MonitoringPlan(), shifts=[], seed=5)
        engine = ready_engine(store)
        yield engine, bundle, run.run_id
        forget_period_rows(engine)


def _columns(engine, bundle, run_id, period, *, reuse: bool):
    return read_period_columns(
        engine,
        MODEL,
        period,
        window_days=30,
        input_names=bundle.features.names,
        simulated=True,
        run_id=run_id,
        reuse_rows=reuse,
    )


def _same(a, b) -> None:
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.probability, b.probability)
    assert np.array_equal(a.outcome, b.outcome, equal_nan=True)
    assert (a.conformal_set, a.model_version, a.displays) == (
        b.conformal_set,
        b.model_version,
        b.displays,
    )
    assert a.inputs == b.inputs


def _add(engine, run_id, **changes) -> None:
    c = prediction_log.c
    with engine.connect() as conn:
        newest = select(prediction_log).where(c.run_id == run_id).order_by(c.id.desc())
        template = dict(conn.execute(newest).first()._mapping)  # a row of the last period
    template.pop("id")
    with engine.begin() as conn:
        conn.execute(insert(prediction_log), [{**template, **changes}])


def test_a_reuse_reads_only_newer_rows_and_equals_a_full_read(logged):
    engine, bundle, run_id = logged
    last = periods(engine, MODEL, "month", simulated=True, run_id=run_id)[-1]
    first = _columns(engine, bundle, run_id, last, reuse=True)
    _same(first, _columns(engine, bundle, run_id, last, reuse=False))
    _add(engine, run_id, patient_ref="NEW-1", report_id="new-1")
    _add(engine, run_id, patient_ref="NEW-1", report_id="new-1")  # a second display
    reused = _columns(engine, bundle, run_id, last, reuse=True)
    assert reused.displays == first.displays + 2 and len(reused.ids) == len(first.ids) + 1
    _same(reused, _columns(engine, bundle, run_id, last, reuse=False))


def test_a_row_below_the_ids_held_makes_it_read_the_period_again(logged):
    engine, bundle, run_id = logged
    last = periods(engine, MODEL, "month", simulated=True, run_id=run_id)[-1]
    _columns(engine, bundle, run_id, last, reuse=True)
    with engine.connect() as conn:
        lowest = conn.execute(select(func.min(prediction_log.c.id))).scalar_one()
    # As if a transaction that took a low id committed only now (PostgreSQL can do that).
    c = prediction_log.c
    with engine.connect() as conn:
        row = dict(conn.execute(select(prediction_log).where(c.id == lowest)).one()._mapping)
    with engine.begin() as conn:
        conn.execute(prediction_log.delete().where(c.id == lowest))
    _columns(engine, bundle, run_id, last, reuse=False)  # nothing kept changes by this
    _columns(engine, bundle, run_id, last, reuse=True)  # kept: ids above the deleted one
    with engine.begin() as conn:
        conn.execute(
            insert(prediction_log),
            [{**row, "recorded_at": held_first_stamp(engine, run_id, last), "report_id": "late"}],
        )
    late = _columns(engine, bundle, run_id, last, reuse=True)
    full = _columns(engine, bundle, run_id, last, reuse=False)
    _same(late, full)
    assert lowest in late.ids


def held_first_stamp(engine, run_id, period) -> str:
    c = prediction_log.c
    with engine.connect() as conn:
        return conn.execute(
            select(func.min(c.recorded_at)).where(
                c.run_id == run_id, c.recorded_at >= period.start.isoformat()
            )
        ).scalar_one()


def test_only_a_bounded_number_of_periods_is_kept(logged):
    engine, bundle, run_id = logged
    from caselens.monitoring.figures import period_of

    last = periods(engine, MODEL, "month", simulated=True, run_id=run_id)[-1]
    for weeks in range(MAX_PERIODS_KEPT + 3):
        week = period_of(last.start, "week")
        for _ in range(weeks):
            week = period_of(week.end, "week")
        _columns(engine, bundle, run_id, week, reuse=True)
    assert len(_KEPT[engine]) == MAX_PERIODS_KEPT


def test_kept_outcomes_take_new_outcomes_and_corrections(logged):
    from caselens.monitoring.tables import outcome_correction_table, outcome_table

    engine, bundle, run_id = logged
    last = periods(engine, MODEL, "month", simulated=True, run_id=run_id)[-1]
    before = _columns(engine, bundle, run_id, last, reuse=True)
    c = prediction_log.c
    with engine.connect() as conn:
        ref, day = conn.execute(
            select(c.patient_ref, c.recorded_on)
            .where(c.run_id == run_id, c.recorded_at >= last.start.isoformat())
            .order_by(c.id.desc())
        ).first()
    with engine.begin() as conn:  # a second, later outcome of that patient: 1 wins
        conn.execute(
            insert(outcome_table),
            [{"model_id": MODEL, "patient_ref": ref, "outcome": 1, "known_on": day,
              "import_seq": 1, "simulated": True, "run_id": run_id, "id": 10_000_000}],
        )  # fmt: skip
    added = _columns(engine, bundle, run_id, last, reuse=True)
    _same(added, _columns(engine, bundle, run_id, last, reuse=False))
    assert added.outcome[-1] == 1
    with engine.begin() as conn:
        conn.execute(
            insert(outcome_correction_table),
            [{"outcome_id": 10_000_000, "outcome": 0, "correct_seq": 1}],
        )
    corrected = _columns(engine, bundle, run_id, last, reuse=True)
    _same(corrected, _columns(engine, bundle, run_id, last, reuse=False))
    # Back to what the simulation's own outcome says (0 if it had none in the window).
    original = before.outcome[-1]
    assert corrected.outcome[-1] == (0 if np.isnan(original) else original)


def test_figures_from_kept_rows_equal_figures_from_a_full_read_as_odd_rows_arrive(logged):
    """Category codes, numbers and groups kept with the rows and worked out for new rows
    only give the figures a full read gives — also once a categorical input holds a number
    (counted as pandas spells it, from the whole column)."""
    import json

    from caselens.monitoring.figures import build_profile, columns_figures

    engine, bundle, run_id = logged
    plan = MonitoringPlan()
    profile = build_profile(bundle, plan)
    last = periods(engine, MODEL, "month", simulated=True, run_id=run_id)[-1]
    category = next(f.name for f in bundle.features.features if f.kind == "category")
    subgroup = bundle.features.subgroup_features[0].name

    def figures(reuse: bool):
        cols = _columns(engine, bundle, run_id, last, reuse=reuse)
        return columns_figures(cols, profile, plan, period=last, simulated=True, run_id=run_id)

    assert figures(True) == figures(False)
    c = prediction_log.c
    with engine.connect() as conn:
        newest = select(c.inputs_json).where(c.run_id == run_id).order_by(c.id.desc())
        base = json.loads(conn.execute(newest).scalar())
    odd = [
        {category: "not a category", subgroup: None},
        {category: None},
        {category: 3},  # a number where a category belongs
    ]
    for n, changes in enumerate(odd):
        inputs = json.dumps({**base, **changes})
        _add(engine, run_id, patient_ref=f"ODD-{n}", report_id=f"odd-{n}", inputs_json=inputs)
        _add(engine, run_id, patient_ref=f"ODD-{n}", report_id=f"odd-{n}", inputs_json=inputs)
        assert figures(True) == figures(False), changes
