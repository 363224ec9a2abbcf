"""Signed browser cookies: a device cookie for the sign-in throttle, a session cookie so that a
reload keeps the user signed in.

Both are HMAC-SHA256 signed with the sign-in key (a file outside the database, like the audit
key), HttpOnly, ``SameSite=Strict``, and set by the app server's own routes (``app/serve.py``),
never by page script. A session cookie reaches the browser through a one-time *handoff*: after a
recorded sign-in the workflow starts a server-side session row and a random handoff token (valid
for :data:`HANDOFF_LIFETIME`, usable once); the page asks the server route for it, which answers
with the cookie. The page never sees the cookie's value.

A session cookie lives :data:`SESSION_COOKIE_LIFETIME` (the idle timeout) and is refreshed while
the user is active, never beyond :data:`SESSION_MAX_LIFETIME` from the sign-in. Signing out ends
the server-side row, so a copied cookie is refused even before it expires.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, DateTime, Engine, String, Table, insert, select, update

from caselens.access.app_tables import APP_METADATA
from caselens.errors import CaseLensError

#: The device cookie's name and lifetime (Chrome caps a cookie at 400 days).
DEVICE_COOKIE = "caselens_device"
DEVICE_COOKIE_LIFETIME = dt.timedelta(days=400)
#: The session cookie's name; it lives as long as the idle timeout
#: (``caselens.access.accounts.SESSION_IDLE_TIMEOUT``, checked by a test) and is refreshed
#: on activity.
SESSION_COOKIE = "caselens_session"
SESSION_COOKIE_LIFETIME = dt.timedelta(minutes=30)
#: A session cookie older than this is refreshed on the user's next click.
SESSION_COOKIE_REFRESH_AFTER = dt.timedelta(minutes=5)
#: No session outlives this from its sign-in (a working shift), however active.
SESSION_MAX_LIFETIME = dt.timedelta(hours=12)
#: A handoff token must be redeemed this soon (the page asks for it at once).
HANDOFF_LIFETIME = dt.timedelta(seconds=60)
#: Longest cookie value read; anything longer is ignored unread.
MAX_COOKIE_LENGTH = 512
#: The sign-in key file's name in the data folder (``CASELENS_SIGN_IN_KEY_FILE`` overrides).
KEY_FILE_NAME = "sign_in.key"
#: Bytes of a new sign-in key.
KEY_BYTES = 32

browser_sessions = Table(
    "browser_sessions",
    APP_METADATA,
    Column("session_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=True),
    Column("handoff_digest", String(64), nullable=True, index=True),
    Column("handoff_expires", DateTime, nullable=True),
)


class SignInKeyError(CaseLensError):
    """The sign-in key is missing, malformed or readable by others."""


def load_sign_in_key(path: str | os.PathLike[str], *, create: bool = True) -> bytes:
    """The sign-in key from its file (hex), created owner-only with random bytes if missing.

    Raises
    ------
    SignInKeyError
        The file is readable by group or others, or does not hold a key.
    """
    file = Path(path)
    if not file.exists():
        if not create:
            raise SignInKeyError(f"The sign-in key file {file} does not exist.")
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server process made it first: read theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(KEY_BYTES))
    if file.stat().st_mode & 0o077:
        raise SignInKeyError(f"The sign-in key file {file} is readable by others: chmod 600 it.")
    text = file.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SignInKeyError(
            f"The sign-in key file {file} does not hold a key (expected at least 32 hex digits)."
        )
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def sign_token(key: bytes, purpose: str, payload: dict[str, str], expires: dt.datetime) -> str:
    """``<payload>.<signature>``: the payload (with its purpose and expiry) as base64 JSON, and
    an HMAC-SHA256 over it with ``key``. ``expires`` is naive UTC."""
    body = json.dumps(
        {**payload, "purpose": purpose, "exp": _epoch(expires)}, sort_keys=True
    ).encode("utf-8")
    signature = hmac.new(key, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(signature)}"


def read_token(key: bytes, purpose: str, value: str | None, now: dt.datetime) -> dict | None:
    """The payload of a token signed with ``key`` for ``purpose`` and not yet expired, else
    None (a forged, altered, foreign, expired or over-long value is simply not a token)."""
    if not value or len(value) > MAX_COOKIE_LENGTH or value.count(".") != 1:
        return None
    body_text, signature_text = value.split(".")
    try:
        body = _unb64(body_text)
        signature = _unb64(signature_text)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), signature):
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("purpose") != purpose:
        return None
    expires = payload.get("exp")
    if not isinstance(expires, int) or expires <= _epoch(now):
        return None
    return payload


def new_device_cookie(key: bytes, now: dt.datetime) -> str:
    """A fresh signed device cookie with a random device id."""
    return sign_token(
        key, "device", {"device": secrets.token_hex(16)}, now + DEVICE_COOKIE_LIFETIME
    )


def device_id(key: bytes, value: str | None, now: dt.datetime) -> str | None:
    """The device id in a genuine, unexpired device cookie, else None."""
    payload = read_token(key, "device", value, now)
    device = payload.get("device") if payload else None
    return device if isinstance(device, str) and len(device) == 32 else None


@dataclass(frozen=True)
class LiveSession:
    """A signed-in browser session read back from its cookie."""

    session_id: str
    user_id: str
    #: When the cookie was issued (naive UTC): older than the refresh age, it is refreshed.
    issued_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class BrowserSessions:
    """Server-side rows of signed-in browser sessions, in the app database."""

    def __init__(
        self, engine: Engine, key: bytes, *, clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock
        APP_METADATA.create_all(engine, tables=[browser_sessions])

    def start(self, session_id: str, user_id: str) -> str:
        """A new signed-in session row and its first handoff token."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(
                insert(browser_sessions).values(
                    session_id=session_id,
                    user_id=user_id,
                    started_at=now,
                    ended_at=None,
                    handoff_digest=_digest(token),
                    handoff_expires=now + HANDOFF_LIFETIME,
                )
            )
        return token

    def handoff(self, session_id: str) -> str | None:
        """A new handoff token for a live session (to refresh its cookie), else None."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        s = browser_sessions.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(browser_sessions)
                .where(s.session_id == session_id)
                .where(s.ended_at.is_(None))
                .where(s.started_at > now - SESSION_MAX_LIFETIME)
                .values(handoff_digest=_digest(token), handoff_expires=now + HANDOFF_LIFETIME)
            )
        return token if changed.rowcount else None

    def redeem(self, token: str | None) -> tuple[str, dt.timedelta] | None:
        """The session cookie (value and max-age) for an unused, unexpired handoff token of a
        live session; the token is spent. None for anything else."""
        if not token or len(token) > MAX_COOKIE_LENGTH:
            return None
        now = self._clock()
        s = browser_sessions.c
        with self._engine.begin() as conn:
            row = conn.execute(
                update(browser_sessions)
                .where(s.handoff_digest == _digest(token))
                .where(s.handoff_expires > now)
                .where(s.ended_at.is_(None))
                .values(handoff_digest=None, handoff_expires=None)
                .returning(s.session_id, s.user_id, s.started_at)
            ).first()
        if row is None:
            return None
        expires = min(now + SESSION_COOKIE_LIFETIME, row.started_at + SESSION_MAX_LIFETIME)
        if expires <= now:
            return None
        value = sign_token(
            self._key,
            "session",
            {"sid": row.session_id, "uid": row.user_id, "iat": str(_epoch(now))},
            expires,
        )
        return value, expires - now

    def resume(self, cookie: str | None) -> LiveSession | None:
        """The live session a genuine, unexpired session cookie names, else None (ended,
        forged, expired, past the longest lifetime)."""
        now = self._clock()
        payload = read_token(self._key, "session", cookie, now)
        if payload is None:
            return None
        session_id, user_id = payload.get("sid"), payload.get("uid")
        if not isinstance(session_id, str) or not isinstance(user_id, str):
            return None
        s = browser_sessions.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(s.user_id)
                .where(s.session_id == session_id)
                .where(s.ended_at.is_(None))
                .where(s.started_at > now - SESSION_MAX_LIFETIME)
            ).first()
        if row is None or row.user_id != user_id:
            return None
        try:
            issued = dt.datetime.fromtimestamp(int(payload.get("iat", "0")), dt.UTC)
        except (TypeError, ValueError, OverflowError):
            return None
        return LiveSession(session_id, user_id, issued.replace(tzinfo=None))

    def end(self, session_id: str) -> None:
        """Sign-out: the session's cookie is refused from now on, wherever it was copied."""
        now = self._clock()
        s = browser_sessions.c
        with self._engine.begin() as conn:
            conn.execute(
                update(browser_sessions)
                .where(s.session_id == session_id)
                .where(s.ended_at.is_(None))
                .values(ended_at=now, handoff_digest=None, handoff_expires=None)
            )
