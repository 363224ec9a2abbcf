"""Chart text is readable: every text colour in every figure the app draws reaches WCAG 2.2 AA
contrast (4.5:1) against the figure's background (1.4.3; axe-core cannot measure SVG text)."""

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
    return out


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
        for path, colour in text_colours(spec):
            ratio = contrast(colour, background)
            if ratio < AA_TEXT:
                failures.append(f"{name}{path}: {colour} on {background} is {ratio:.2f}:1")
    assert failures == []
