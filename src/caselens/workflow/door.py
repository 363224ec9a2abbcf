"""The one door: every display and action a person can see or do, as check → record → return.

Pages never decide the order of checks and records. They call one method of
:class:`Workflow` per thing a person sees or does, and it

1. checks the access policy (and, for predictions, the model's status),
2. writes the audit entry, and only then
3. returns what may be drawn, or carries out the action.

If any step fails, the method raises :class:`WorkflowError` with the words to show, and the
page has nothing else to draw. A refusal by the policy is itself recorded.

What one browser tab holds is a :class:`UserSession`: the viewer, a session id, the
displays already recorded in it (keyed by viewer, session, report, audience and action) and
the reports computed in it. Signing out replaces the whole session, so the next person on
the same tab inherits nothing: not the displays, not the estimates, not the session id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from caselens.access.accounts import (
    Account,
    AccountStore,
    SignInRefused,
    refused_viewer,
    session_expired,
)
from caselens.access.browser_sessions import SESSION_COOKIE_REFRESH_AFTER, device_id
from caselens.access.client_identity import IPNetwork, client_identity
from caselens.access.model_status import ModelStatus, ModelStatusStore, check_reason
from caselens.access.policy import Viewer, check
from caselens.access.sign_in_throttle import SignInNotRecorded
from caselens.audit import AuditEntry, AuditError, AuditStore, VerifyResult, to_bundle, to_csv
from caselens.audit.chain import pseudonym
from caselens.audit.replay import Replay, Rerun, replay_entry, rerun_entry
from caselens.errors import CaseLensError
from caselens.explain.cases import Case
from caselens.explain.patient_language import DEFAULT_LANGUAGE, catalogue, check_language
from caselens.explain.report import Audience, CaseExplainer, CaseReport, in_patient_language
from caselens.model.budget import ModelBudgetError
from caselens.model.bundle import BundleCatalogue, ModelBundle
from caselens.model.leakage import auroc_flags
from caselens.model.output_check import ModelOutputError
from caselens.workflow.display import NOT_RECORDED_MESSAGE, record_display, record_event

#: What a person sees when the trail cannot take the entry.
NOT_RECORDED = NOT_RECORDED_MESSAGE
#: A patient reference: letters, digits and ``. _ -``, 1–64 characters, starting with a
#: letter or digit (an MRN, an encounter number or a study id; never free text).
PATIENT_REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
#: Entries on one page of the audit trail.
AUDIT_PAGE_SIZE = 50
#: Longest feedback comment kept.
MAX_COMMENT_LENGTH = 2000
#: Longest reason kept with a refused report (the model's own words are bounded too).
MAX_REFUSAL_REASON_CHARS = 1000
#: The answers a clinician can give about a report; none is preselected on the page.
FEEDBACK_VERDICTS = ("I agree", "I disagree", "Not useful")


def estimate_first_for_clinicians(user_id: str, role: str) -> bool:
    """The built-in estimate-first policy: on for every clinician (``Settings`` overrides)."""
    return role == "clinician"


ExportFormat = Literal["fhir", "csv"]

_log = logging.getLogger(__name__)


class WorkflowError(CaseLensError):
    """A display or action did not happen; the message is what the person is shown."""


class Refused(WorkflowError):
    """The access policy or the model's status refused it (the refusal is recorded)."""


class Unavailable(WorkflowError):
    """The result cannot be given right now (model paused, record missing): said gently."""


class NotRecorded(WorkflowError):
    """The audit trail could not take the entry, so nothing is shown or done."""


class EntryFailsVerification(WorkflowError):
    """A replayed entry does not verify: its report is not shown."""


@dataclass
class UserSession:
    """What one browser tab holds between clicks. Sign-out replaces it whole.

    Attributes
    ----------
    session_id : str
        Random id, stored in every entry this session writes.
    viewer : Viewer or None
        Who is signed in.
    last_activity : datetime or None
        UTC time of the last request, for the idle timeout.
    recorded : set of tuple
        Displays already recorded: (viewer id, session id, report id, audience, action).
    reports : dict
        Reports computed in this session, by (model id, patient ref, inputs).
    own_estimates : dict
        The clinician's own estimates (out of 100) committed before seeing the model's.
    cookie_handoff : str or None
        A one-time token the page hands to the server's cookie route, so the browser gets
        this session's signed cookie (see :mod:`caselens.access.browser_sessions`).
    cookie_issued : datetime or None
        When this session's cookie was last handed off (UTC), to refresh it while active.
    skipped_estimates : set
        Cases for which the clinician chose to see the model's result without an estimate.
    """

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    viewer: Viewer | None = None
    last_activity: dt.datetime | None = None
    recorded: set[tuple[str, str, str, str, str]] = field(default_factory=set)
    reports: dict[tuple[str, str, str], CaseReport] = field(default_factory=dict)
    own_estimates: dict[tuple[str, str, str], int] = field(default_factory=dict)
    cookie_handoff: str | None = None
    cookie_issued: dt.datetime | None = None
    skipped_estimates: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class ExportFile:
    """An export, built after its record was written."""

    file_name: str
    mime: str
    data: bytes
    entries: int


@dataclass(frozen=True)
class ModelFacts:
    """What the Model facts page shows: the card, and what CaseLens measured.

    Attributes
    ----------
    bundle : ModelBundle
    reliability_curve : list
        Observed vs predicted on the reference data.
    validation : Validation
        The figures measured on the bundle's reference data (the card's own when they could
        not be measured); ``warnings`` says where the card claims otherwise.
    warnings : tuple of str
        Loud warnings from loading the bundle (card claims that the data do not bear out).
    standing_limitations : tuple
        Limitations that hold for every patient of this model, stated once.
    leakage_flags : tuple of LeakageFlag
        Measured AUROCs so high that the page says "check for leakage"
        (:func:`caselens.model.leakage.auroc_flags`).
    """

    bundle: ModelBundle
    reliability_curve: Any
    validation: Any
    warnings: tuple[str, ...]
    standing_limitations: tuple[Any, ...]
    leakage_flags: tuple[Any, ...] = ()


@dataclass(frozen=True)
class MonitoringView:
    """What the Monitoring page shows for one model (and one source: shown or simulated).

    Attributes
    ----------
    alerts : tuple of Alert
        Alerts recorded in the trail (``alert_raised``), newest period first.
    pending : tuple of Alert
        Crossings the plan finds in these figures now that are not recorded yet: they
        "would alert" (the scheduled check records live ones; nothing is reassuring until
        it has).
    watches : tuple of Alert
        Beyond a limit, but the interval still reaches back: shown, never raised.
    """

    model_id: str
    plan: Any
    figures: tuple[Any, ...]
    alerts: tuple[Any, ...]
    watches: tuple[Any, ...]
    simulated_runs: tuple[str, ...]
    suspended: bool
    pending: tuple[Any, ...] = ()

    @property
    def simulated(self) -> bool:
        """True when the figures come from a simulated run, not from displays to people."""
        return any(f.simulated for f in self.figures)

    @property
    def judged_periods(self) -> int:
        """Periods with enough predictions for the plan to judge drift or performance."""
        return sum(
            1
            for f in self.figures
            if f.drift_judged or (f.performance is not None and f.performance.judged)
        )


@dataclass(frozen=True)
class ClinicianUse:
    """How clinicians used one model, per period (``caselens.monitoring.clinician_use``)."""

    model_id: str
    feedback: tuple[Any, ...]
    limitations: tuple[Any, ...]


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit trail, read in the database."""

    entries: tuple[AuditEntry, ...]
    total: int
    next_before_seq: int | None


@dataclass(frozen=True)
class AuditChoices:
    """What the reviewer's filters offer: the actions and models the trail holds, and the
    roles an entry's actor can have (choices, not free text)."""

    actions: tuple[str, ...]
    models: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class TrailMatch:
    """The entries a search found, newest first: one for an entry number, every display of
    the report for a report id."""

    seqs: tuple[int, ...]
    kind: str
    query: str


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check_patient_ref(text: str | None) -> str:
    """A patient reference as typed, checked; raises WorkflowError saying what is expected."""
    value = (text or "").strip()
    if not value:
        raise WorkflowError("Patient reference: required before a report is shown and recorded.")
    if not PATIENT_REF_PATTERN.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise WorkflowError(
            f"Patient reference: '{shown}' is not valid. Use 1–64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (e.g. MRN-004211)."
        )
    return value


def check_own_estimate(value: object) -> int:
    """A clinician's own estimate out of 100: a whole number from 0 to 100, or a
    :class:`WorkflowError` that says what was given and what is expected."""
    expected = "Your estimate: expected a whole number from 0 to 100"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkflowError(f"{expected}, got {str(value)[:20]!r}.")
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= 100:
        raise WorkflowError(f"{expected}, got {value:g}.")
    return int(value)


def _case_key(model_id: str, case: Case) -> tuple[str, str, str]:
    return (model_id, case.case_id or "", json.dumps(case.values, sort_keys=True, default=str))


class Workflow:
    """Every display and action of CaseLens, as check → record → return.

    Parameters
    ----------
    audit : AuditStore
        The trail every display and action is written to first.
    accounts : AccountStore
        Local accounts (sign-in, users page).
    statuses : ModelStatusStore
        Which models are suspended.
    catalogue : BundleCatalogue
        The bundles the operator offers, and those refused.
    explainer : callable
        ``model_id -> CaseExplainer`` (cached and warmed by the caller).
    audit_key : bytes
        The server key, for pseudonymised exports.
    clock : callable
        UTC now, for the idle timeout (tests pass their own).
    estimate_first : callable
        ``(user id, role) -> bool``: whether a user records their own estimate (or skips
        it) before a report is shown; by default on for clinicians
        (``Settings.estimate_first_for`` carries the site's and users' choices).
    """

    def __init__(
        self,
        *,
        audit: AuditStore,
        accounts: AccountStore,
        statuses: ModelStatusStore,
        catalogue: BundleCatalogue,
        explainer: Callable[[str], CaseExplainer],
        audit_key: bytes,
        clock: Callable[[], dt.datetime] = _utcnow,
        estimate_first: Callable[[str, str], bool] = estimate_first_for_clinicians,
    ) -> None:
        self._audit = audit
        self._accounts = accounts
        self._statuses = statuses
        self.catalogue = catalogue
        self._explainer = explainer
        self._audit_key = audit_key
        self._clock = clock
        # One check records alerts at a time in this process (click or schedule).
        self._alert_lock = threading.Lock()
        self._scheduler: Any = None
        self._estimate_first = estimate_first

    # -- recording -------------------------------------------------------------------------

    def _record(
        self,
        session: UserSession,
        action: str,
        *,
        audience: str,
        viewer: Viewer | None = None,
        **fields: Any,
    ) -> AuditEntry:
        who = viewer or session.viewer
        if who is None:
            raise WorkflowError("Please sign in again.")
        try:
            return record_event(
                self._audit,
                who,
                action=action,
                audience=audience,
                session_id=session.session_id,
                **fields,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc

    def _record_display(
        self,
        session: UserSession,
        report: CaseReport,
        *,
        audience: Audience,
        action: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        viewer = self._viewer(session)
        key = (viewer.user_id, session.session_id, report.report_id, audience, action)
        if key in session.recorded:
            return  # this very display is already in the trail for this viewer and session
        try:
            record_display(
                self._audit,
                report,
                viewer,
                audience=audience,
                action=action,
                session_id=session.session_id,
                detail=detail,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        session.recorded.add(key)

    def _require(
        self,
        session: UserSession,
        action: str,
        *,
        page: str | None = None,
        patient_ref: str | None = None,
    ) -> Viewer:
        viewer = self._viewer(session)
        decision = check(viewer, action, page=page, patient_ref=patient_ref)
        if not decision.allowed:
            audience = (
                viewer.role
                if viewer.role in {"clinician", "patient", "reviewer", "admin"}
                else "system"
            )
            detail = {"page": page, "action": action, "reason": decision.reason}
            if patient_ref is not None:
                detail["patient_ref"] = patient_ref
            self._record(session, "access_refused", audience=audience, detail=detail)
            raise Refused(f"Not allowed: {decision.reason}")
        return viewer

    def _viewer(self, session: UserSession) -> Viewer:
        if session.viewer is None:
            raise WorkflowError("Please sign in again.")
        return session.viewer

    # -- session ---------------------------------------------------------------------------

    def current_viewer(self, session: UserSession) -> Viewer | None:
        """The signed-in viewer, or None; an idle session expires (and is recorded)."""
        if session.viewer is None or session.last_activity is None:
            return None
        now = self._clock()
        if session_expired(session.last_activity, now=now):
            return None
        session.last_activity = now
        return session.viewer

    def client_identity(
        self,
        peer: str | None,
        headers: Mapping[str, str],
        device_cookie: str | None,
        trusted_proxies: tuple[IPNetwork, ...],
    ) -> str | None:
        """The sign-in throttle's name for this client (see :mod:`caselens.access.client_identity`):
        an address from a trusted proxy, else a genuine device cookie's id, else None."""
        device = device_id(self._accounts.key, device_cookie, self._clock())
        return client_identity(peer, headers, device, trusted_proxies)

    def sign_in(
        self, session: UserSession, user_id: str, password: str, *, client: str | None = None
    ) -> Viewer:
        """Check the password, record the sign-in, and sign the session in; the session then
        holds a cookie handoff (the page passes it to the server's cookie route).

        Raises
        ------
        WorkflowError
            The same words for an unknown user, a wrong password and a locked account; the
            refusal is recorded without the typed password. An attempt the throttle could not
            count is refused unchecked, with words that say so.
        """
        try:
            account = self._accounts.sign_in(user_id.strip(), password, client=client)
        except SignInNotRecorded as busy:
            raise WorkflowError(str(busy)) from busy
        except SignInRefused as refused:
            self._record(
                session,
                "sign_in_refused",
                audience="system",
                viewer=refused_viewer(refused),
                detail={"throttled": refused.throttled, "known_account": bool(refused.known_user)},
            )
            raise WorkflowError(str(refused)) from refused
        viewer = account.viewer()
        self._record(session, "sign_in", audience=viewer.role, viewer=viewer)
        session.viewer = viewer
        session.last_activity = self._clock()
        session.cookie_handoff = self._accounts.sessions.start(session.session_id, viewer.user_id)
        session.cookie_issued = session.last_activity
        return viewer

    def resume(self, session: UserSession, cookie: str | None) -> Viewer | None:
        """Sign a new tab or a reloaded page back in from its session cookie, if the cookie is
        genuine, unexpired and its session not ended; recorded as ``session_resumed`` under the
        same session id. None (and nothing recorded) for any other cookie.

        Raises
        ------
        NotRecorded
            The trail could not take the entry: the session is not resumed.
        """
        live = self._accounts.sessions.resume(cookie)
        if live is None:
            return None
        try:
            viewer = self._accounts.get(live.user_id).viewer()
        except CaseLensError:  # the account was removed since
            return None
        resumed = UserSession(session_id=live.session_id)
        self._record(resumed, "session_resumed", audience=viewer.role, viewer=viewer)
        session.session_id = live.session_id
        session.viewer = viewer
        session.last_activity = self._clock()
        session.cookie_issued = live.issued_at
        return viewer

    def cookie_handoff(self, session: UserSession) -> str | None:
        """A one-time token for the server's cookie route, when this signed-in session's
        cookie is new or due a refresh; None otherwise (taken once)."""
        token, session.cookie_handoff = session.cookie_handoff, None
        if token is not None or session.viewer is None:
            return token
        now = self._clock()
        if session.cookie_issued is not None and (
            now - session.cookie_issued < SESSION_COOKIE_REFRESH_AFTER
        ):
            return None
        session.cookie_issued = now
        return self._accounts.sessions.handoff(session.session_id)

    def sign_out(self, session: UserSession) -> UserSession:
        """Record the sign-out, end the browser session (its cookie is refused from now on)
        and return a brand-new session (new id, nothing inherited)."""
        if session.viewer is not None:
            self._record(session, "signed_out", audience=session.viewer.role)
        self._accounts.sessions.end(session.session_id)
        return UserSession()

    def open_page(self, session: UserSession, page: str) -> Viewer:
        """The viewer, if they may open ``page``; a refusal is recorded and raised."""
        return self._require(session, "open_page", page=page)

    # -- clinician -------------------------------------------------------------------------

    def bundle(self, model_id: str) -> ModelBundle:
        """A loaded bundle by id (WorkflowError if it is not offered)."""
        bundle = self.catalogue.bundles.get(model_id)
        if bundle is None:
            raise WorkflowError(f"The model '{model_id}' is not available.")
        return bundle

    def model_status(self, model_id: str) -> ModelStatus:
        """Whether the model is active or suspended."""
        return self._statuses.get(model_id)

    def _active_bundle(self, model_id: str) -> ModelBundle:
        bundle = self.bundle(model_id)
        status = self._statuses.get(model_id)
        if status.suspended:
            raise Refused(status.message())
        return bundle

    def _report(
        self, session: UserSession, model_id: str, case: Case, *, audience: Audience
    ) -> CaseReport:
        key = _case_key(model_id, case)
        report = session.reports.get(key)
        if report is None:
            try:
                report = self._explainer(model_id).explain(case)
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
        session.own_estimates[_case_key(model_id, case)] = estimate

    def own_estimate(self, session: UserSession, model_id: str, case: Case) -> int | None:
        """The estimate this clinician committed for this case in this session, if any."""
        return session.own_estimates.get(_case_key(model_id, case))

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
        session.skipped_estimates.add(_case_key(model_id, case))

    def awaiting_own_estimate(self, session: UserSession, model_id: str, case: Case) -> bool:
        """True while the report must stay hidden: estimate-first is on for this viewer
        and they have neither saved an estimate for this case nor skipped it."""
        key = _case_key(model_id, case)
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

    # -- model facts and status ------------------------------------------------------------

    def model_facts(self, session: UserSession, model_id: str) -> ModelFacts:
        """A model's card and measured figures, for those who may read model facts."""
        self._require(session, "view_model_facts")
        bundle = self.bundle(model_id)
        explainer = self._explainer(model_id)
        return ModelFacts(
            bundle=bundle,
            reliability_curve=explainer.confidence_model.reliability_curve,
            validation=bundle.measured_validation or bundle.card.validation,
            warnings=bundle.warnings,
            standing_limitations=tuple(explainer.limitation_rules.standing),
            leakage_flags=auroc_flags(bundle.measured_validation),
        )

    def model_statuses(self, session: UserSession) -> dict[str, ModelStatus]:
        """Every offered model's status."""
        self._require(session, "view_model_status")
        return {m: self._statuses.get(m) for m in self.catalogue.bundles}

    def may(self, session: UserSession, action: str) -> bool:
        """Whether the viewer may take ``action`` (to show or hide a control; not a check)."""
        viewer = session.viewer
        return viewer is not None and check(viewer, action).allowed

    def set_model_status(
        self, session: UserSession, model_id: str, *, suspend: bool, reason: str
    ) -> ModelStatus:
        """Suspend or reinstate a model: checked, recorded with its reason, then done."""
        viewer = self._require(session, "suspend_model")
        self.bundle(model_id)
        checked = check_reason(reason)
        action = "model_suspended" if suspend else "model_reinstated"
        self._record(
            session, action, audience="admin", detail={"model_id": model_id, "reason": checked}
        )
        return self._statuses.set(model_id, suspended=suspend, reason=checked, by=viewer.user_id)

    # -- users -----------------------------------------------------------------------------

    def list_users(self, session: UserSession) -> list[Account]:
        """Every local account."""
        self._require(session, "manage_users")
        return self._accounts.list()

    def add_user(
        self,
        session: UserSession,
        user_id: str,
        *,
        name: str,
        role: str,
        password: str,
        patient_ref: str | None = None,
        patient_model_id: str | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> Account:
        """Create an account: fields checked, the addition recorded, then the account made
        (``language``: of the account's patient page)."""
        self._require(session, "manage_users")
        try:
            self._accounts.check_new_account(
                user_id,
                role=role,
                password=password,
                patient_ref=patient_ref,
                name=name,
                language=language,
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(
            session,
            "user_added",
            audience="admin",
            detail={
                "user_id": user_id,
                "role": role,
                "patient_ref": patient_ref,
                "language": language,
            },
        )
        return self._accounts.add(
            user_id,
            name=name or user_id,
            role=role,
            password=password,
            patient_ref=patient_ref,
            patient_model_id=patient_model_id,
            language=language,
        )

    def unlock_user(self, session: UserSession, user_id: str) -> Account:
        """Clear an account's sign-in back-off: checked, recorded, then done."""
        self._require(session, "manage_users")
        try:
            self._accounts.get(user_id)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(session, "user_unlocked", audience="admin", detail={"user_id": user_id})
        return self._accounts.unlock(user_id)

    # -- reviewer --------------------------------------------------------------------------

    def audit_page(
        self,
        session: UserSession,
        *,
        filters: Mapping[str, Any],
        before_seq: int | None = None,
        limit: int = AUDIT_PAGE_SIZE,
    ) -> AuditPage:
        """One page of the trail, filtered and paged in the database (newest first)."""
        self._require(session, "view_audit_trail")
        active = {k: v for k, v in filters.items() if v not in (None, "")}
        entries = self._audit.page(before_seq=before_seq, limit=limit, **active)
        total = self._audit.count(**active)
        following = entries[-1].seq if len(entries) == limit else None
        return AuditPage(tuple(entries), total, following)

    def audit_choices(self, session: UserSession) -> AuditChoices:
        """The actions and models recorded in the trail (and the offered models), and the
        actor roles, for the reviewer's filters."""
        from caselens.workflow.trail_search import ACTOR_ROLES, trail_actions, trail_models

        self._require(session, "view_audit_trail")
        try:
            actions = trail_actions(self._audit.engine)
            models = set(trail_models(self._audit.engine)) | set(self.catalogue.bundles)
        except Exception as exc:  # a database that cannot be read: said, never a traceback
            raise WorkflowError(f"The audit trail could not be read: {exc}") from exc
        return AuditChoices(actions, tuple(sorted(models)), ACTOR_ROLES)

    def find_in_trail(self, session: UserSession, typed: str) -> TrailMatch:
        """The entry with this number, or the displays of the report with this id (or its
        first 8+ characters), newest first. Nothing is recorded: finding is reading."""
        from caselens.workflow.trail_search import displays_of_report, parse_query

        self._require(session, "view_audit_trail")
        try:
            query = parse_query(typed)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        if query.entry is not None:
            try:
                self._audit.get(query.entry)
                return TrailMatch((query.entry,), "entry", f"#{query.entry}")
            except AuditError as exc:
                if query.report_prefix is None:
                    raise WorkflowError(f"There is no entry #{query.entry} in the trail.") from exc
        assert query.report_prefix is not None
        seqs = displays_of_report(self._audit.engine, query.report_prefix)
        if not seqs:
            raise WorkflowError(
                f"No entry #{query.report_prefix} and no display of a report whose id starts "
                f"with '{query.report_prefix}' is in the trail."
                if query.entry is not None
                else f"No display of a report whose id starts with '{query.report_prefix}' is "
                "in the trail."
            )
        return TrailMatch(seqs, "report", query.report_prefix)

    def audit_entry(self, session: UserSession, seq: int) -> AuditEntry:
        """One entry, verified (hash, signature, links) before it is returned, for the
        reviewer to read (an entry that displayed a report is opened with :meth:`replay`)."""
        self._require(session, "view_audit_trail")
        return self._verified_entry(seq)

    def _verified_entry(self, seq: int) -> AuditEntry:
        try:
            entry = self._audit.get(seq)
            problem = self._audit.entry_problem(seq)
        except AuditError as exc:
            raise WorkflowError(str(exc)) from exc
        if problem is not None:
            raise EntryFailsVerification(f"This entry fails verification: {problem}.")
        return entry

    def replay(self, session: UserSession, seq: int) -> Replay:
        """A past display, verified (hash, signature, links) and recorded before it returns."""
        self._require(session, "replay_entry")
        entry = self._verified_entry(seq)
        try:
            replay = replay_entry(entry)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        viewer = self._viewer(session)
        key = (viewer.user_id, session.session_id, f"entry:{seq}", "reviewer", "replayed")
        if key not in session.recorded:
            self._record(
                session,
                "replayed",
                audience="reviewer",
                report=replay.report,
                detail={"seq": seq, "entry_hash": entry.entry_hash},
            )
            session.recorded.add(key)
        return replay

    def replayed_model_warnings(
        self, session: UserSession, report: CaseReport
    ) -> tuple[str, ...] | None:
        """Where the card of the model version behind a replayed report (the loaded bundle
        with its model file's SHA-256) fails its checks, for the same banner the Case page
        draws; None when that version is no longer loaded, so its card cannot be checked."""
        self._require(session, "replay_entry")
        match = next(
            (b for b in self.catalogue.bundles.values() if b.model_sha256 == report.model.sha256),
            None,
        )
        return None if match is None else tuple(match.card_problems)

    def rerun(self, session: UserSession, seq: int) -> Rerun:
        """Recompute a past display and compare; the outcome is recorded before it returns."""
        self._require(session, "replay_entry")
        entry = self._verified_entry(seq)
        try:
            rerun = rerun_entry(entry, self.catalogue.bundles.values())
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(
            session,
            "rerun",
            audience="reviewer",
            report=replay_entry(entry).report,
            detail={"seq": seq, **rerun.record_detail()},
        )
        return rerun

    def verify_trail(self, session: UserSession) -> VerifyResult:
        """Walk the whole trail; the verification and its result are recorded."""
        self._require(session, "verify_trail")
        result = self._audit.verify()
        self._record(
            session,
            "verified",
            audience="reviewer",
            detail={"ok": result.ok, "count": result.count, "head": result.head_hash},
        )
        return result

    def export_trail(
        self,
        session: UserSession,
        fmt: ExportFormat,
        *,
        filters: Mapping[str, Any],
        pseudonymise: bool = True,
    ) -> ExportFile:
        """Record the export, then build it (FHIR R4 AuditEvent Bundle or CSV)."""
        self._require(session, "export_trail")
        if fmt not in ("fhir", "csv"):
            raise WorkflowError(f"Export format: expected 'fhir' or 'csv', got '{fmt}'.")
        active = {k: v for k, v in filters.items() if v not in (None, "")}
        count = self._audit.count(**active)
        self._record(
            session,
            "exported",
            audience="reviewer",
            detail={
                "format": fmt,
                "entries": count,
                "pseudonymised": pseudonymise,
                "filters": {k: str(v) for k, v in active.items()},
            },
        )
        key = self._audit_key if pseudonymise else None
        entries = self._audit.iter_entries(**active)
        if fmt == "fhir":
            data = json.dumps(to_bundle(entries, pseudonymise_key=key), indent=1).encode()
            return ExportFile("caselens-audit.fhir.json", "application/fhir+json", data, count)
        data = to_csv(entries, pseudonymise_key=key).encode()
        return ExportFile("caselens-audit.csv", "text/csv", data, count)

    def patient_pseudonym(self, patient_ref: str) -> str:
        """The keyed pseudonym an export uses for this patient reference."""
        return pseudonym(patient_ref, key=self._audit_key)

    # -- monitoring ------------------------------------------------------------------------

    def suspend_from_alert(self, session: UserSession, alert_id: str) -> ModelStatus:
        """Suspend the model an alert is about, with the alert as the recorded reason.

        The kill switch is :meth:`set_model_status` (checked, recorded, then done); this
        finds the raised alert and words the reason from it. An alert on simulated data
        never suspends a model.
        """
        from caselens.access.model_status import MAX_REASON_LENGTH
        from caselens.monitoring.alerts import get_alert

        self._require(session, "suspend_model")
        try:
            alert = get_alert(self._audit, alert_id.strip())
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        if alert.simulated:
            raise WorkflowError(
                f"Alert {alert.alert_id} is about simulated data: a simulation never "
                "suspends a model."
            )
        reason = f"Monitoring alert {alert.alert_id}: {alert.message}"
        return self.set_model_status(
            session, alert.model_id, suspend=True, reason=reason[:MAX_REASON_LENGTH]
        )

    def monitoring_view(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> MonitoringView:
        """A model's monitoring figures per period, its raised alerts and what to watch.

        Read from the prediction log and outcomes of that model (aggregates per period,
        never the whole trail). ``run_id`` shows a simulated run instead of what was shown
        to people; the view then says it is simulated. Opening it is recorded once per
        session, model and source.
        """
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import evaluate, in_listing_order, raised_alerts
        from caselens.monitoring.figures import simulated_runs
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
            engine = ready_engine(self._audit)
            figures = tuple(
                iter_figures(
                    engine,
                    bundle,
                    plan,
                    simulated=run_id is not None,
                    run_id=run_id,
                    cache=FiguresCache.for_store(self._audit),
                )
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        found: list[Any] = []
        watches: list[Any] = []
        for period in figures:
            crossing, watch = evaluate(period, plan)
            found += crossing
            watches += watch
        key = (viewer.user_id, session.session_id, f"monitoring:{model_id}:{run_id}", "", "")
        if key not in session.recorded:
            self._record(
                session,
                "monitoring_viewed",
                audience=viewer.role,
                detail={"model_id": model_id, "simulated_run": run_id},
            )
            session.recorded.add(key)
        alerts = tuple(in_listing_order(raised_alerts(self._audit, model_id, run_id=run_id)))
        recorded = {a.alert_id for a in alerts}
        pending = tuple(in_listing_order(a for a in found if a.alert_id not in recorded))
        if pending and run_id is None and self._scheduler is not None:
            self._scheduler.wake()  # records them in the background; this view never waits
        return MonitoringView(
            model_id=model_id,
            plan=plan,
            figures=figures,
            alerts=alerts,
            watches=tuple(watches),
            simulated_runs=tuple(simulated_runs(engine, model_id)),
            suspended=self._statuses.get(model_id).suspended,
            pending=pending,
        )

    def warm_up_monitoring(self) -> Any:
        """Start computing every model's live monitoring figures in the background (at server
        start), so the first Monitoring view does not read the open period whole. Records
        nothing; returns the thread."""
        from caselens.monitoring.warm_up import start_monitoring_warm_up

        return start_monitoring_warm_up(self._audit, self.catalogue.bundles)

    def monitoring_runs(self, session: UserSession, model_id: str) -> tuple[str, ...]:
        """The simulated runs logged for a model (to choose one on the Monitoring page)."""
        from caselens.monitoring.figures import simulated_runs
        from caselens.monitoring.tables import ready_engine

        self._require(session, "view_monitoring")
        self.bundle(model_id)
        return tuple(simulated_runs(ready_engine(self._audit), model_id))

    def clinician_use(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> ClinicianUse:
        """How clinicians used a model per period: feedback, own estimates against the
        model's (the automation-bias record) and the limitations shown. A simulated run
        has no feedback (nobody saw it); its limitations are those simulated."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
        from caselens.monitoring.tables import ready_engine

        self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
            engine = ready_engine(self._audit)
            feedback = (
                ()
                if run_id is not None
                else tuple(
                    feedback_by_period(
                        engine, model_id, period=plan.period, confidence=plan.confidence
                    )
                )
            )
            limitations = limitations_by_period(
                engine, model_id, period=plan.period, simulated=run_id is not None, run_id=run_id
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        return ClinicianUse(model_id, feedback, tuple(limitations))

    def monitoring_report(
        self,
        session: UserSession,
        model_id: str,
        *,
        run_id: str | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> ExportFile:
        """The governance report (self-contained HTML) for periods ``first``..``last``:
        checked, recorded as ``exported``, then built."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.governance_report import (
            gather_report,
            render_governance_report,
            report_file_name,
            report_record,
        )

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            content = gather_report(
                self._audit,
                bundle,
                plan_for(bundle),
                generated_by=f"{viewer.name} ({viewer.role})",
                run_id=run_id,
                first=first,
                last=last,
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record(session, "exported", audience=viewer.role, detail=report_record(content))
        data = render_governance_report(content).encode("utf-8")
        return ExportFile(report_file_name(content), "text/html", data, len(content.figures))

    def check_monitoring(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> tuple[str, ...]:
        """Judge every period against the plan now; new alerts are recorded (alert_raised)
        with this viewer as the one who checked. Returns the ids newly raised."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import check
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
            figures = list(
                iter_figures(
                    ready_engine(self._audit),
                    bundle,
                    plan,
                    simulated=run_id is not None,
                    run_id=run_id,
                    # Served from the cache only under an unchanged fingerprint: the
                    # figures judged are those a fresh computation gives.
                    cache=FiguresCache.for_store(self._audit),
                )
            )
            with self._alert_lock:  # the scheduled check may be recording the same alert
                result = check(self._audit, figures, plan, actor=viewer)
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        return result.newly_raised

    def scheduled_monitoring_check(self) -> dict[str, tuple[str, ...]]:
        """Judge every offered model's live figures and record the alerts not yet recorded,
        as the system viewer ``system:monitor-scheduler`` (no person, no click).

        Live data only: a simulated run is never judged here, and no check ever suspends a
        model (suspension is an admin's recorded action). Idempotent: an alert already
        recorded is not recorded again. A model whose figures cannot be computed is logged
        and left for the next round. Returns the alert ids newly recorded, per model.
        """
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import check
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.schedule import SCHEDULER_VIEWER
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        engine = ready_engine(self._audit)
        cache = FiguresCache.for_store(self._audit)
        raised: dict[str, tuple[str, ...]] = {}
        for model_id, bundle in self.catalogue.bundles.items():
            try:
                plan = plan_for(bundle)
                figures = list(iter_figures(engine, bundle, plan, cache=cache))
                with self._alert_lock:
                    result = check(self._audit, figures, plan, actor=SCHEDULER_VIEWER)
            except (CaseLensError, AuditError, OSError) as exc:
                _log.warning("Scheduled monitoring check of %s skipped: %s", model_id, exc)
                continue
            raised[model_id] = result.newly_raised
        return raised

    def start_monitoring_schedule(
        self, *, interval_s: float | None = None, after: Any = None
    ) -> Any:
        """Start the scheduled monitoring check in a background thread (once per workflow):
        :meth:`scheduled_monitoring_check` now and every ``interval_s`` seconds, and at once
        when a Monitoring view finds a crossing not yet recorded. Returns the scheduler."""
        from caselens.monitoring.schedule import MONITOR_CHECK_INTERVAL_S, MonitoringScheduler

        if self._scheduler is None:
            self._scheduler = MonitoringScheduler(
                self.scheduled_monitoring_check,
                interval_s=interval_s or MONITOR_CHECK_INTERVAL_S,
                after=after,
            ).start()
        return self._scheduler

    def open_alerts(self, session: UserSession) -> dict[str, tuple[Any, ...]]:
        """The monitoring alerts recorded on what was shown (not simulated), per offered
        model, newest period first: what Model status lists beside "Active"."""
        from caselens.monitoring.alerts import in_listing_order, raised_alerts

        self._require(session, "view_model_status")
        try:
            return {
                model_id: tuple(in_listing_order(raised_alerts(self._audit, model_id)))
                for model_id in self.catalogue.bundles
            }
        except (AuditError, OSError) as exc:
            raise WorkflowError(f"The monitoring alerts could not be read: {exc}") from exc
