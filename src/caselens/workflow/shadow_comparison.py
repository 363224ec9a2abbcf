"""The live version and a shadow candidate compared on the same patients, through the door.

Checked (``view_monitoring``: reviewers, administrators, model owners), recorded as
``shadow_comparison_viewed`` with the figures an approval cites, then returned. The entry is
the evidence: an approval of the candidate names it ("entry 1042") as its shadow
comparison, so the detail carries the versions, the pairs, the agreement and both AUROCs
with the period the pairs span. The same figures viewed again in the same session are not
recorded twice; new pairs or new outcomes make new figures, and a new entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from caselens.errors import CaseLensError
from caselens.model.bundle import ModelBundle
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession

if TYPE_CHECKING:
    from caselens.monitoring.governance_report import ReportContent
    from caselens.monitoring.shadow_comparison import ShadowComparison

#: The audit action of a comparison viewed (what an approval cites).
VIEWED_ACTION = "shadow_comparison_viewed"
#: Comparisons kept per workflow, each under a stamp of the data it was computed from.
_CACHED = 8
#: Entries remembered per workflow for "already recorded in this session" (oldest dropped).
_REMEMBERED = 512


@dataclass(frozen=True)
class ShadowComparisonView:
    """What the door returns: the comparison, the entry that recorded it, and what a
    person needs to choose another candidate.

    Attributes
    ----------
    comparison : ShadowComparison
        :class:`caselens.monitoring.shadow_comparison.ShadowComparison`.
    seq : int
        The ``shadow_comparison_viewed`` entry to cite in an approval.
    live_bundle_sha256, live_version : str
        The version live now.
    candidate_state : str
        The candidate's lifecycle state (``shadow``, ``candidate``, ``retired`` or
        ``not registered``).
    window_days : int
        The outcome window used to link outcomes (the monitoring plan's).
    summary : str
        The comparison in one sentence, for an approval's evidence.
    """

    comparison: ShadowComparison
    seq: int
    live_bundle_sha256: str
    live_version: str
    candidate_state: str
    window_days: int
    summary: str

    def citation(self) -> str:
        """What to write in the approval: ``Cite entry N as the shadow comparison …``."""
        return f"Cite entry {self.seq} as the shadow comparison in the approval."


@dataclass(frozen=True)
class ShadowCandidate:
    """A version of the model with never-shown rows, as offered for comparison."""

    bundle_sha256: str
    card_version: str
    state: str
    rows: int
    first: str
    last: str


class ShadowComparisonMixin(DoorBase):
    """The door's live-against-candidate comparison (Monitoring, governance report)."""

    def shadow_candidates(self, session: UserSession, model_id: str) -> tuple[ShadowCandidate, ...]:
        """The model's versions other than the live one that have shadow rows, the default
        one first (the shadow version, then the newest registered candidate, then the rest
        by their newest row). Checked, not recorded (it shows no figure)."""
        self._require(session, "view_monitoring")
        return self._shadow_candidates(model_id)

    def shadow_comparison(
        self, session: UserSession, model_id: str, candidate_sha: str | None = None
    ) -> ShadowComparisonView | None:
        """The live version against a candidate on the patients both scored.

        ``candidate_sha`` None: the version in shadow, else the newest candidate with shadow
        rows; None is returned (nothing recorded) when no version has any. Checked
        (``view_monitoring``), recorded as ``shadow_comparison_viewed`` with detail
        {model_id, live_bundle_sha256, candidate_bundle_sha256, pairs, agreement,
        auroc_live, auroc_candidate, period: {first, last}, …} BEFORE it is returned.

        Raises
        ------
        Refused
            The viewer may not see monitoring (recorded).
        WorkflowError
            The model is not offered, or ``candidate_sha`` names the live version or a
            version without shadow rows (the words say which).
        NotRecorded
            The entry could not be written: nothing is returned.
        """
        from caselens.monitoring.shadow_comparison_rows import record_detail, summary_text

        viewer = self._require(session, "view_monitoring")
        live = self.bundle(model_id)
        candidates = self._shadow_candidates(model_id)
        if candidate_sha is None:
            if not candidates:
                return None
            chosen = candidates[0]
        else:
            if candidate_sha == live.bundle_sha256:
                raise WorkflowError(
                    f"candidate: {candidate_sha[:12]} is the live version of {model_id}; "
                    "choose a candidate version to compare with it."
                )
            found = [c for c in candidates if c.bundle_sha256 == candidate_sha]
            if not found:
                raise WorkflowError(
                    f"candidate: version {candidate_sha[:12]} of {model_id} has no shadow "
                    "predictions in the log; a version is scored beside the live one only "
                    "while it is set to shadow."
                )
            chosen = found[0]
        comparison, window = self._compare_with(live, chosen)
        detail = record_detail(comparison, live_bundle_sha256=live.bundle_sha256 or "")
        detail["candidate_state"] = chosen.state
        # The sentence an approval can quote as the evidence's summary.
        detail["summary"] = summary_text(comparison)
        seq = self._comparison_entry(session, viewer.user_id, detail)
        return ShadowComparisonView(
            comparison=comparison,
            seq=seq,
            live_bundle_sha256=live.bundle_sha256 or "",
            live_version=live.version,
            candidate_state=chosen.state,
            window_days=window,
            summary=summary_text(comparison),
        )

    def _compare_with(
        self,
        live: ModelBundle,
        chosen: ShadowCandidate,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> tuple[ShadowComparison, int]:
        """The comparison of the live version with ``chosen`` (displays from ``start`` to
        before ``end``, ISO), with the outcome window it linked outcomes by."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.shadow_comparison import (
            DEFAULT_SEED,
            compare,
            data_stamp,
            pair_outcomes,
            read_pairs,
        )
        from caselens.monitoring.tables import ready_engine

        try:
            plan = plan_for(live)
            window = plan.window_days(live.card.outcome.time_window)
            engine = ready_engine(self._audit)
            # The same data give the same figures (the seed is fixed): reuse them while
            # no row, outcome or correction of this model was added (a page reruns often,
            # and a month of a busy model's pairs takes seconds to bootstrap).
            key = (
                live.bundle_sha256,
                chosen.bundle_sha256,
                start,
                end,
                plan.confidence,
                plan.ece_bins,
                window,
                data_stamp(engine, live.model_id),
            )
            cache = self.__dict__.setdefault("_shadow_comparison_cache", OrderedDict())
            if key in cache:
                return cache[key], window
            pairs = read_pairs(engine, live.model_id, chosen.bundle_sha256, start=start, end=end)
            outcomes = pair_outcomes(engine, live.model_id, pairs, window_days=window)
            comparison = compare(
                pairs,
                outcomes,
                live.features,
                DEFAULT_SEED,
                model_id=live.model_id,
                candidate_sha=chosen.bundle_sha256,
                confidence=plan.confidence,
                ece_bins=plan.ece_bins,
                window_days=window,
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        cache[key] = comparison
        while len(cache) > _CACHED:
            cache.popitem(last=False)
        return comparison, window

    def _with_shadow_comparison(self, content: ReportContent, run_id: str | None) -> ReportContent:
        """A governance report's content with the default candidate's comparison over the
        report's periods (unchanged for a simulated run, a report with no period, or a model
        with no shadow rows). The report's own ``exported`` entry names it."""
        if run_id is not None or not content.figures:
            return content
        candidates = self._shadow_candidates(content.model_id)
        if not candidates:
            return content
        comparison, _ = self._compare_with(
            self.bundle(content.model_id),
            candidates[0],
            start=content.figures[0].start,
            end=content.figures[-1].end,
        )
        return dataclasses.replace(
            content, comparison=comparison, comparison_state=candidates[0].state
        )

    def _comparison_entry(self, session: UserSession, user_id: str, detail: dict) -> int:
        """Record the comparison viewed, unless these very figures were already recorded
        for this viewer in this session; the entry's number either way."""
        digest = hashlib.sha256(
            json.dumps(detail, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()
        remembered: OrderedDict[tuple[str, str, str], int] | None = self.__dict__.get(
            "_shadow_comparison_entries"
        )
        if remembered is None:
            remembered = self.__dict__.setdefault("_shadow_comparison_entries", OrderedDict())
        key = (user_id, session.session_id, digest)
        seq = remembered.get(key)
        if seq is not None:
            return seq
        entry = self._record(
            session, VIEWED_ACTION, audience=self._viewer(session).role, detail=detail
        )
        remembered[key] = entry.seq
        while len(remembered) > _REMEMBERED:
            remembered.popitem(last=False)
        return entry.seq

    def _shadow_candidates(self, model_id: str) -> tuple[ShadowCandidate, ...]:
        from caselens.monitoring.shadow_comparison import shadow_versions
        from caselens.monitoring.tables import ready_engine

        live = self.bundle(model_id)
        try:
            rows = shadow_versions(ready_engine(self._audit), model_id)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        registered = {v.bundle_sha256: v for v in self._lifecycle.versions(model_id)}
        out = []
        for found in rows:
            if found.bundle_sha256 == live.bundle_sha256:
                continue  # promoted since: its rows are no comparison with itself
            version = registered.get(found.bundle_sha256)
            out.append(
                ShadowCandidate(
                    found.bundle_sha256,
                    version.card_version if version is not None else found.card_version,
                    version.state if version is not None else "not registered",
                    found.rows,
                    found.first,
                    found.last,
                )
            )
        order = {"shadow": 0, "candidate": 1}

        def rank(c: ShadowCandidate) -> tuple[int, float]:
            version = registered.get(c.bundle_sha256)
            newest = -version.registered_at.timestamp() if version is not None else 0.0
            return order.get(c.state, 2), newest

        # Newest rows first within a rank (rows already come newest first; sort is stable).
        return tuple(sorted(out, key=rank))
