"""A subgroup table on a page (Model facts and Monitoring): every figure with its interval,
groups under the minimum n named with "fewer than 10 patients", intersections where n
allows (and those left out, said), and each variable's largest gap with its interval.

A pure function of :class:`caselens.monitoring.SubgroupTable`: the numbers are the table's,
this module only words and lays them out. Group names are data: they reach the page in
dataframes (never Markdown) and charts (through :func:`plot_text`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from caselens.monitoring import INTERSECTION_MARK, WORDS_LEGEND, SubgroupTable
from components.figures import LOWERS, NEUTRAL, RAISES, plot_text
from components.text import literal

#: How a gap's measure is named in a column.
MEASURE_NAMES = {"AUROC": "AUROC", "sensitivity": "Sensitivity"}
#: The figure columns of a row, in the order printed, with the row's attribute.
FIGURE_COLUMNS = (
    ("AUROC", "auroc"),
    ("Sensitivity", "sensitivity"),
    ("Specificity", "specificity"),
    ("PPV", "ppv"),
    ("Observed rate", "observed_rate"),
    ("Mean predicted", "mean_predicted"),
)


def variable_label(variable: str, labels: Mapping[str, str]) -> str:
    """A variable's label ("Age band"), or an intersection's ("Race × Age band")."""
    return INTERSECTION_MARK.join(labels.get(v, v) for v in variable.split(INTERSECTION_MARK))


def population_name(variable: str, group: str) -> str:
    """The population as the leakage check names it ("sex: Female")."""
    return f"{variable}: {group}"


def subgroup_rows(
    table: SubgroupTable,
    labels: Mapping[str, str],
    *,
    intersections: bool,
    flagged: Collection[str] = (),
) -> list[dict[str, str]]:
    """The rows of single variables (or of intersections) as text cells: n, events and
    each figure with its interval; a suppressed group says so in its n cell and has no
    figures. ``flagged``: populations the leakage check flags (a "Leakage" column)."""
    out = []
    for row in table.rows:
        if row.intersection != intersections:
            continue
        cells: dict[str, str] = {
            "Variable": variable_label(row.variable, labels),
            "Group": row.group,
            "n": row.suppressed or f"{row.n:,}",
            "Events": "" if row.events is None else f"{row.events:,}",
        }
        for title, attribute in FIGURE_COLUMNS:
            figure = getattr(row, attribute)
            cells[title] = "" if figure is None else figure.text()
        if flagged:
            population = population_name(row.variable, row.group)
            cells["Leakage"] = "check for leakage" if population in flagged else ""
        out.append(cells)
    return out


def left_out_words(table: SubgroupTable, labels: Mapping[str, str]) -> list[str]:
    """Each intersection left out, said with the variables' labels ("Race × Age band: not
    shown, 13 of its 56 groups have fewer than 10 patients")."""
    out = []
    for variable, words in zip(table.left_out_variables, table.left_out, strict=False):
        if words.startswith(variable):
            words = variable_label(variable, labels) + words[len(variable) :]
        out.append(words)
    return out + list(table.left_out[len(out) :])


def gap_rows(table: SubgroupTable, labels: Mapping[str, str]) -> list[dict[str, str]]:
    """Each variable's largest AUROC and sensitivity gap: the two groups, the difference
    with its bootstrap interval, and what the interval says."""
    level = f"{100 * table.confidence:g}% interval"
    out = []
    for gap in table.gaps:
        d = gap.difference
        if d.value is None:
            reading = ""
        elif gap.may_be_chance is None:
            reading = "no interval"
        elif gap.may_be_chance:
            reading = "interval reaches 0: may be chance"
        else:
            reading = "interval excludes 0"
        out.append(
            {
                "Variable": variable_label(gap.variable, labels),
                "Measure": MEASURE_NAMES.get(gap.measure, gap.measure),
                "Higher": gap.higher or "",
                "Lower": gap.lower or "",
                f"Difference ({level}, bootstrap)": d.text(),
                "Reading": reading,
            }
        )
    return out


def subgroup_auroc_figure(
    table: SubgroupTable,
    labels: Mapping[str, str],
    *,
    overall_auroc: float | None,
    title: str,
) -> go.Figure | None:
    """The AUROC of each shown group of a single variable with its interval (error bars),
    against the overall AUROC; None when no group has one. Suppressed groups and AUROCs
    without an interval are in the table only."""
    rows = [
        r
        for r in table.rows
        if not r.intersection and r.auroc is not None and r.auroc.low is not None
    ]
    if not rows:
        return None
    names = [
        f"{plot_text(variable_label(r.variable, labels))}: {plot_text(r.group)} (n={r.n:,})"
        for r in rows
    ]
    values = [r.auroc.value for r in rows]
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=names,
            mode="markers",
            marker=dict(color=LOWERS, size=9, symbol="diamond"),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[r.auroc.high - r.auroc.value for r in rows],
                arrayminus=[r.auroc.value - r.auroc.low for r in rows],
                color=NEUTRAL,
                thickness=2,
            ),
            customdata=[r.auroc.text() for r in rows],
            hovertemplate="%{y}: AUROC %{customdata}<extra></extra>",
        )
    )
    axis = f"AUROC with its {100 * table.confidence:g}% interval (0.5 = chance, 1 = perfect)"
    if overall_auroc is not None:
        # Said in the axis title, not beside the line, where it would cover a group's point.
        fig.add_vline(x=overall_auroc, line=dict(color=RAISES, dash="dash"))
        axis += f"; dashed line: overall {overall_auroc:.2f}"
    low = min(0.4, min(r.auroc.low for r in rows) - 0.02)
    fig.update_xaxes(title=axis, range=[low, 1.0])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=dict(text=title, x=0, font=dict(size=16)),
        height=140 + 28 * len(rows),
        margin=dict(l=10, r=10, t=50, b=40),
        showlegend=False,
    )
    return fig


def render_subgroup_table(
    table: SubgroupTable,
    *,
    labels: Mapping[str, str],
    key_prefix: str,
    overall_auroc: float | None = None,
    chart_title: str = "Discrimination by subgroup",
    flagged: Collection[str] = (),
) -> None:
    """The table, its intersections, the largest gaps and the AUROC chart, with how each
    figure was made."""
    st.caption(
        f"Each figure is printed as value (its {100 * table.confidence:g}% interval). "
        + literal(table.methods)
    )
    if not table.rows:
        st.info("No patients with an outcome here, so there are no subgroup figures yet.")
        return
    # Figure cells are wide enough for "0.117 (0.115–0.118)" and "not defined: no events".
    wide = st.column_config.TextColumn(width="medium")
    frame_options: dict[str, Any] = dict(
        hide_index=True, column_config={title: wide for title, _ in FIGURE_COLUMNS}
    )
    st.dataframe(
        pd.DataFrame(subgroup_rows(table, labels, intersections=False, flagged=flagged)),
        key=f"{key_prefix}_subgroup_rows",
        alt="Figures by subgroup, each with its interval",
        **frame_options,
    )
    suppressed = sum(r.suppressed is not None for r in table.rows)
    worded = any(f.missing for r in table.rows for f in r.figures().values()) or any(
        g.difference.missing for g in table.gaps
    )
    notes = [literal(WORDS_LEGEND)] if worded else []
    if suppressed:
        notes.insert(
            0,
            f"{suppressed} group(s) with fewer than {table.min_n} patients are named without "
            "figures: at that size an interval spans most of the range and a figure says "
            "more about chance than about the model.",
        )
    if notes:
        st.caption(" ".join(notes))
    crossed = subgroup_rows(table, labels, intersections=True, flagged=flagged)
    st.markdown("**Intersections of two variables**")
    if crossed:
        st.dataframe(
            pd.DataFrame(crossed),
            key=f"{key_prefix}_subgroup_intersections",
            alt="Figures by intersection of two variables, each with its interval",
            **frame_options,
        )
    if table.left_out:
        st.markdown("\n".join(f"- {literal(words)}" for words in left_out_words(table, labels)))
    elif not crossed:
        st.markdown("None: fewer than two subgroup variables.")
    st.markdown("**Largest gap between groups**")
    gaps = pd.DataFrame(gap_rows(table, labels))
    st.dataframe(
        gaps,
        key=f"{key_prefix}_subgroup_gaps",
        alt="Largest gap between the groups of each variable, with its interval",
        hide_index=True,
        column_config={name: wide for name in gaps.columns if name.startswith("Difference")},
    )
    st.caption(
        "The two groups with the highest and lowest figure among those shown; the interval "
        "is for the difference between these two groups and is not widened for having "
        "picked the extreme pair."
    )
    fig = subgroup_auroc_figure(table, labels, overall_auroc=overall_auroc, title=chart_title)
    if fig is not None:
        st.plotly_chart(fig, key=f"{key_prefix}_subgroup_chart", config={"displayModeBar": False})
