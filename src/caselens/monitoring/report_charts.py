"""The governance report's small line charts, as geometry for its template to draw in SVG:
each period's value with its interval bar, the plan's limits dashed, a reference line.

Coordinates are text already rounded to the pixel tenth the file prints; the titles and
period labels stay plain text that the template escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from caselens.monitoring.report_rows import number
from caselens.monitoring.stats import Estimate

#: Chart size and inner margin in CSS pixels (one column of a printed A4 page).
WIDTH, HEIGHT, PAD = 560, 180, 36
#: Smallest value range drawn as a range; a flat series is drawn in a band of ±0.5.
_FLAT = 1e-9


@dataclass(frozen=True)
class Guide:
    """A horizontal line across the chart: a plan's limit or the validated value."""

    y: str
    kind: str


@dataclass(frozen=True)
class Point:
    """One period's value, with its interval bar when it has one."""

    x: str
    y: str
    low: str | None
    high: str | None


@dataclass(frozen=True)
class Chart:
    """One chart; ``measured`` is False when no period has a value (then nothing is drawn)."""

    title: str
    measured: bool
    guides: tuple[Guide, ...] = ()
    points: tuple[Point, ...] = ()
    line: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    axis: tuple[tuple[str, str], ...] = ()
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def _range(
    values: Sequence[Estimate], limits: Sequence[float], reference: float | None, from_zero: bool
) -> tuple[float, float]:
    """The smallest and largest value the chart must show."""
    spread = [v.value for v in values] + [v for v in (v.low for v in values) if v is not None]
    spread += [v for v in (v.high for v in values) if v is not None] + list(limits)
    spread += [reference] if reference is not None else []
    spread += [0.0] if from_zero else []
    low, high = min(spread), max(spread)
    if high - low < _FLAT:
        low, high = low - 0.5, high + 0.5
    return low, high


def chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Estimate | None],
    *,
    limits: Sequence[float] = (),
    reference: float | None = None,
    from_zero: bool = False,
) -> Chart:
    """A line chart of one estimate per period (``labels``), with limits and a reference."""
    values = [s for s in series if s is not None and s.value is not None]
    if not values:
        return Chart(title, measured=False)
    low, high = _range(values, limits, reference, from_zero)
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)

    def x(i: int) -> str:
        return f"{PAD + i * step if len(labels) > 1 else WIDTH / 2:.1f}"

    def at(v: float) -> float:
        return HEIGHT - PAD + (v - low) / (high - low) * (2 * PAD - HEIGHT)

    def y(v: float) -> str:
        return f"{at(v):.1f}"

    guides = [Guide(y(v), "limit") for v in limits]
    if reference is not None:
        guides.append(Guide(y(reference), "reference"))
    points = [
        Point(
            x(i),
            y(s.value),
            y(s.low) if s.low is not None and s.high is not None else None,
            y(s.high) if s.low is not None and s.high is not None else None,
        )
        for i, s in enumerate(series)
        if s is not None and s.value is not None
    ]
    return Chart(
        title,
        measured=True,
        guides=tuple(guides),
        points=tuple(points),
        line=" ".join(f"{p.x},{p.y}" for p in points) if len(points) > 1 else None,
        labels=tuple((x(i), label) for i, label in enumerate(labels)),
        # The axis' two ends, each 4 px below its line so the text sits on it.
        axis=tuple((f"{at(v) + 4:.1f}", number(v, 2)) for v in (low, high)),
    )
