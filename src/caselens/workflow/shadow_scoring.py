"""Shadow scoring through the door: a candidate scored beside the live version, never shown.

When a model id has a version in state ``shadow`` (:mod:`caselens.lifecycle`), every live
display of a report of that model (``viewed``, ``patient_viewed``, ``previewed``, a CDS
Hooks card; never a hypothetical what-if or counterfactual) is queued, after its entry is
written, for the candidate to be scored on the same case by the workflow's
:class:`~caselens.monitoring.shadow_scorer.ShadowScorer` (one daemon thread, started on the
first shadow job). Nothing is computed on the click path: the hook reads which version is
in shadow from a view refreshed at most once a second and puts the job on a bounded queue.

The candidate's predictions are written in batches, each recorded as ONE ``shadow_scored``
entry by the model lifecycle's system viewer (:data:`.model_versions.LIFECYCLE_SYSTEM`,
audience ``system``), its rows flagged never shown
(:mod:`caselens.monitoring.shadow_log`). ``Runtime.close`` calls
:meth:`ShadowScoringMixin.stop_shadow_scoring`, which scores what is queued and writes
the last batches.
"""

from __future__ import annotations

import logging
import threading
import time

from caselens.audit import AuditEntry
from caselens.explain.report import CaseReport
from caselens.model.bundle import ModelBundle
from caselens.monitoring.prediction_log import DISPLAY_ACTIONS
from caselens.monitoring.shadow_log import ShadowBatch, write_shadow_batch
from caselens.monitoring.shadow_scorer import ScorerCounts, ShadowJob, ShadowScorer
from caselens.workflow._door_base import DoorBase
from caselens.workflow.model_versions import LIFECYCLE_SYSTEM

_log = logging.getLogger(__name__)

#: Guards the creation of a workflow's scorer (created once, on the first shadow job).
_SCORER_GUARD = threading.Lock()


class ShadowScoringMixin(DoorBase):
    """The door's part that scores a shadow candidate beside each live display."""

    #: How long the versions in shadow, read from the database, are reused: at most one
    #: query a second whatever the clicks (a new shadow counts within a second).
    SHADOW_VIEW_SECONDS = 1.0

    _shadow_view: tuple[float, dict[str, str]] | None = None
    _shadow: ShadowScorer | None = None
    _shadow_missing_logged: frozenset[str] = frozenset()

    # -- the hook (click path: a cached read and a queue put) ------------------------

    def _after_display(self, report: CaseReport, entry: AuditEntry) -> None:
        """Queue the case for the model's shadow candidate, if it has one; never raises
        (the display is recorded and shown whatever happens to its shadow)."""
        if entry.action not in DISPLAY_ACTIONS or report.case.hypothetical is not None:
            return
        try:
            candidate = self._shadow_candidate(report)
            if candidate is not None:
                self.shadow_scorer.offer(
                    ShadowJob(
                        report=report,
                        entry_seq=entry.seq,
                        recorded_at=entry.recorded_at,
                        candidate=candidate,
                    )
                )
        except Exception as exc:  # pragma: no cover - a shadow never fails a display
            _log.warning("shadow scoring of entry %s not queued: %s", entry.seq, exc)

    def _shadow_versions(self) -> dict[str, str]:
        """``model_id -> bundle_sha256`` of every version in shadow (cached, see
        :attr:`SHADOW_VIEW_SECONDS`)."""
        now = time.monotonic()
        cached = self._shadow_view
        if cached is not None and now - cached[0] < self.SHADOW_VIEW_SECONDS:
            return cached[1]
        versions = self._lifecycle.all_versions()
        found = {v.model_id: v.bundle_sha256 for v in versions if v.state == "shadow"}
        self._shadow_view = (now, found)
        return found

    def _shadow_candidate(self, report: CaseReport) -> ModelBundle | None:
        """The loaded shadow version of the report's model, if any (and not the very
        version that produced the report)."""
        model_id = report.model.model_id
        sha = self._shadow_versions().get(model_id)
        if sha is None or sha == report.model.bundle_sha256:
            return None
        candidate = self._all_versions.version(model_id, sha)
        if candidate is None and sha not in self._shadow_missing_logged:
            # Another server may serve it; this one cannot score what it has not loaded.
            self._shadow_missing_logged = self._shadow_missing_logged | {sha}
            _log.warning(
                "the shadow version %s of %s is not in this server's models folder, so it "
                "is not scored here",
                sha[:12],
                model_id,
            )
        return candidate

    # -- the scorer --------------------------------------------------------------------

    @property
    def shadow_scorer(self) -> ShadowScorer:
        """The workflow's shadow scorer (its thread starts with the first job)."""
        if self._shadow is None:
            with _SCORER_GUARD:
                if self._shadow is None:
                    self._shadow = ShadowScorer(self._write_shadow_batch)
        return self._shadow

    def _write_shadow_batch(self, batch: ShadowBatch) -> None:
        # One entry per batch, by the model lifecycle's system viewer.
        write_shadow_batch(self._audit, batch, LIFECYCLE_SYSTEM)

    def flush_shadow_scores(self, timeout: float = 30.0) -> bool:
        """Score what is queued and record every waiting batch now (one ``shadow_scored``
        entry per model and candidate); True once done within ``timeout`` seconds."""
        if self._shadow is None:
            return True
        return self._shadow.flush(timeout)

    def stop_shadow_scoring(self, timeout: float | None = None) -> None:
        """Stop the shadow scorer: what is queued is scored (within its stop bound), the
        last batches recorded, the thread ended. Called by ``Runtime.close``."""
        if self._shadow is not None:
            self._shadow.stop(timeout)

    def shadow_scoring_counts(self) -> ScorerCounts | None:
        """What the shadow scorer has done (None when no shadow job has come yet)."""
        return None if self._shadow is None else self._shadow.counts()
