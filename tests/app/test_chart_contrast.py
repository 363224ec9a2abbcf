"""Chart text is readable: every text colour in every figure the app draws reaches WCAG 2.2 AA
contrast (4.5:1) against the figure's background (1.4.3; axe-core cannot measure SVG text),
including the Monitoring page's figures and the governance report's charts; the lines and
marks a monitoring figure is read by (series, intervals, limits, "too few to judge" rings)
reach 3:1 (1.4.11, non-text contrast)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseExplainer
from components import figures

AA_TEXT = 4.5
#: WCAG 2.2 AA 1.4.11: graphical objects needed to read a chart.
AA_GRAPHICS = 3.0


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    hex_digits = colour.lstrip("#")
    r, g, b = (int(hex_digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_matches_published_wcag_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast("#808495", "#ffffff") == pytest.approx(3.72, abs=0.01)


def text_colours(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, colour) of every font colour set anywhere in a figure's dict."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if "font" in key.lower() and isinstance(value, dict):
                colour = value.get("color")
                if isinstance(colour, str) and colour.startswith("#") and len(colour) == 7:
                    yield here, colour
            yield from text_colours(value, here)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from text_colours(value, f"{path}[{i}]")


@pytest.fixture(scope="module")
def drawn(heart_bundle, readmission_bundle) -> list[tuple[str, Any]]:
    """Every figure kind the clinician, patient and Model facts screens draw."""
    out = []
    for bundle in (heart_bundle, readmission_bundle):
        demo = bundle.demo_cases[0]
        case = validate_inputs(demo.inputs, bundle.features)
        report = CaseExplainer(bundle).explain(case)
        outcome = bundle.card.outcome.name
        out += [
            ("probability", figures.probability_figure(report.confidence, outcome=str(outcome))),
            ("shap", figures.shap_waterfall_figure(report.attributions.shap, {})),
            ("lime", figures.lime_bar_figure(report.attributions.lime, {})),
            ("icons", figures.icon_array_figure(37, label_yes="yes", label_no="no")),
        ]
    return out + monitoring_figures()


def monitoring_figures() -> list[tuple[str, Any]]:
    """The Monitoring page's figure as it draws it: a judged period, one under the plan's
    minimum ("too few to judge"), intervals, limit lines and a gap."""
    periods = ["2026-01", "2026-02", "2026-03"]
    return [
        (
            "monitoring_slope",
            figures.monitoring_figure(
                "Calibration slope",
                periods,
                [0.36, 0.9, None],
                lows=[0.05, 0.7, None],
                highs=[0.67, 1.1, None],
                limits=[("low limit", 0.8), ("high limit", 1.2)],
                too_few=[True, False, False],
            ),
        ),
        (
            "monitoring_psi",
            figures.monitoring_figure(
                "Drift of predicted probabilities (PSI)",
                periods,
                [0.48, 0.1, 0.05],
                limits=[("alert above", 0.2)],
                from_zero=True,
                too_few=[True, False, True],
            ),
        ),
        ("monitoring_volume", figures.monitoring_figure("Predictions shown", periods, [7, 0, 9])),
    ]


def _background(spec: dict[str, Any]) -> str:
    layout = spec["layout"]
    return (
        layout.get("plot_bgcolor")
        or layout.get("paper_bgcolor")
        or layout.get("template", {}).get("layout", {}).get("paper_bgcolor")
        or "#ffffff"
    )


def inherited_text_colours(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, colour) of each annotation without its own font colour: it is drawn in the
    layout's font colour."""
    layout = spec["layout"]
    default = layout.get("font", {}).get("color")
    for i, note in enumerate(layout.get("annotations", ())):
        if not (note.get("font") or {}).get("color") and default:
            yield f".layout.annotations[{i}] (inherited)", default


def graphic_colours(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, colour) of every line, error bar and marker outline a figure is read by."""
    for i, trace in enumerate(spec["data"]):
        for key in ("line", "error_y"):
            colour = (trace.get(key) or {}).get("color")
            if isinstance(colour, str) and colour.startswith("#"):
                yield f".data[{i}].{key}", colour
        ring = ((trace.get("marker") or {}).get("line") or {}).get("color")
        if isinstance(ring, str) and ring.startswith("#"):
            yield f".data[{i}].marker.line", ring
    for i, shape in enumerate(spec["layout"].get("shapes", ())):
        colour = (shape.get("line") or {}).get("color")
        if isinstance(colour, str) and colour.startswith("#"):
            yield f".layout.shapes[{i}].line", colour


def test_every_chart_text_colour_reaches_aa_contrast(drawn) -> None:
    failures = []
    for name, fig in drawn:
        spec = fig.to_plotly_json()
        layout = spec["layout"]
        template = layout.get("template", {})
        background = (
            layout.get("paper_bgcolor")
            or template.get("layout", {}).get("paper_bgcolor")
            or "#ffffff"
        )
        for path, colour in (*text_colours(spec), *inherited_text_colours(spec)):
            ratio = contrast(colour, background)
            if ratio < AA_TEXT:
                failures.append(f"{name}{path}: {colour} on {background} is {ratio:.2f}:1")
    assert failures == []


def test_the_monitoring_figures_are_checked_with_their_text_and_marks() -> None:
    # The check above would be empty for them if the figures drew no text: they draw the
    # limit labels and the "too few to judge" marks, whose colours are checked.
    for name, fig in monitoring_figures():
        spec = fig.to_plotly_json()
        assert list(inherited_text_colours(spec)) or name == "monitoring_volume", name
        if name != "monitoring_volume":
            assert any(".textfont" in path for path, _ in text_colours(spec)), name


def test_every_mark_a_monitoring_figure_is_read_by_reaches_3_to_1() -> None:
    failures = []
    for name, fig in monitoring_figures():
        spec = fig.to_plotly_json()
        background = _background(spec)
        found = list(graphic_colours(spec))
        assert found, name
        for path, colour in found:
            ratio = contrast(colour, background)
            if ratio < AA_GRAPHICS:
                failures.append(f"{name}{path}: {colour} on {background} is {ratio:.2f}:1")
    assert failures == []


def test_the_governance_reports_chart_text_reaches_aa_contrast() -> None:
    """The HTML report draws its charts as inline SVG on a white page: its text colours."""
    import re
    from importlib.resources import files

    from caselens.monitoring.governance_report import TEMPLATE

    source = (files("caselens.monitoring") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    style = source[source.index("<style>") + len("<style>") : source.index("</style>")]
    rules = {k.strip(): v for k, v in re.findall(r"([^{}]+)\{([^}]*)\}", style)}
    page = re.search(r"(?<!-)color:(#[0-9a-fA-F]{3,6})", rules["body"]).group(1)
    svg_text = re.search(r"fill:(#[0-9a-fA-F]{3,6})", rules["svg text"]).group(1)
    note = re.search(r"(?<!-)color:(#[0-9a-fA-F]{3,6})", rules[".note"]).group(1)
    banner = re.search(r"background:(#[0-9a-fA-F]{6})", rules[".simulated"]).group(1)

    def six(colour: str) -> str:
        digits = colour.lstrip("#")
        return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)

    for colour, background in ((svg_text, "#ffffff"), (note, "#ffffff"), (page, banner)):
        assert contrast(six(colour), background) >= AA_TEXT, (colour, background)
