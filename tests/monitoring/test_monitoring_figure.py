"""A monitoring chart marks exactly the periods under the plan's minimum n as "too few to
judge", so a plotted value beyond a limit there is not read as a verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app_helpers import APP_DIR  # noqa: F401  (puts the app's folder on the import path)
from components.figures import monitoring_figure

PERIODS = ["2026-01", "2026-02", "2026-03"]


def test_only_the_periods_with_too_few_are_marked():
    fig = monitoring_figure(
        "Drift of predicted probabilities (PSI)",
        PERIODS,
        [0.05, 0.48, 0.1],
        limits=[("alert above", 0.2)],
        from_zero=True,
        too_few=[False, True, False],
    )
    line, marks = fig.data
    assert list(line.y) == [0.05, 0.48, 0.1]  # every value is still drawn
    assert list(marks.x) == ["2026-02"] and list(marks.y) == [0.48]
    assert list(marks.text) == ["too few to judge"]


def test_nothing_is_marked_when_every_period_is_judged():
    fig = monitoring_figure("AUROC", PERIODS, [0.8, 0.79, 0.81], too_few=[False] * 3)
    assert len(fig.data) == 1
    assert len(monitoring_figure("AUROC", PERIODS, [0.8, 0.79, 0.81]).data) == 1


@settings(deadline=None)  # building a Plotly figure is slow on a busy host, not wrong
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(0, 5)), st.booleans()), min_size=1, max_size=12
    )
)
def test_a_mark_for_each_unjudged_value_and_none_for_a_gap(points):
    periods = [f"2026-W{i + 1:02d}" for i in range(len(points))]
    values = [v for v, _ in points]
    few = [f for _, f in points]
    fig = monitoring_figure("Calibration slope", periods, values, too_few=few)
    expected = [p for p, (v, f) in zip(periods, points, strict=True) if f and v is not None]
    if not any(few):
        assert len(fig.data) == 1
    else:  # an unjudged gap (no value) gets no mark
        assert list(fig.data[1].x) == expected
