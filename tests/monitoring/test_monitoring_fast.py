"""The Monitoring page at scale: the database's fast path gives the very figures of the
straightforward computation, and the figures cache serves a period only while its data,
the plan and the code are unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import insert, select, update

from caselens.audit import AuditStore
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.monitoring.figures import (
    build_profile,
    columns_figures,
    period_figures,
    periods,
    read_period,
    read_period_columns,
)
from caselens.monitoring.figures_cache import (
    FiguresCache,
    figures_from_dict,
    figures_json,
)
from caselens.monitoring.simulate import simulate_months, write_simulation
from caselens.monitoring.tables import (
    figures_cache_table,
    outcome_correction_table,
    outcome_table,
    prediction_log,
    ready_engine,
)
from caselens.monitoring.views import iter_figures
from monitoring_fixtures import KEY

PLAN = MonitoringPlan()
MODEL = "readmission-30d"


@pytest.fixture(scope="module")
def profile(sample_bundles):
    return build_profile(sample_bundles[MODEL], PLAN)


def _simulate(store: AuditStore, bundle, profile) -> str:
    sim = simulate_months(
        bundle,
        months=2,
        per_month=400,
        seed=3,
        reference_probabilities=profile.probabilities,
    )
    return write_simulation(store, bundle, sim, plan=PLAN, shifts=[], seed=3).run_id


def _awkward_rows(store: AuditStore, run_id: str) -> None:
    """Rows the straightforward path handles through pandas: repeated displays, a missing
    patient, absent and null inputs, unknown categories, out-of-range numbers, numbers
    given as text, no conformal set, a second model version; outcomes outside the window,
    before the prediction, and two for one prediction."""
    engine = ready_engine(store)
    with engine.connect() as conn:
        template = dict(
            conn.execute(select(prediction_log).where(prediction_log.c.run_id == run_id).limit(1))
            .one()
            ._mapping
        )
    template.pop("id")
    base = json.loads(template["inputs_json"])
    month = template["recorded_at"][:8]  # "2026-01-"

    def row(n: int, day: int, **changes):
        inputs = {**base, **changes.pop("inputs", {})}
        for name in changes.pop("drop", ()):
            inputs.pop(name)
        return {
            **template,
            "recorded_at": f"{month}{day:02d}T10:00:00.{n:03d}Z",
            "recorded_on": f"{month}{day:02d}",
            "patient_ref": f"AWK-{n}",
            "report_id": f"awkward-{n}",
            "inputs_json": json.dumps(inputs, sort_keys=True, separators=(",", ":")),
            **changes,
        }

    rows = [
        row(1, 3),
        row(1, 3, action="previewed"),  # the same report shown twice: one prediction
        row(2, 4, patient_ref=None),
        row(3, 5, drop=["num_medications", "sex"]),
        row(4, 6, inputs={"sex": None, "num_lab_procedures": None}),
        row(5, 7, inputs={"race": "Martian", "num_medications": 9999}),
        row(6, 8, inputs={"num_procedures": "3"}),
        row(7, 9, conformal_set=None, model_version="0.9.0"),
        row(8, 10, inputs={"age_band": None}),
    ]
    outcomes = [
        ("AWK-1", 1, f"{month}20"),  # inside the window
        ("AWK-3", 0, f"{month}02"),  # known before the prediction: not linked
        ("AWK-5", 0, "2027-12-31"),  # long after the window: not linked
        ("AWK-6", 0, f"{month}10"),
        ("AWK-6", 1, f"{month}12"),  # two inside: 1 wins
        ("AWK-8", 0, f"{month}11"),
    ]

    def write(conn, entry):
        conn.execute(insert(prediction_log), [{**r, "source_seq": entry.seq} for r in rows])
        conn.execute(
            insert(outcome_table),
            [
                {
                    "model_id": MODEL,
                    "patient_ref": ref,
                    "outcome": y,
                    "known_on": day,
                    "import_seq": entry.seq,
                    "simulated": True,
                    "run_id": run_id,
                }
                for ref, y, day in outcomes
            ],
        )

    from caselens.audit import AuditEvent

    store.append(
        AuditEvent(
            actor_id="test",
            actor_name="test",
            actor_role="system",
            audience="system",
            action="monitoring_simulated",
            model_id=MODEL,
            detail={"run_id": run_id, "simulated": True, "awkward": True},
        ),
        alongside=write,
    )


def _straightforward(engine, bundle, profile, run_id):
    window = PLAN.window_days(bundle.card.outcome.time_window)
    out = []
    for period in periods(engine, MODEL, PLAN.period, simulated=True, run_id=run_id):
        frame, displays = read_period(
            engine, MODEL, period, window_days=window, simulated=True, run_id=run_id
        )
        out.append(
            period_figures(
                frame,
                profile,
                PLAN,
                period=period,
                displays=displays,
                simulated=True,
                run_id=run_id,
            )
        )
    return out


def _fast_equals_straightforward(store: AuditStore, bundle, profile) -> None:
    run_id = _simulate(store, bundle, profile)
    _awkward_rows(store, run_id)
    engine = ready_engine(store)
    expected = _straightforward(engine, bundle, profile, run_id)
    window = PLAN.window_days(bundle.card.outcome.time_window)
    fast = [
        columns_figures(
            read_period_columns(
                engine,
                MODEL,
                period,
                window_days=window,
                input_names=bundle.features.names,
                simulated=True,
                run_id=run_id,
            ),
            profile,
            PLAN,
            period=period,
            simulated=True,
            run_id=run_id,
        )
        for period in periods(engine, MODEL, PLAN.period, simulated=True, run_id=run_id)
    ]
    assert fast == expected  # every figure, bit for bit
    first = expected[0]
    # The awkward rows are really in play: a repeated display, a second version, and
    # the outcomes linked (1 inside the window wins; before or after it, none).
    assert first.displays == first.predictions + 1
    assert first.versions == ("0.9.0", bundle.version)
    num_procedures = next(d for d in first.inputs if d.name == "num_procedures")
    assert num_procedures.missing_share.value == 0  # "3" counted as the number 3
    # A period's figures survive the cache's JSON exactly.
    assert figures_from_dict(json.loads(figures_json(first))) == first


def test_the_fast_path_gives_the_straightforward_figures_on_sqlite(
    tmp_path, sample_bundles, profile
):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        _fast_equals_straightforward(store, sample_bundles[MODEL], profile)


def test_the_fast_path_gives_the_straightforward_figures_on_postgresql(
    new_pg_database, sample_bundles, profile
):
    with AuditStore.open(new_pg_database("monfast"), key=KEY) as store:
        _fast_equals_straightforward(store, sample_bundles[MODEL], profile)


def _cache_is_served_only_while_nothing_changed(store: AuditStore, bundle, profile) -> None:
    run_id = _simulate(store, bundle, profile)
    engine = ready_engine(store)
    cache = FiguresCache.for_store(store)

    def view(plan: MonitoringPlan = PLAN, **kw):
        return list(
            iter_figures(engine, bundle, plan, simulated=True, run_id=run_id, cache=cache, **kw)
        )

    def fresh(plan: MonitoringPlan = PLAN):
        return list(iter_figures(engine, bundle, plan, simulated=True, run_id=run_id))

    first = view()
    assert first == fresh()
    with engine.connect() as conn:
        slots = conn.execute(select(figures_cache_table.c.slot)).scalars().all()
    assert len(slots) == 2

    # Served from the cache: a stored entry, re-signed with the right key, is what a view
    # returns while the data are unchanged ...
    slot = sorted(slots)[0]
    t = figures_cache_table.c
    with engine.connect() as conn:
        digest, text = conn.execute(
            select(t.fingerprint, t.figures_json).where(t.slot == slot)
        ).one()
    forged = text.replace('"displays":400', '"displays":401')
    assert forged != text
    with engine.begin() as conn:
        conn.execute(
            update(figures_cache_table)
            .where(t.slot == slot)
            .values(figures_json=forged, mac=cache._mac(slot, digest, forged))
        )
    assert view()[0].displays == 401
    # ... and an entry altered without the key is ignored: recomputed, then stored again.
    with engine.begin() as conn:
        conn.execute(
            update(figures_cache_table)
            .where(t.slot == slot)
            .values(figures_json=forged.replace('"displays":401', '"displays":402'))
        )
    assert view() == first

    # A new prediction in the first month: that month is recomputed, the other is not stale.
    template = dict(
        engine.connect()
        .execute(select(prediction_log).where(prediction_log.c.run_id == run_id).limit(1))
        .one()
        ._mapping
    )
    template.pop("id")
    with engine.begin() as conn:
        conn.execute(
            insert(prediction_log),
            [{**template, "patient_ref": "NEW-1", "report_id": "new-1"}],
        )
    after_prediction = view()
    assert after_prediction[0].predictions == first[0].predictions + 1
    assert after_prediction[1] == first[1]
    assert after_prediction == fresh()

    # A new outcome that links to that prediction: recomputed again.
    with engine.begin() as conn:
        conn.execute(
            insert(outcome_table),
            [
                {
                    "model_id": MODEL,
                    "patient_ref": "NEW-1",
                    "outcome": 1,
                    "known_on": template["recorded_on"],
                    "import_seq": 1,
                    "simulated": True,
                    "run_id": run_id,
                }
            ],
        )
    after_outcome = view()
    assert after_outcome[0].with_outcomes == after_prediction[0].with_outcomes + 1
    assert after_outcome == fresh()

    # A correction of that outcome adds no outcome row, and still recomputes the month.
    with engine.connect() as conn:
        new_outcome = conn.execute(
            select(outcome_table.c.id).where(outcome_table.c.patient_ref == "NEW-1")
        ).scalar_one()
    with engine.begin() as conn:
        conn.execute(
            insert(outcome_correction_table),
            [{"outcome_id": new_outcome, "outcome": 0, "correct_seq": 1}],
        )
    after_correction = view()
    assert after_correction == fresh()
    assert after_correction[0].performance.events == after_outcome[0].performance.events - 1

    # Another plan: figures judged by its minimum numbers, not the stored ones.
    strict = MonitoringPlan(min_outcomes=10_000)
    with_strict = view(strict)
    assert with_strict == fresh(strict)
    assert with_strict[0].performance.judged is False
    assert first[0].performance.judged is True
    assert view() == fresh()  # and back


def test_the_cache_serves_a_period_only_while_its_data_and_plan_are_unchanged_on_sqlite(
    tmp_path, sample_bundles, profile
):
    with AuditStore.open(tmp_path / "audit.sqlite", key=KEY) as store:
        _cache_is_served_only_while_nothing_changed(store, sample_bundles[MODEL], profile)


def test_the_cache_serves_a_period_only_while_its_data_and_plan_are_unchanged_on_postgresql(
    new_pg_database, sample_bundles, profile
):
    with AuditStore.open(new_pg_database("moncache"), key=KEY) as store:
        _cache_is_served_only_while_nothing_changed(store, sample_bundles[MODEL], profile)


def test_counts_without_pandas_equal_pandas_on_awkward_values():
    import pandas as pd

    from caselens.monitoring.figures.column_measures import _fast_category_counts, _fast_numbers
    from caselens.monitoring.figures.reference_profile import (
        category_counts as _category_counts,
    )

    cats = ("a", "b")
    for values in (
        ("a", "b", None, "c", "a"),
        (1, None, 2),  # numbers as categories: pandas spells 1 as "1.0" beside a gap
        (True, "a", None),
    ):
        expected = _category_counts(pd.DataFrame({"v": list(values)})["v"], cats)
        assert np.array_equal(_fast_category_counts(values, cats), expected), values
    for values in ((1, None, 2.5), ("3", None, "x", 4), (True, 2)):
        expected = pd.to_numeric(pd.DataFrame({"v": list(values)})["v"], errors="coerce")
        assert np.array_equal(
            _fast_numbers(values), expected.to_numpy(dtype=float), equal_nan=True
        ), values


def test_the_figures_face_offers_every_name_it_lists_from_its_parts():
    """``caselens.monitoring.figures`` is a package of parts by job (reference, periods,
    reading the log, figures); its face still offers each name, the object its part defines,
    and no part is named like a name it offers (a submodule would shadow it)."""
    import importlib

    import caselens.monitoring.figures as face

    for name in face.__all__:
        part = importlib.import_module(f"caselens.monitoring.figures.{face._PARTS[name]}")
        assert getattr(face, name) is getattr(part, name), name
        assert callable(getattr(face, name)) or name.isupper(), name
    assert not set(face.__all__) & set(face._PARTS.values())
    from caselens.monitoring.figures import periods

    assert periods.__module__ == "caselens.monitoring.figures.calendar_periods"
