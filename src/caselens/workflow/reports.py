"""Reports and feedback: a clinician's report, own estimates, patient previews and
feedback, and a patient's own result."""

from __future__ import annotations

import dataclasses
from typing import NoReturn

from caselens.access.policy import Viewer
from caselens.errors import CaseLensError
from caselens.explain.cases import Case
from caselens.explain.patient_language import DEFAULT_LANGUAGE, catalogue, check_language
from caselens.explain.report import Audience, CaseReport, in_patient_language
from caselens.model.budget import ModelBudgetError
from caselens.model.output_check import ModelOutputError
from caselens.workflow._door_base import DoorBase
from caselens.workflow.checks import case_key, check_own_estimate, check_patient_ref
from caselens.workflow.errors import Refused, Unavailable, WorkflowError
from caselens.workflow.records import UserSession

#: Longest feedback comment kept.
MAX_COMMENT_LENGTH = 2000
#: Longest reason kept with a refused report (the model's own words are bounded too).
MAX_REFUSAL_REASON_CHARS = 1000
#: The answers a clinician can give about a report; none is preselected on the page.
FEEDBACK_VERDICTS = ("I agree", "I disagree", "Not useful")


class ReportsMixin(DoorBase):
    """The door's report methods: computed once per case and tab, checked, recorded, returned."""

    def _report(
        self, session: UserSession, model_id: str, case: Case, *, audience: Audience
    ) -> CaseReport:
        # Keyed by the live version too: after a promotion (here or on another server) the
        # tab computes the new live version's report, never serves the old version's.
        live = self.bundle(model_id)
        model, patient, inputs = case_key(model_id, case)
        key = (model, patient, f"{inputs}\nbundle {live.bundle_sha256}")
        report = session.reports.get(key)
        if report is None:
            try:
                report = self._version_explainer(live).explain(case)
            except (ModelOutputError, ModelBudgetError) as exc:
                self._refuse_model_answer(session, model_id, case, exc, audience=audience)
            session.reports.clear()  # one report at a time per tab: memory stays flat
            session.reports[key] = report
        return report

    def _refuse_model_answer(
        self,
        session: UserSession,
        model_id: str,
        case: Case,
        problem: CaseLensError,
        *,
        audience: Audience,
    ) -> NoReturn:
        """Record that the model's answer for this case was refused, then raise the refusal.

        The model returned something that is not a probability for this case (or its
        explanation rows), or went over its time or memory budget: there is nothing true to
        show, and the trail says so (action ``report_refused``, with the reason).
        """
        reason = str(problem)[:MAX_REFUSAL_REASON_CHARS]
        self._record(
            session,
            "report_refused",
            audience=audience,
            patient_ref=case.case_id,
            detail={"model_id": model_id, "reason": reason, "kind": type(problem).__name__},
        )
        if audience == "patient":
            raise Unavailable(
                "Your result is not available right now. Please contact your care team."
            ) from problem
        short = getattr(problem, "short", None) or reason
        raise Refused(
            f"No report for this case: the model {model_id} gave no usable answer for it "
            f"({short}). Nothing is shown; the refusal is recorded in the audit trail."
        ) from problem

    def save_own_estimate(
        self,
        session: UserSession,
        model_id: str,
        case: Case,
        out_of_100: int,
        *,
        patient_ref: str,
    ) -> None:
        """Record the clinician's own estimate, committed before the model's is shown.

        Its own audit entry (action ``estimate_recorded``, with the estimate and the id of
        the report it precedes) is written before the report can be drawn; the report is
        computed here only for its id and is not returned. A value that is not a whole
        number from 0 to 100 is refused and nothing is recorded.
        """
        self._require(session, "view_report")
        estimate = check_own_estimate(out_of_100)
        ref = check_patient_ref(patient_ref)
        self._active_bundle(model_id)
        # The same case as show_report will draw, so the entry names that report's id.
        report = self._report(
            session, model_id, dataclasses.replace(case, case_id=ref), audience="clinician"
        )
        self._record(
            session,
            "estimate_recorded",
            audience="clinician",
            report=report,
            detail={
                "model_id": model_id,
                "report_id": report.report_id,
                "own_estimate_out_of_100": estimate,
            },
        )
        session.own_estimates[case_key(model_id, case)] = estimate

    def own_estimate(self, session: UserSession, model_id: str, case: Case) -> int | None:
        """The estimate this clinician committed for this case in this session, if any."""
        return session.own_estimates.get(case_key(model_id, case))

    def estimate_first(self, session: UserSession) -> bool:
        """Whether this viewer records their own estimate, or skips it, before a report is
        shown (the site's and the user's setting; never for roles other than clinician)."""
        viewer = self._viewer(session)
        return bool(self._estimate_first(viewer.user_id, viewer.role))

    def skip_own_estimate(
        self, session: UserSession, model_id: str, case: Case, *, patient_ref: str
    ) -> None:
        """Record that the clinician chose to see the model's result without an estimate
        first (an explicit, audited choice, never a default)."""
        self._require(session, "view_report")
        ref = check_patient_ref(patient_ref)
        self._active_bundle(model_id)
        self._record(
            session,
            "own_estimate_skipped",
            audience="clinician",
            patient_ref=ref,
            detail={"model_id": model_id},
        )
        session.skipped_estimates.add(case_key(model_id, case))

    def awaiting_own_estimate(self, session: UserSession, model_id: str, case: Case) -> bool:
        """True while the report must stay hidden: estimate-first is on for this viewer
        and they have neither saved an estimate for this case nor skipped it."""
        key = case_key(model_id, case)
        return (
            self.estimate_first(session)
            and key not in session.own_estimates
            and key not in session.skipped_estimates
        )

    def model_warnings(self, session: UserSession, model_id: str) -> tuple[str, ...]:
        """Where the bundle's card failed its checks against its own reference data (the
        result Model facts shows), for a banner on every screen with its predictions."""
        self._require(session, "view_report")
        return tuple(self.bundle(model_id).card_problems)

    def show_report(
        self, session: UserSession, model_id: str, case: Case, *, patient_ref: str
    ) -> CaseReport:
        """The clinician's report for ``case``: checked, recorded, then returned.

        The patient reference is required and checked; it becomes the report's case id,
        so the entry can be found by patient in the trail.
        """
        self._require(session, "view_report")
        ref = check_patient_ref(patient_ref)
        if case.hypothetical is not None:
            # A what-if is recorded as one (show_what_if), never as the patient's result.
            raise WorkflowError(
                "This case is hypothetical (not the patient's recorded values): it is shown "
                "through “Change a value”, recorded as a what-if, never as the patient's result."
            )
        self._active_bundle(model_id)
        case = dataclasses.replace(case, case_id=ref)
        report = self._report(session, model_id, case, audience="clinician")
        self._record_display(session, report, audience="clinician", action="viewed")
        return report

    def preview_patient_view(
        self, session: UserSession, report: CaseReport, *, language: str | None = None
    ) -> CaseReport:
        """The patient view of a report the clinician is looking at, recorded as a preview;
        with ``language``, the patient text in that language (its own report id)."""
        self._require(session, "view_report")
        # Checked before anything is written in the patient's words.
        self._refuse_hypothetical_for_patient(session, report, "previewed")
        bundle = self._active_bundle(report.model.model_id)
        if language is not None:
            try:
                report = in_patient_language(report, bundle, check_language(language))
            except CaseLensError as exc:
                raise WorkflowError(str(exc)) from exc
        self._record_display(
            session,
            report,
            audience="patient",
            action="previewed",
            detail={"language": report.narrative.patient.language},
        )
        return report

    def give_feedback(
        self,
        session: UserSession,
        report: CaseReport,
        *,
        verdict: str,
        comment: str = "",
        own_estimate_out_of_100: int | None = None,
    ) -> None:
        """Record the clinician's feedback on a report (with their own prior estimate).

        The verdict must be one of :data:`FEEDBACK_VERDICTS`, chosen by the clinician: the
        page presets none, and nothing is recorded without one."""
        self._require(session, "give_feedback")
        if verdict not in FEEDBACK_VERDICTS:
            raise WorkflowError(
                "Feedback: choose one answer (" + ", ".join(FEEDBACK_VERDICTS) + ") first."
            )
        self._record(
            session,
            "feedback",
            audience="clinician",
            report=report,
            detail={
                "verdict": verdict,
                "comment": comment.strip()[:MAX_COMMENT_LENGTH],
                "report_id": report.report_id,
                "own_estimate_out_of_100": own_estimate_out_of_100,
            },
        )

    # -- patient ---------------------------------------------------------------------------

    def show_my_result(
        self, session: UserSession, *, asked_refs: tuple[str, ...] = ()
    ) -> CaseReport:
        """A patient's own result, and nobody else's (any other reference asked is refused)."""
        viewer = self._viewer(session)
        for asked in asked_refs:
            if asked != viewer.patient_ref:
                self._require(session, "view_patient_summary", patient_ref=asked)
        self._require(session, "view_patient_summary", patient_ref=viewer.patient_ref)
        language = self.language_of(viewer)
        say = catalogue(language)
        unavailable = say("Your result is not available right now. Please contact your care team.")
        bundle = self.catalogue.bundles.get(viewer.patient_model_id or "")
        if bundle is None:
            raise Unavailable(unavailable)
        if self._statuses.get(bundle.model_id).suspended:
            raise Unavailable(
                say(
                    "This result is not available right now because the tool is paused for a "
                    "check. Your care team can tell you more."
                )
            )
        standing = self.model_standing(bundle.model_id)
        if not standing.may_predict:
            # No approval in force: the patient's result stops like a suspension (issue 27).
            self._on_refused_standing(standing)
            raise Unavailable(unavailable)
        from caselens.explain.cases import validate_inputs

        try:
            demo = bundle.demo_case(viewer.patient_ref or "")
            case = validate_inputs(
                demo.inputs, bundle.features, source="demo", case_id=demo.case_id
            )
        except CaseLensError as exc:
            raise Unavailable(unavailable) from exc
        report = self._report(session, bundle.model_id, case, audience="patient")
        # The patient reads their account's language: the same numbers, the patient text
        # written in that language (a report of its own, recorded as shown).
        report = in_patient_language(report, bundle, language)
        self._record_display(
            session,
            report,
            audience="patient",
            action="patient_viewed",
            detail={"language": report.narrative.patient.language},
        )
        return report

    def language_of(self, viewer: Viewer) -> str:
        """The language of a viewer's account (English when the account has none)."""
        try:
            return self._accounts.get(viewer.user_id).language
        except CaseLensError:
            return DEFAULT_LANGUAGE
