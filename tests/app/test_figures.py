"""Figure functions draw exactly the report's numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer
from components.figures import (
    LOWERS,
    NEUTRAL,
    RAISES,
    icon_array_figure,
    lime_bar_figure,
    probability_figure,
    reliability_figure,
    shap_waterfall_figure,
    subgroup_figure,
    threshold_strip_figure,
)


@pytest.fixture(scope="module")
def report(heart_bundle):
    case = validate_inputs(heart_bundle.demo_case("H-05").inputs, heart_bundle.features)
    return CaseExplainer(heart_bundle).explain(case)


def test_waterfall_runs_from_the_baseline_to_the_probability_shown(report):
    shap = report.attributions.shap
    fig = shap_waterfall_figure(shap, {}, max_rows=5)
    x = list(fig.data[0].x)
    assert x[0] == pytest.approx(100 * shap.baseline)
    assert x[0] + sum(x[1:-1]) == pytest.approx(100 * report.probability, abs=1e-6)
    assert fig.data[0].y[-1] == f"This patient: {100 * report.probability:.1f}%"
    assert any("other inputs" in label for label in fig.data[0].y)  # the rest is summed


def test_every_bar_label_states_its_direction_in_symbols_not_only_colour(report):
    for fig in (
        shap_waterfall_figure(report.attributions.shap, {}),
        lime_bar_figure(report.attributions.lime, {}),
    ):
        bars = [y for y in fig.data[0].y if "Baseline" not in y and "This patient" not in y]
        assert bars and all(("▲ +" in y) or ("▼ −" in y) for y in bars)


def test_probability_figure_marks_the_threshold_and_base_rate(report):
    fig = probability_figure(report.confidence, outcome="heart disease")
    texts = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("threshold 50%") for t in texts)
    assert any(t.startswith("base rate") for t in texts)
    assert fig.data[0].x[0] == pytest.approx(100 * report.probability)


@pytest.mark.parametrize("count", [0, 1, 37, 100])
def test_icon_array_fills_exactly_count_of_100_people(count):
    fig = icon_array_figure(count, label_yes="yes", label_no="no")
    heads_filled, _, heads_open, _ = fig.data
    assert len(heads_filled.x) == count and len(heads_open.x) == 100 - count


def test_bars_name_each_variable_with_this_patients_value_and_points(report):
    labels = {i.name: f"{i.label} = {i.value_text}" for i in report.case.inputs}
    for fig in (
        shap_waterfall_figure(report.attributions.shap, labels),
        lime_bar_figure(report.attributions.lime, labels),
    ):
        bars = [y for y in fig.data[0].y if "Baseline" not in y and "This patient" not in y]
        named = [y for y in bars if "other inputs" not in y]
        assert named and all(" = " in y and y.endswith(" pts") for y in named)


@pytest.mark.parametrize(("threshold", "base_rate"), [(0.30, 0.32), (0.32, 0.30), (0.5, 0.5)])
def test_threshold_and_base_rate_labels_never_overlap(report, threshold, base_rate):
    confidence = report.confidence.model_copy(
        update={"threshold": threshold, "base_rate": base_rate}
    )
    fig = probability_figure(confidence, outcome="heart disease")
    notes = {a.text.split()[0]: a for a in fig.layout.annotations}
    top, bottom = notes["threshold"], notes["base"]
    assert top.yref == bottom.yref == "paper" and top.y != bottom.y  # different rows
    assert {top.xanchor, bottom.xanchor} == {"left", "right"}  # pointing away from each other
    # The label of the higher line extends right, the lower one's left.
    higher = top if threshold >= base_rate else bottom
    assert higher.xanchor == "left"


def test_probability_figure_without_an_interval_draws_no_range_and_names_the_label(report):
    confidence = report.confidence.model_copy(
        update={
            "range_low": None,
            "range_high": None,
            "interval": None,
            "calibrated": False,
            "calibration_method": "none",
        }
    )
    fig = probability_figure(confidence, outcome="death")
    assert fig.data[0].error_x.array is None
    assert fig.layout.xaxis.title.text == "Model score for death (not calibrated) (%)"


def test_report_figures_carry_their_own_template_so_long_labels_fit(report):
    # Drawn with theme=None (see figures.REPORT_TEMPLATE): the axis room for the row
    # labels ("Thallium stress test = Normal ▼ −9.9 pts") must come from the figure.
    labels = {i.name: f"{i.label} = {i.value_text}" for i in report.case.inputs}
    for fig in (
        probability_figure(report.confidence, outcome="heart disease"),
        shap_waterfall_figure(report.attributions.shap, labels),
        lime_bar_figure(report.attributions.lime, labels),
        reliability_figure(report.confidence.reliability_curve, highlight=report.probability),
    ):
        template = fig.layout.template.layout
        assert template.yaxis.automargin is True and template.xaxis.automargin is True


@pytest.mark.parametrize(
    ("probability", "side", "colour"),
    [(0.9, "above", RAISES), (0.1, "below", LOWERS), (0.5, "at", NEUTRAL)],
)
def test_the_threshold_strip_colours_the_patient_by_the_side_and_prints_no_number(
    report, probability, side, colour
):
    """The strip's marks follow the same side as the badge beside them, its two labels sit
    above the strip on opposite sides of their lines (below it they covered the ticks), and
    the marks carry no text: the card prints each number once."""
    confidence = report.confidence.model_copy(
        update={"probability": probability, "side": side, "threshold": 0.5}
    )
    fig = threshold_strip_figure(confidence, outcome="heart disease")
    marker, *_ = [t for t in fig.data if t.mode == "markers"]
    assert marker.marker.color == colour and list(marker.x) == [100 * probability]
    assert all(t.text is None for t in fig.data)
    bar = [t for t in fig.data if t.mode == "lines"]
    assert [list(b.x) for b in bar] == [[100 * confidence.range_low, 100 * confidence.range_high]]
    assert all(b.line.color == colour for b in bar)
    threshold_label, base_label = fig.layout.annotations
    assert threshold_label.y == base_label.y == 1.0 and threshold_label.yanchor == "bottom"
    assert {threshold_label.xanchor, base_label.xanchor} == {"left", "right"}
    assert fig.layout.xaxis.title.text == "Chance of heart disease (%)"


def test_the_threshold_strip_without_a_range_draws_no_bar(report):
    confidence = report.confidence.model_copy(
        update={"range_low": None, "range_high": None, "interval": None}
    )
    fig = threshold_strip_figure(confidence, outcome="heart disease")
    assert [t.mode for t in fig.data] == ["markers"]


@pytest.mark.parametrize(("overall", "side"), [(0.93, "left"), (0.71, "left"), (0.62, "right")])
def test_the_overall_auroc_label_sits_on_the_side_of_its_line_with_room(heart, overall, side):
    """An overall AUROC near the axis's right end (1.0) labelled to the right is cut off."""
    subgroups = heart.card.validation.subgroups
    fig = subgroup_figure(subgroups, overall_auroc=overall, labels={})
    (label,) = [a for a in fig.layout.annotations if a.text == f"overall {overall:.2f}"]
    assert label.xanchor == ("right" if side == "left" else "left")
