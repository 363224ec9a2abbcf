"""A model's versions on the Model facts page: the history and the diff of two versions.

Everything drawn comes from the door's records (:class:`caselens.workflow.VersionHistory`,
:class:`caselens.workflow.VersionComparison`); the words (states, "approved by X until DATE",
each change's sentence) are the engine's. Every text from a card, a registration or an approval
is data: it reaches the page through :func:`literal` or a data grid, never as Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from caselens.workflow import VersionComparison, VersionHistory, VersionRow
from components.text import literal

#: A section with more changes than this is drawn folded (its title says how many).
SECTION_SHOWN_OPEN = 8
#: What the "On this server" column says.
LOADED_WORDS = {True: "loaded", False: "not loaded on this server"}


def history_rows(history: VersionHistory) -> list[dict[str, str]]:
    """One row per version, as the history table shows it (live first)."""
    return [
        {
            "Version": v.card_version,
            "Version id": v.short_sha,
            "State": v.state_words,
            "Approval": v.approval,
            "Registered": (
                f"by {v.registered_by} on {v.registered_at:%Y-%m-%d}"
                if v.registered_by and v.registered_at
                else "—"
            ),
            "On this server": LOADED_WORDS[v.loaded],
            "Reason for the change": v.change_reason or "—",
        }
        for v in history.versions
    ]


def _approval_line(row: VersionRow, approval) -> str:
    """One approval in one Markdown line (data escaped)."""
    evidence = "; ".join(
        f"{e.kind.replace('_', ' ')}: {e.summary} ({e.reference}, {e.dated:%Y-%m-%d})"
        for e in approval.evidence
    )
    ended = f", ended on {approval.revoked_at:%Y-%m-%d}" if approval.revoked_at else ""
    return (
        f"  - Approved by {literal(approval.approved_by)} ({literal(approval.approver_role)}) "
        f"on {approval.approved_at:%Y-%m-%d}, until {approval.expires_at:%Y-%m-%d}{ended} · "
        f"**Scope:** {literal(approval.intended_use)} · **Population:** "
        f"{literal(approval.population)} · **Evidence:** {literal(evidence or 'none')}"
    )


def version_details(row: VersionRow) -> str:
    """A version's stated reason and every approval with its evidence, as Markdown (data
    escaped): the texts the table cuts short."""
    reason = literal(row.change_reason) if row.change_reason else "none stated (not registered)"
    lines = [
        f"- **{literal(row.card_version)}** ({literal(row.short_sha)}), "
        f"{literal(row.state_words.lower())}. Reason: {reason}",
        *(_approval_line(row, a) for a in row.approvals),
    ]
    return "\n".join(lines)


def _render_standing(history: VersionHistory) -> None:
    standing = history.standing
    if not standing.may_predict:
        st.warning(literal(standing.message), icon=":material/block:")
        return
    live = standing.live
    approval = standing.approval
    assert live is not None and approval is not None
    sentence = (
        f"Shows predictions: version {live.card_version} ({live.bundle_sha256[:12]}) is "
        f"live, approved by {approval.approved_by} until {approval.expires_at:%Y-%m-%d}."
    )
    if standing.expires_soon:
        st.warning(literal(sentence + " The approval ends within 30 days."))
    else:
        st.markdown(literal(sentence))


def render_comparison(comparison: VersionComparison, *, key_prefix: str) -> None:
    """The changes grouped by section, each as its sentence, with the owner's stated reason
    and every before and after in full."""
    older, newer = comparison.older, comparison.newer
    st.markdown(
        f"**From** {literal(older.card_version)} ({literal(older.short_sha)}, "
        f"{literal(older.state_words.lower())}) **to** {literal(newer.card_version)} "
        f"({literal(newer.short_sha)}, {literal(newer.state_words.lower())})"
    )
    reason = comparison.newer_reason
    st.markdown(
        "**Reason stated by the owner:** "
        + (literal(reason) if reason else "none (this version is not registered)")
    )
    sections = comparison.diff.by_section()
    if not sections:
        st.success("The two versions read the same in every section.")
        return
    count = len(comparison.diff.changes)
    st.caption(
        f"{count} change{'s' if count != 1 else ''}, computed from the two bundles "
        "(figures measured on each version's reference data)."
    )
    for section, changes in sections.items():
        bullets = "\n".join(f"- {literal(c.words)}" for c in changes)
        if len(changes) <= SECTION_SHOWN_OPEN:
            st.markdown(f"**{literal(section)}**\n{bullets}")
        else:  # e.g. every figure of every subgroup after a retraining: one click away
            with st.expander(f"{section}: {len(changes)} changes"):
                st.markdown(bullets)
    with st.expander("Every change, before and after in full"):
        st.dataframe(
            pd.DataFrame(
                [
                    {"Section": c.section, "Item": c.item, "Before": c.before, "After": c.after}
                    for c in comparison.diff.changes
                ]
            ),
            hide_index=True,
            key=f"{key_prefix}_diff_table",
            alt="Every change between the two versions, before and after",
        )


def render_version_history(
    history: VersionHistory,
    *,
    key_prefix: str,
    compare: Callable[[str, str], VersionComparison],
) -> None:
    """The "Versions" section: the model's standing, the history table (live first), every
    approval with its evidence, and "Compare two versions" (``compare(older_sha, newer_sha)``
    asks the door for the diff)."""
    st.subheader("Versions")
    _render_standing(history)
    st.dataframe(
        pd.DataFrame(history_rows(history)),
        hide_index=True,
        key=f"{key_prefix}_history",
        alt="Version history: every version of this model, the live one first",
    )
    with st.expander("Each version's reason and approvals, in full"):
        st.markdown("\n".join(version_details(row) for row in history.versions))
    st.markdown("**Compare two versions**")
    loaded = history.comparable
    pair = history.default_pair()
    if pair is None:
        st.info(
            "Only one version of this model is loaded on this server, so there is nothing "
            "to compare yet."
        )
        return
    labels = [v.label for v in loaded]
    by_label = {v.label: v for v in loaded}
    left, right = st.columns(2)
    older = left.selectbox(
        "Older version", labels, index=labels.index(pair[0].label), key=f"{key_prefix}_older"
    )
    newer = right.selectbox(
        "Newer version", labels, index=labels.index(pair[1].label), key=f"{key_prefix}_newer"
    )
    if older == newer:
        st.info("Choose two different versions to compare.")
        return
    comparison = compare(by_label[older].bundle_sha256, by_label[newer].bundle_sha256)
    render_comparison(comparison, key_prefix=key_prefix)
