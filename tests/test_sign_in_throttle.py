"""Sign-in attempts are counted atomically before the password check, on SQLite and on a real
PostgreSQL: a burst of simultaneous guesses checks at most the free attempts."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from caselens.accounts import AccountStore, SignInRefused
from caselens.app_database import open_app_database
from caselens.sign_in_throttle import FIRST_BACKOFF, FREE_ATTEMPTS, MAX_BACKOFF, backoff

GUESSES = 50


@pytest.fixture(params=["sqlite", "postgresql"])
def accounts(request, tmp_path) -> AccountStore:
    """An account store on the SQLite file, or on a fresh database of the session's PostgreSQL
    (``pg_server`` in ``conftest.py``)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("new_pg_database")("throttle")
    store = AccountStore(open_app_database(tmp_path, url))
    store.add("dr.x", name="Dr X", role="clinician", password="the right password")
    return store


def _guess(store: AccountStore, password: str) -> str:
    try:
        store.sign_in("dr.x", password, client="198.51.100.7")
    except SignInRefused as refused:
        return "throttled" if refused.throttled else "checked"
    return "signed in"


def test_simultaneous_wrong_guesses_check_at_most_the_free_attempts(accounts):
    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        outcomes = list(pool.map(lambda _: _guess(accounts, "a wrong guess"), range(GUESSES)))
    assert outcomes.count("checked") <= FREE_ATTEMPTS["pair"]
    assert outcomes.count("checked") + outcomes.count("throttled") == GUESSES


def test_the_right_password_hidden_in_a_burst_does_not_get_past_the_limit(accounts):
    # 24 simultaneous guesses, the right one last: it may be checked only within the limit.
    passwords = ["a wrong guess"] * 23 + ["the right password"]
    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        outcomes = list(pool.map(lambda p: _guess(accounts, p), passwords))
    checked = outcomes.count("checked") + outcomes.count("signed in")
    assert checked <= FREE_ATTEMPTS["pair"]


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (1, dt.timedelta(0)),
        (FREE_ATTEMPTS["pair"] - 1, dt.timedelta(0)),
        (FREE_ATTEMPTS["pair"], FIRST_BACKOFF),
        (FREE_ATTEMPTS["pair"] + 3, 8 * FIRST_BACKOFF),
        (FREE_ATTEMPTS["pair"] + 1000, MAX_BACKOFF),
    ],
)
def test_back_off_is_exponential_and_capped(attempts, expected):
    assert backoff(attempts, FREE_ATTEMPTS["pair"]) == expected
