"""Signed browser cookies and server-side sessions: a handoff is spent once, a session cookie
is refused once forged, expired, ended or past the longest lifetime, the key file is
owner-only — on SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.access.app_database import open_app_database
from caselens.access.browser_sessions import (
    HANDOFF_LIFETIME,
    SESSION_COOKIE_LIFETIME,
    SESSION_MAX_LIFETIME,
    BrowserSessions,
    SignInKeyError,
    load_sign_in_key,
    read_token,
    sign_token,
)

KEY = bytes.fromhex("33" * 32)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("new_pg_database")("browser_sessions")
    now = {"t": dt.datetime(2026, 12, 6, 9, 0)}
    store = BrowserSessions(open_app_database(tmp_path, url), KEY, clock=lambda: now["t"])
    return store, now


def test_a_handoff_gives_a_cookie_once_and_the_cookie_resumes_the_session(sessions):
    store, now = sessions
    token = store.start("s1", "dr.lee")
    cookie, max_age = store.redeem(token)
    assert max_age == SESSION_COOKIE_LIFETIME
    assert store.redeem(token) is None  # spent
    live = store.resume(cookie)
    assert (live.session_id, live.user_id, live.issued_at) == ("s1", "dr.lee", now["t"])
    assert token not in cookie and "dr.lee" not in token


def test_a_handoff_not_redeemed_in_time_gives_nothing(sessions):
    store, now = sessions
    token = store.start("s1", "dr.lee")
    now["t"] += HANDOFF_LIFETIME
    assert store.redeem(token) is None


def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(sessions):
    store, _ = sessions
    cookie, _ = store.redeem(store.start("s1", "dr.lee"))
    store.end("s1")
    assert store.resume(cookie) is None
    assert store.handoff("s1") is None  # nor can it be refreshed


def test_a_session_cookie_expires_and_a_refresh_never_passes_the_longest_lifetime(sessions):
    store, now = sessions
    cookie, _ = store.redeem(store.start("s1", "dr.lee"))
    now["t"] += SESSION_COOKIE_LIFETIME
    assert store.resume(cookie) is None  # idle past its lifetime
    # Kept active: refreshed every few minutes, until the longest lifetime from sign-in.
    while now["t"] < dt.datetime(2026, 12, 6, 9, 0) + SESSION_MAX_LIFETIME - dt.timedelta(
        minutes=10
    ):
        fresh = store.handoff("s1")
        assert fresh is not None
        cookie, max_age = store.redeem(fresh)
        assert store.resume(cookie) is not None
        now["t"] += dt.timedelta(minutes=20)
    assert max_age <= SESSION_COOKIE_LIFETIME
    now["t"] = dt.datetime(2026, 12, 6, 9, 0) + SESSION_MAX_LIFETIME
    assert store.resume(cookie) is None
    assert store.handoff("s1") is None


def test_a_cookie_for_another_user_or_from_another_key_is_refused(sessions):
    store, now = sessions
    cookie, _ = store.redeem(store.start("s1", "dr.lee"))
    forged = sign_token(
        KEY, "session", {"sid": "s1", "uid": "admin", "iat": "0"}, now["t"] + dt.timedelta(hours=1)
    )
    assert store.resume(forged) is None  # the row says whose session it is
    foreign = BrowserSessions(store._engine, bytes.fromhex("44" * 32), clock=lambda: now["t"])
    assert foreign.resume(cookie) is None


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=600)))
def test_any_cookie_text_is_a_token_or_nothing_never_an_error(value):
    now = dt.datetime(2026, 12, 6, 9, 0)
    assert read_token(KEY, "session", value, now) is None


def test_the_key_file_is_created_owner_only_and_refused_when_others_can_read_it(tmp_path):
    path = tmp_path / "keys" / "sign_in.key"
    key = load_sign_in_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o077 == 0
    assert load_sign_in_key(path) == key  # the same key on every start
    os.chmod(path, 0o644)
    with pytest.raises(SignInKeyError, match="readable by others"):
        load_sign_in_key(path)
    with pytest.raises(SignInKeyError, match="does not exist"):
        load_sign_in_key(tmp_path / "absent.key", create=False)


def test_a_session_cookie_lives_no_longer_than_the_idle_timeout():
    from caselens.access.accounts import SESSION_IDLE_TIMEOUT

    assert SESSION_COOKIE_LIFETIME == SESSION_IDLE_TIMEOUT
