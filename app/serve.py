"""The server CaseLens runs as: Streamlit's app (``streamlit_app.py``) plus the two small
routes and one middleware that set CaseLens's HttpOnly cookies, which page script cannot.

- Every page load without a genuine device cookie gets a fresh signed one (the sign-in
  throttle's client identity, :mod:`caselens.access.client_identity`).
- ``/_caselens/session?handoff=…`` spends a one-time handoff token (made by the workflow at a
  recorded sign-in, or to refresh an active session) and answers with the signed session
  cookie, so a reload keeps the user signed in; the page loads it as a 1×1 image.
- ``/_caselens/session/clear`` expires the session cookie (after sign-out or when it is no
  longer valid; the server has already ended the session, so this only tidies the browser).
- ``/_caselens/launch`` (``?iss=…&launch=…`` from the EHR, or nothing from the sign-in page)
  starts a SMART launch through the pages' own workflow and redirects this tab to the EHR's
  sign-in (a Streamlit page cannot redirect); a refusal goes to the sign-in page with a code.

Run with ``streamlit run app/serve.py`` (``make run`` does).
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:  # a plain checkout without the editable install
    sys.path.append(_SRC)
# The pages' own modules (services: the runtime they share), first as streamlit_app.py has it.
_APP_DIR = str(Path(__file__).resolve().parent)
if _APP_DIR not in sys.path:
    sys.path.insert(0, _APP_DIR)

from caselens.access import (  # noqa: E402  # noqa: E402
    DEVICE_COOKIE,
    DEVICE_COOKIE_LIFETIME,
    SESSION_COOKIE,
    BrowserSessions,
    SignInKeyError,
    device_id,
    is_trusted_proxy,
    new_device_cookie,
    parse_trusted_proxies,
)
from caselens.fhir import LAUNCH_ROUTE  # noqa: E402
from caselens.runtime import Runtime  # noqa: E402
from caselens.settings import Settings, SettingsError  # noqa: E402
from caselens.workflow import SmartStartRefused, UserSession  # noqa: E402

#: A transparent 1×1 GIF: what the handoff "image" is.
_PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_STORE = {"Cache-Control": "no-store"}
#: The sign-in page's query parameter carrying a launch refusal's code (never words).
SMART_ERROR_PARAM = "smart_error"
#: Longest launch parameter read (the door bounds ``launch`` again; ``iss`` is only compared).
MAX_LAUNCH_PARAM_CHARS = 4_096


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@functools.cache
def _runtime() -> Runtime:
    # Only the app database and the sign-in key are used here: no background work.
    return Runtime.from_settings(Settings.from_environment(), background=False)


def _settings() -> Settings:
    return _runtime().settings


def _key() -> bytes:
    return _runtime().sign_in_key


@functools.cache
def _sessions() -> BrowserSessions:
    return BrowserSessions(_runtime().app_database, _key())


def _secure(scope: Scope, headers: dict[str, str]) -> bool:
    """Whether the browser reached us over HTTPS (directly, or as a trusted proxy says)."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    proxies = parse_trusted_proxies(_settings().trusted_proxies)
    via_proxy = client is not None and is_trusted_proxy(client[0], proxies)
    return via_proxy and headers.get("x-forwarded-proto", "").lower() == "https"


def _cookie_header(
    name: str, value: str, max_age: dt.timedelta, *, secure: bool, same_site: str = "Strict"
) -> bytes:
    attributes = [
        f"{name}={value}",
        "Path=/",
        f"Max-Age={max(0, int(max_age.total_seconds()))}",
        "HttpOnly",
        f"SameSite={same_site}",
    ]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes).encode("ascii")


def _request_cookies(scope: Scope) -> dict[str, str]:
    return Request(scope).cookies


class DeviceCookie:
    """Give every browser that loads a page a signed device cookie, if it has none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        now = _utcnow()
        try:
            key = _key()
        except (SettingsError, SignInKeyError):
            # The operator's to fix: the page itself says what is wrong (app/session.py);
            # answering every request with an error would hide that message.
            await self.app(scope, receive, send)
            return
        if device_id(key, _request_cookies(scope).get(DEVICE_COOKIE), now) is not None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookie = _cookie_header(
            DEVICE_COOKIE,
            new_device_cookie(key, now),
            DEVICE_COOKIE_LIFETIME,
            secure=_secure(scope, headers),
            # Lax: a link from the EHR (another site) must not make the browser look new.
            same_site="Lax",
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):  # the page itself, not its assets
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _pixel(*cookies: bytes) -> Response:
    response = Response(_PIXEL, media_type="image/gif", headers=_NO_STORE)
    for cookie in cookies:
        response.raw_headers.append((b"set-cookie", cookie))
    return response


async def session_cookie(request: Request) -> Response:
    """Spend a handoff token; answer with the signed session cookie (or nothing)."""
    redeemed = _sessions().redeem(request.query_params.get("handoff"))
    if redeemed is None:
        return _pixel()
    value, max_age = redeemed
    secure = _secure(request.scope, dict(request.headers))
    return _pixel(_cookie_header(SESSION_COOKIE, value, max_age, secure=secure))


async def clear_session_cookie(request: Request) -> Response:
    """Expire the session cookie in this browser."""
    secure = _secure(request.scope, dict(request.headers))
    return _pixel(_cookie_header(SESSION_COOKIE, "", dt.timedelta(0), secure=secure))


def _pages_services() -> ModuleType:
    # The pages' runtime (app/services.py, cached per process): a launch started here must be
    # pending in the very workflow whose page completes it at the redirect back (``/launch``).
    import services

    return services


def _launch_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value[:MAX_LAUNCH_PARAM_CHARS] if value else None


def smart_launch(request: Request) -> Response:
    """Start a SMART launch for this browser and send it to the EHR's sign-in (302), or to the
    sign-in page with the refusal's code (303). A browser without a device cookie gets one
    here: the launch is bound to it. (Sync: starlette runs it in a worker thread.)"""
    # Relative: the app's root, however the server is reached or mounted.
    sign_in = "../"
    services = _pages_services()
    now = _utcnow()
    try:
        key = services.sign_in_key()
        door = services.workflow()
    except (SettingsError, SignInKeyError):
        return RedirectResponse(sign_in, status_code=303, headers=_NO_STORE)  # the page says why
    cookie = request.cookies.get(DEVICE_COOKIE)
    fresh = None
    if device_id(key, cookie, now) is None:
        cookie = new_device_cookie(key, now)
        secure = _secure(request.scope, dict(request.headers))
        # Lax: the EHR's redirect back (another site) must bring it.
        fresh = _cookie_header(
            DEVICE_COOKIE, cookie, DEVICE_COOKIE_LIFETIME, secure=secure, same_site="Lax"
        )
    try:
        url = door.start_smart_sign_in(
            UserSession(),
            device_cookie=cookie,
            launch=_launch_param(request, "launch"),
            iss=_launch_param(request, "iss"),
        )
        response = RedirectResponse(url, status_code=302, headers=_NO_STORE)
    except SmartStartRefused as refused:
        query = urlencode({SMART_ERROR_PARAM: refused.code})
        response = RedirectResponse(f"{sign_in}?{query}", status_code=303, headers=_NO_STORE)
    if fresh is not None:
        response.raw_headers.append((b"set-cookie", fresh))
    return response


app = st.App(
    "streamlit_app.py",
    routes=[
        Route("/_caselens/session", session_cookie, methods=["GET"]),
        Route("/_caselens/session/clear", clear_session_cookie, methods=["GET"]),
        Route(LAUNCH_ROUTE, smart_launch, methods=["GET"]),
    ],
    middleware=[Middleware(DeviceCookie)],
)
