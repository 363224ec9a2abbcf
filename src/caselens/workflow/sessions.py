"""Sign-in and the session: who is at the door, resumed, signed out."""

from __future__ import annotations

from collections.abc import Mapping

from caselens.access.accounts import SignInRefused, refused_viewer, session_expired
from caselens.access.browser_sessions import SESSION_COOKIE_REFRESH_AFTER, device_id
from caselens.access.client_identity import IPNetwork, client_identity
from caselens.access.policy import Viewer, check
from caselens.access.sign_in_throttle import SignInNotRecorded
from caselens.errors import CaseLensError
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession


class SessionsMixin(DoorBase):
    """Sign-in and the session: who is at the door, resumed, signed out."""

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
        session.launch = None  # the EHR's access token goes with the session
        return UserSession()

    def open_page(self, session: UserSession, page: str) -> Viewer:
        """The viewer, if they may open ``page``; a refusal is recorded and raised."""
        return self._require(session, "open_page", page=page)

    def may(self, session: UserSession, action: str) -> bool:
        """Whether the viewer may take ``action`` (to show or hide a control; not a check)."""
        viewer = session.viewer
        return viewer is not None and check(viewer, action).allowed
