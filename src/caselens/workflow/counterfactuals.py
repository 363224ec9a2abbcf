"""Counterfactuals through the door: "what would move this result across the threshold?".

For a report this clinician was shown in this session, the search (changing only what the
card states as modifiable, within its bounds) runs once, its answer is recorded, and only
then returned (action ``counterfactuals_viewed``, audience clinician, filed under the
parent's patient and model; the detail is the result as shown). It is not a prediction
about the patient, so it writes no monitoring prediction-log row. The same parent asked
again in the session is answered from the session, not searched or recorded again.

A reviewer replays the entry (drawn from its detail, with its parent entry) and re-runs the
search with the recorded settings and seed against the same model version (by SHA-256).
"""

from __future__ import annotations

from caselens.audit import AuditEntry, AuditError
from caselens.errors import CaseLensError
from caselens.explain.cases import Case, validate_inputs
from caselens.explain.counterfactual.results import CounterfactualResult, SearchSettings
from caselens.explain.report import CaseExplainer, CaseReport
from caselens.model.bundle import ModelBundle
from caselens.numeric_tolerance import NUMERIC_TOLERANCE
from caselens.workflow._door_base import DoorBase
from caselens.workflow.counterfactual_records import (
    COUNTERFACTUALS_VIEWED,
    CounterfactualOffer,
    CounterfactualReplay,
    CounterfactualRerun,
    compare_results,
    display_detail,
    offer_for,
    read_display_detail,
)
from caselens.workflow.errors import EntryFailsVerification, WorkflowError
from caselens.workflow.records import UserSession

#: Counterfactual answers a tab keeps (each one recorded once while kept): a clinician moves
#: between a few patients; memory stays flat.
MAX_KEPT_COUNTERFACTUALS = 8


class CounterfactualsMixin(DoorBase):
    """The door's counterfactual methods: offer, show (search → record → return), replay
    and re-run."""

    def counterfactual_offer(self, session: UserSession, model_id: str) -> CounterfactualOffer:
        """Whether this model offers a counterfactual, and what its card states about each
        input (which may change and why the others may not). Reading the card records
        nothing; a patient is refused (recorded)."""
        self._require(session, "explore_hypothetical")
        return offer_for(self.bundle(model_id))

    def show_counterfactuals(
        self, session: UserSession, parent: CaseReport
    ) -> CounterfactualResult:
        """Search for values that would move ``parent`` across the threshold; recorded, then
        returned.

        ``parent`` must be a report displayed in this session (its entry is the parent
        entry); the search runs on the report as recorded in that entry, with the same
        model version (by SHA-256), which must still be active.

        Raises
        ------
        Refused
            A patient (or any role without ``explore_hypothetical``; recorded), or a
            suspended model.
        WorkflowError
            The report was not shown in this session, the model offers no counterfactual,
            or the model version has changed since.
        NotRecorded
            The trail could not take the entry: nothing is returned.
        """
        self._require(session, "explore_hypothetical")
        model_id = parent.model.model_id
        bundle = self._active_bundle(model_id)  # a model suspended since answers nothing
        kept = session.counterfactuals.get(parent.report_id)
        if isinstance(kept, CounterfactualResult):
            return kept  # computed and recorded once in this session
        offer = offer_for(bundle)
        if offer.reason is not None:
            raise WorkflowError(offer.reason)
        parent_seq = session.display_entries.get(parent.report_id)
        if parent_seq is None:
            raise WorkflowError(
                "Counterfactuals are searched only for a report shown to you in this "
                "session: show the report first."
            )
        recorded = self._recorded_report(parent_seq, parent.report_id)
        if bundle.model_sha256 != recorded.model.sha256:
            raise WorkflowError(
                f"The model {model_id} has changed since this report was shown (another "
                "version is loaded now): show the report again first."
            )
        result = self._search(self._live_explainer(model_id), recorded, settings=None)
        result = result.model_copy(update={"parent_entry": parent_seq})
        self._record(
            session,
            COUNTERFACTUALS_VIEWED,
            audience="clinician",
            report=recorded,  # patient and model fields only: this entry shows no report
            detail=display_detail(result, offer.inputs),
        )
        if len(session.counterfactuals) >= MAX_KEPT_COUNTERFACTUALS:
            session.counterfactuals.pop(next(iter(session.counterfactuals)))
        session.counterfactuals[parent.report_id] = result
        return result

    # -- replay ------------------------------------------------------------------------

    def replay_counterfactuals(self, session: UserSession, seq: int) -> CounterfactualReplay:
        """A recorded counterfactual display, verified and recorded (as replayed) before it
        returns; drawn from the entry's detail, exactly as shown."""
        self._require(session, "replay_entry")
        entry = self._verified(seq)
        try:
            result, inputs = read_display_detail(entry)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        viewer = self._viewer(session)
        key = (viewer.user_id, session.session_id, f"entry:{seq}", "reviewer", "replayed")
        if key not in session.recorded:
            self._record(
                session,
                "replayed",
                audience="reviewer",
                patient_ref=entry.patient_ref,
                detail={"seq": seq, "entry_hash": entry.entry_hash, "model_id": result.model_id},
            )
            session.recorded.add(key)
        when = entry.recorded_at.replace("T", " ").replace("Z", " UTC")
        heading = f"Counterfactuals as shown to {entry.actor_name} ({entry.actor_role}) on {when}"
        return CounterfactualReplay(entry, result, inputs, heading)

    def rerun_counterfactuals(self, session: UserSession, seq: int) -> CounterfactualRerun:
        """Repeat a recorded search with its settings and seed on the same model version
        (by SHA-256) and the parent entry's report; say whether the alternatives are the
        same. The outcome is recorded before it returns."""
        self._require(session, "replay_entry")
        entry = self._verified(seq)
        try:
            stored, _ = read_display_detail(entry)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        rerun = self._rerun(stored)
        self._record(
            session,
            "rerun",
            audience="reviewer",
            patient_ref=entry.patient_ref,
            detail={"seq": seq, "model_id": stored.model_id, **rerun.record_detail()},
        )
        return rerun

    # -- parts ---------------------------------------------------------------------------

    def _rerun(self, stored: CounterfactualResult) -> CounterfactualRerun:
        if stored.parent_entry is None:
            return CounterfactualRerun(
                False, "This entry names no parent entry, so the search cannot be repeated."
            )
        parent = self._recorded_report(stored.parent_entry, stored.parent_report_id)
        bundle = self.catalogue.producer(parent.model.sha256, parent.model.bundle_sha256)
        if bundle is None:
            return CounterfactualRerun(
                False,
                f"The model version that was searched ({parent.model.model_id} "
                f"{parent.model.version}, SHA-256 {parent.model.sha256[:16]}…) is no longer "
                "available, so the search cannot be repeated.",
            )
        fresh = self._search(self._rerun_explainer(bundle, parent), parent, stored.settings)
        fresh = fresh.model_copy(update={"parent_entry": stored.parent_entry})
        differences = compare_results(stored, fresh)
        where = (
            f"with the recorded settings and seed ({stored.settings.seed}) on the same model "
            f"version (SHA-256 {parent.model.sha256[:16]}…)"
        )
        if not differences:
            message = (
                f"Repeated {where}: the same alternatives, each with the same side of the "
                f"threshold and the same estimate (within {NUMERIC_TOLERANCE:g})."
            )
        else:
            budget = (
                " The search stopped at its time budget, so a faster or slower machine can "
                "reach other answers."
                if stored.budget_exhausted or fresh.budget_exhausted
                else ""
            )
            message = (
                f"Repeated {where}: the alternatives differ in {len(differences)} way(s), "
                f"listed below.{budget}"
            )
        return CounterfactualRerun(True, message, fresh, differences)

    def _rerun_explainer(self, bundle: ModelBundle, parent: CaseReport) -> CaseExplainer:
        """The explainer the parent report was computed with (its seeds and sizes): the
        process's own when it matches, otherwise one built for this re-run."""
        prov = parent.provenance
        try:
            live = self._version_explainer(bundle)
        except CaseLensError:
            live = None
        if (
            live is not None
            and live.bundle.model_sha256 == bundle.model_sha256
            and live.seed == prov.seeds.get("background")
            and len(live.background) == prov.background_size
            and live.lime_runs == prov.lime_runs
            and live.lime_samples == prov.lime_samples
            and live.top_k == prov.top_k
        ):
            return live
        return CaseExplainer(
            bundle,
            seed=prov.seeds["background"],
            background_size=prov.background_size,
            lime_runs=prov.lime_runs,
            lime_samples=prov.lime_samples,
            top_k=prov.top_k,
        )

    def _search(
        self, explainer: CaseExplainer, parent: CaseReport, settings: SearchSettings | None
    ) -> CounterfactualResult:
        """Run the search on the parent report's own values."""
        from caselens.explain.counterfactual.search import find_alternatives

        case = _case_of(parent, explainer.bundle)
        try:
            return find_alternatives(explainer, case, parent, settings=settings)
        except (CaseLensError, ValueError) as exc:  # e.g. the model's answer refused
            raise WorkflowError(f"The counterfactual search could not run: {exc}") from exc

    def _recorded_report(self, seq: int, report_id: str) -> CaseReport:
        """The report entry ``seq`` displayed (verified), which must be ``report_id``."""
        entry = self._verified(seq)
        if not entry.report_json:
            raise WorkflowError(f"Entry #{seq} displayed no report.")
        try:
            report = CaseReport.from_json(entry.report_json)
        except ValueError as exc:
            raise WorkflowError(f"Entry #{seq}: the stored report cannot be read: {exc}") from exc
        if report.report_id != report_id:
            raise WorkflowError(f"Entry #{seq} displayed another report than the one asked about.")
        return report

    def _verified(self, seq: int) -> AuditEntry:
        """Entry ``seq``, verified (hash, signature, links) before it is used."""
        try:
            entry = self._audit.get(seq)
            problem = self._audit.entry_problem(seq)
        except AuditError as exc:
            raise WorkflowError(str(exc)) from exc
        if problem is not None:
            raise EntryFailsVerification(f"This entry fails verification: {problem}.")
        return entry


def _case_of(report: CaseReport, bundle: ModelBundle) -> Case:
    """The case a report was computed from, validated again against the bundle's schema."""
    try:
        return validate_inputs(
            report.case.values(),
            bundle.features,
            source=report.case.source,
            case_id=report.case.case_id,
        )
    except CaseLensError as exc:
        raise WorkflowError(f"The report's values cannot be searched: {exc}") from exc
