"""The live version against a shadow candidate on the Monitoring page: what was compared, the
entry to cite in an approval, the figures as tables (the same rows as the governance
report) and a histogram of the probability differences. Renders what the door returned;
computes nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from caselens.monitoring import comparison_sentence, comparison_tables
from components.figures import FONT, LOWERS, NEUTRAL, REPORT_TEMPLATE, plot_text
from components.text import literal

#: The histogram shows at least this far either side of 0 (a candidate that changed only
#: its threshold has every difference in the middle bin, and should look it).
_MIN_SPAN = 0.1
#: Height of one row of Streamlit's data grid, in pixels.
_ROW_PX = 35


def difference_histogram_figure(differences: Any) -> go.Figure:
    """The counts of candidate − live probability per fixed bin, trimmed to the bins that
    hold a difference (and at least ±0.1), with 0 marked "no difference"."""
    edges = list(differences.bin_edges)
    counts = list(differences.counts)
    centres = [round((a + b) / 2, 10) for a, b in itertools.pairwise(edges)]
    used = [i for i, n in enumerate(counts) if n]
    first = min(used[0] - 1, centres.index(min(centres, key=lambda c: abs(c + _MIN_SPAN))))
    last = max(used[-1] + 1, centres.index(min(centres, key=lambda c: abs(c - _MIN_SPAN))))
    first, last = max(first, 0), min(last, len(centres) - 1)
    width = edges[1] - edges[0]
    bars = go.Bar(
        x=centres[first : last + 1],
        y=counts[first : last + 1],
        width=width * 0.95,
        marker=dict(color=LOWERS),
        customdata=[(edges[i], edges[i + 1]) for i in range(first, last + 1)],
        hovertemplate="%{customdata[0]:+.2f} to %{customdata[1]:+.2f}: %{y} pairs<extra></extra>",
    )
    layout = dict(
        title=dict(
            text=plot_text(f"Candidate minus live probability ({differences.n} pairs)"),
            x=0,
            font=dict(size=16),
        ),
        height=300,
        margin=dict(l=10, r=10, t=50, b=40),
        font=FONT,
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        showlegend=False,
        xaxis=dict(title=dict(text="Difference (0–1 scale; above 0: the candidate is higher)"),
                   tickformat="+.2f", zeroline=False),
        yaxis=dict(title=dict(text="Pairs"), rangemode="tozero"),
        shapes=[
            dict(type="line", x0=0, x1=0, xref="x", y0=0, y1=1, yref="y domain",
                 line=dict(color=NEUTRAL, dash="dot"))
        ],
        annotations=[
            dict(x=0, y=1, xref="x", yref="y domain", text="no difference", showarrow=False,
                 yanchor="bottom", font=dict(color=NEUTRAL, size=12))
        ],
    )  # fmt: skip
    return go.Figure(data=[bars], layout={"template": REPORT_TEMPLATE, **layout})


def _frame(table: Any) -> pd.DataFrame:
    return pd.DataFrame(list(table.rows), columns=list(table.headers))


def render_shadow_comparison(view: Any, *, key_prefix: str) -> None:
    """Draw one comparison (a :class:`caselens.workflow.ShadowComparisonView`)."""
    c = view.comparison
    st.markdown(literal(comparison_sentence(c, candidate_state=view.candidate_state)))
    with st.container(border=True):
        st.markdown(
            f":material/gavel: **{literal(view.citation())}** "
            "This entry records the figures below as you see them now."
        )
        st.caption(literal(view.summary))
    for note in c.notes:
        st.info(literal(note), icon=":material/info:")
    if c.live is None:
        st.info(literal(c.outcome_words), icon=":material/hourglass_empty:")
    else:
        st.caption(literal(c.outcome_words))
    tables = comparison_tables(c)
    for n, table in enumerate(tables):
        st.markdown(f"**{literal(table.caption)}**")
        st.dataframe(
            _frame(table),
            hide_index=True,
            # Every row in view: a figure hidden below a scroll bar is easily missed.
            height=_ROW_PX * (len(table.rows) + 1) + 3,
            key=f"{key_prefix}_table_{n}",
            alt=table.caption,
        )
        if n == 1 and c.differences is not None:
            st.plotly_chart(
                difference_histogram_figure(c.differences),
                key=f"{key_prefix}_differences",
                theme=None,
                config={"displayModeBar": False},
            )
    st.caption(
        f"Intervals: agreement and rates by Wilson, AUROC by Hanley–McNeil, the AUROC "
        f"difference by a bootstrap over patients (seed {c.seed}). Outcomes link as in "
        f"the figures above: the same patient, within {view.window_days} days of the display."
    )
