"""Sign-in with the EHR (SMART App Launch): the launch started, completed, recorded; the
launched patient's record read with the clinician's own access token.

:meth:`SmartSignInMixin.start_smart_sign_in` answers an EHR launch (``launch`` + ``iss``) or
the sign-in page's button with the EHR's authorize URL, and keeps the launch's state and PKCE
verifier here, on the server, bound to the browser's signed device cookie: the redirect back
opens a new app session, so the tab's session cannot hold them. A pending launch is used once
and expires. :meth:`SmartSignInMixin.complete_smart_sign_in` takes it back by ``state``,
checks the browser and its age, lets the engine (:mod:`caselens.fhir.smart_launch`) exchange
the code and verify the id_token, and signs the mapped clinician in exactly as a password
does (``sign_in``, detail ``method: smart``), with the patient in context on the session.
Every refusal is recorded (``sign_in_refused``, with the reason) and raised; nothing is
half signed in. The access token is used only by :meth:`SmartSignInMixin.case_from_launch`
and is never recorded, shown or kept past the session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from dataclasses import dataclass
from typing import NoReturn

from caselens.access.browser_sessions import device_id
from caselens.access.policy import Viewer
from caselens.errors import CaseLensError
from caselens.explain.cases import RecordSources
from caselens.explain.cases.record_sources import cut
from caselens.fhir import (
    BearerToken,
    PendingLaunch,
    SmartLaunchConfig,
    begin_launch,
    case_from_record,
    complete_launch,
    fetch_patient_record,
)
from caselens.fhir.smart_launch import MAX_PENDING_S, SmartLaunchError
from caselens.workflow.errors import WorkflowError
from caselens.workflow.record_intake import RecordIntakeMixin
from caselens.workflow.records import LaunchContext, UserSession

#: Launches in progress kept at once on one server (each is a few hundred bytes; a bound so a
#: flood of launch links cannot fill memory). Expired ones are dropped first.
MAX_PENDING_LAUNCHES = 1_000
#: The only role that may open CaseLens from the EHR: the launch shows a patient's case.
LAUNCH_ROLE = "clinician"
#: The scope a standalone launch (from the sign-in page) asks instead of ``launch``: the EHR
#: asks the clinician which patient.
STANDALONE_CONTEXT_SCOPE = "launch/patient"
#: Longest OAuth ``error`` code kept from the EHR's redirect (RFC 6749 codes are short words).
MAX_ERROR_CODE_CHARS = 60
#: The words before every refusal, so a person knows which sign-in failed.
REFUSED = "Sign-in with the EHR was refused:"


#: Why a launch could not start, as a short code a redirect may carry to the sign-in page
#: (which asks :meth:`SmartSignInMixin.smart_start_refusal` for the words: no text from the
#: address is ever shown).
START_REFUSAL_CODES = ("not_set_up", "no_cookie", "other_ehr", "bad_launch", "busy")


class SmartStartRefused(WorkflowError):
    """A launch could not start; ``code`` is one of :data:`START_REFUSAL_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Pending:
    """A launch in progress: the engine's pending launch, the settings it was started with
    and the device id of the browser that started it."""

    launch: PendingLaunch
    config: SmartLaunchConfig
    browser: str


class SmartSignInMixin(RecordIntakeMixin):
    """Sign-in with the EHR (SMART App Launch) and the launched patient's record."""

    #: The EHR CaseLens is registered with, or None (set by :meth:`configure_smart_sign_in`).
    _smart: SmartLaunchConfig | None = None
    #: Why the SMART settings could not be used (shown on the sign-in page), or None.
    smart_problem: str | None = None

    def configure_smart_sign_in(
        self, config: SmartLaunchConfig | None, *, problem: str | None = None
    ) -> None:
        """Offer sign-in with this EHR (``caselens.fhir.smart_config_from_settings``), or
        none; ``problem`` says why settings that were given cannot be used."""
        self._smart = config
        self.smart_problem = problem
        self._smart_pending: dict[str, _Pending] = {}
        self._smart_lock = threading.Lock()

    @property
    def smart_sign_in_available(self) -> bool:
        """Whether sign-in with the EHR is configured (and its settings usable)."""
        return self._smart is not None

    @property
    def smart_issuer(self) -> str | None:
        """The configured EHR's FHIR base (a standalone launch's ``iss``), or None."""
        return self._smart.issuer if self._smart is not None else None

    def _smart_config(self) -> SmartLaunchConfig:
        if self._smart is None:
            raise SmartStartRefused("not_set_up", self.smart_start_refusal("not_set_up") or "")
        return self._smart

    def smart_start_refusal(self, code: str) -> str | None:
        """The words for a start refusal's code (:data:`START_REFUSAL_CODES`), or None for a
        code that is none of them (an address someone edited)."""
        issuer = self._smart.issuer if self._smart is not None else "the configured EHR"
        words = {
            "not_set_up": "Sign-in with the EHR is not set up on this server"
            + (f": {self.smart_problem}" if self.smart_problem else "."),
            "no_cookie": f"{REFUSED} this browser did not send CaseLens's cookie; allow cookies "
            "for this site and launch again.",
            "other_ehr": f"{REFUSED} the launch's 'iss' is not the configured EHR; CaseLens "
            f"only launches from {issuer}.",
            "bad_launch": f"{REFUSED} the launch's 'launch' parameter is empty or too long.",
            "busy": f"{REFUSED} too many sign-ins are in progress on this server; try again "
            "in a few minutes.",
        }
        return words.get(code)

    def _browser(self, device_cookie: str | None) -> str | None:
        return device_id(self._accounts.key, device_cookie, self._clock())

    def start_smart_sign_in(
        self,
        session: UserSession,
        *,
        device_cookie: str | None,
        launch: str | None = None,
        iss: str | None = None,
    ) -> str:
        """The EHR's authorize URL for this browser; the launch is kept here until it returns.

        ``launch`` and ``iss`` are an EHR launch's parameters; without them it is a standalone
        launch of the configured EHR (the EHR asks which patient).

        Raises
        ------
        SmartStartRefused
            No SMART settings, no genuine device cookie (cookies blocked), an ``iss`` that is
            not the configured EHR, a bad ``launch``, or too many launches in progress (its
            ``code`` says which).
        """
        config = self._smart_config()
        browser = self._browser(device_cookie)
        if browser is None:
            self._refuse_start("no_cookie")
        if launch is None:
            scopes = tuple(STANDALONE_CONTEXT_SCOPE if s == "launch" else s for s in config.scopes)
            config = dataclasses.replace(config, scopes=scopes)
        now = self._clock()
        try:
            url, pending = begin_launch(config, launch=launch, iss=iss or config.issuer, now=now)
        except SmartLaunchError:
            # The engine refuses only the issuer or the launch parameter here (the settings
            # were checked when configured); which one decides the words.
            other = (iss or config.issuer).rstrip("/") != config.issuer.rstrip("/")
            self._refuse_start("other_ehr" if other else "bad_launch")
        with self._smart_lock:
            self._drop_expired(now)
            if len(self._smart_pending) >= MAX_PENDING_LAUNCHES:
                self._refuse_start("busy")
            self._smart_pending[pending.state] = _Pending(pending, config, browser)
        return url

    def _refuse_start(self, code: str) -> NoReturn:
        raise SmartStartRefused(code, self.smart_start_refusal(code) or code)

    def _drop_expired(self, now: dt.datetime) -> None:
        limit = dt.timedelta(seconds=MAX_PENDING_S)
        old = [s for s, p in self._smart_pending.items() if now - p.launch.started_at > limit]
        for state in old:
            del self._smart_pending[state]

    def complete_smart_sign_in(
        self,
        session: UserSession,
        *,
        device_cookie: str | None,
        state: str,
        code: str | None = None,
        error: str | None = None,
    ) -> Viewer:
        """Sign in the clinician the EHR names, with the patient in context, once every check
        holds: the launch (by ``state``, used once) was started in this browser within
        ``MAX_PENDING_S``, the EHR authorized it (no ``error``), the engine's code exchange,
        id_token and scope checks pass, and ``fhirUser`` maps to a clinician's account.

        Recorded as ``sign_in`` (detail: method ``smart``, the ``fhirUser``, the EHR and the
        patient in context, the granted scopes; never the token).

        Raises
        ------
        WorkflowError
            Saying which check failed; the refusal is recorded first (``sign_in_refused``
            with ``reason``), and the session stays signed out.
        """
        kept = self._returned_launch(session, device_cookie=device_cookie, state=state, error=error)
        try:
            result = complete_launch(
                kept.config, kept.launch, code=code or "", state=state, now=self._clock()
            )
        except SmartLaunchError as exc:
            reason = "unknown_fhir_user" if exc.fhir_user else "launch_refused"
            self._refuse(session, reason, str(exc), fhir_user=exc.fhir_user)
        try:
            viewer = self._accounts.get(result.user_id).viewer()
        except CaseLensError:
            self._refuse(
                session,
                "no_account",
                f"the EHR's user {result.fhir_user!r} is mapped to {result.user_id!r}, "
                "which is no CaseLens account.",
                fhir_user=result.fhir_user,
            )
        if viewer.role != LAUNCH_ROLE:
            self._refuse(
                session,
                "not_a_clinician",
                f"the EHR's user {result.fhir_user!r} is a CaseLens {viewer.role}; only "
                "clinicians open CaseLens from the EHR.",
                fhir_user=result.fhir_user,
            )
        self._record(
            session,
            "sign_in",
            audience=viewer.role,
            viewer=viewer,
            detail={
                "method": "smart",
                "fhir_user": result.fhir_user,
                "iss": kept.config.issuer,
                "launch_patient_id": result.patient_id,
                "scopes": list(result.granted_scopes),
            },
        )
        session.viewer = viewer
        session.last_activity = self._clock()
        session.cookie_handoff = self._accounts.sessions.start(session.session_id, viewer.user_id)
        session.cookie_issued = session.last_activity
        session.launch = LaunchContext(
            result.patient_id, result.fhir_user, kept.config.issuer, result.access_token
        )
        return viewer

    def _returned_launch(
        self, session: UserSession, *, device_cookie: str | None, state: str, error: str | None
    ) -> _Pending:
        """The pending launch ``state`` names, taken (used once), once it was started in this
        browser, in time, and the EHR authorized it; else the refusal, recorded and raised."""
        self._smart_config()
        if session.viewer is not None:
            raise WorkflowError(f"{REFUSED} this tab is signed in already; sign out first.")
        with self._smart_lock:
            kept = self._smart_pending.pop(state, None) if isinstance(state, str) else None
        if kept is None:
            self._refuse(
                session,
                "unknown_state",
                "this sign-in was not started here or was already used; start it again.",
            )
        if self._browser(device_cookie) != kept.browser:
            self._refuse(
                session,
                "other_browser",
                "it was started in another browser; start it again from this one.",
            )
        age = (self._clock() - kept.launch.started_at).total_seconds()
        if age > MAX_PENDING_S:
            self._refuse(
                session,
                "expired",
                f"it was started {age:.0f} s ago, more than {MAX_PENDING_S} s; start it again.",
            )
        if error is not None:
            said = cut(str(error), MAX_ERROR_CODE_CHARS)
            self._refuse(session, "ehr_refused", f"the EHR did not authorize it ({said!r}).")
        return kept

    def _refuse(
        self, session: UserSession, reason: str, message: str, *, fhir_user: str | None = None
    ) -> NoReturn:
        """Record a refused sign-in with the EHR (under the EHR's user when known), then
        raise it; whoever was signed in on this session stays signed out."""
        who = Viewer(
            user_id=f"smart:{fhir_user or 'unknown'}", name="(not signed in)", role="anonymous"
        )
        detail = {"method": "smart", "reason": reason, "message": cut(message, 500)}
        if fhir_user:
            detail["fhir_user"] = fhir_user
        self._record(session, "sign_in_refused", audience="system", viewer=who, detail=detail)
        raise WorkflowError(f"{REFUSED} {message}")

    def launched_patient(self, session: UserSession) -> str | None:
        """The FHIR id of the patient the EHR launched CaseLens for, on this session."""
        return session.launch.patient_id if session.launch is not None else None

    def case_from_launch(
        self, session: UserSession, model_id: str, *, case_date: dt.date
    ) -> RecordSources:
        """Read the launched patient's record from the EHR's FHIR server with the clinician's
        access token, into this model's inputs, exactly as ``case_from_server`` reads it
        (recorded first as ``record_read``, naming the server, never the token).

        Raises
        ------
        WorkflowError
            Not a clinician, a suspended model, no launch on this session, a case date in
            the future, or the server's refusal in words.
        """
        self._require(session, "view_report")
        bundle = self._active_bundle(model_id)
        launch = session.launch
        if launch is None:
            raise WorkflowError(
                "No patient from the EHR on this session: open CaseLens from the EHR again."
            )
        self._check_case_date(case_date)
        try:
            token = BearerToken(launch.access_token)
            record = fetch_patient_record(
                launch.iss, launch.patient_id, bundle.features, auth=token
            )
            intake = case_from_record(
                bundle.features, record, case_date=case_date, patient_id=launch.patient_id
            )
        except CaseLensError as exc:
            raise WorkflowError(f"Patient record from {launch.iss}: {exc}") from exc
        return self._recorded_intake(
            session, bundle, intake, {"server": launch.iss, "launch": "smart"}
        )
