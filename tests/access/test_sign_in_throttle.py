"""Sign-in attempts are counted atomically before the password check, on SQLite and on a real
PostgreSQL: a burst of simultaneous guesses checks at most the free attempts. The throttle
cannot be turned against users: no shared bucket, the owner's known-good client is not refused
for strangers' failures, no attempt is lost to a busy database, nothing typed is kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine

from caselens.access.accounts import AccountStore, SignInRefused
from caselens.access.app_database import open_app_database
from caselens.access.sign_in_throttle import (
    FIRST_BACKOFF,
    FREE_ATTEMPTS,
    KNOWN_CLIENT_FOR,
    MAX_BACKOFF,
    SignInNotRecorded,
    SignInThrottle,
    backoff,
)

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


# -- a throttle that cannot be turned against users ------------------------------------------


@pytest.fixture()
def clocked(tmp_path):
    """An SQLite account store on a settable clock, with one account."""
    now = {"t": dt.datetime(2026, 12, 6, 9, 0)}
    store = AccountStore(open_app_database(tmp_path), clock=lambda: now["t"])
    store.add("dr.x", name="Dr X", role="clinician", password="the right password")
    return store, now


def _attempt(store: AccountStore, user: str, password: str, client: str | None) -> str:
    try:
        store.sign_in(user, password, client=client)
    except SignInRefused as refused:
        return "throttled" if refused.throttled else "checked"
    return "signed in"


def test_one_client_guessing_made_up_names_blocks_nobody_else(clocked):
    store, _ = clocked
    stranger = "device:" + "a" * 32
    outcomes = [
        _attempt(store, f"made.up{i}", "a wrong guess", stranger)
        for i in range(FREE_ATTEMPTS["client"] + 3)
    ]
    assert outcomes[-1] == "throttled"  # the guessing client itself is backing off
    # Another browser (its own device cookie) and a client with no identity at all (throttled
    # per account only) still sign in with the right password: no shared bucket.
    assert _attempt(store, "dr.x", "the right password", "device:" + "b" * 32) == "signed in"
    assert _attempt(store, "dr.x", "the right password", None) == "signed in"
    # ... and even the guessing browser, which never failed on this account's pair.
    assert store.blocked_until("dr.x") is None


def test_a_distributed_attack_does_not_refuse_the_owner_on_a_known_good_client(clocked):
    store, now = clocked
    owner = "device:" + "0" * 32
    assert _attempt(store, "dr.x", "the right password", owner) == "signed in"
    now["t"] += dt.timedelta(minutes=1)
    outcomes = [
        _attempt(store, "dr.x", "a wrong guess", f"addr:203.0.113.{i}")
        for i in range(FREE_ATTEMPTS["account"] + 5)
    ]
    assert outcomes[-1] == "throttled"  # the account is backing off for unknown clients
    assert _attempt(store, "dr.x", "the right password", "device:" + "9" * 32) == "throttled"
    assert _attempt(store, "dr.x", "the right password", None) == "throttled"
    # The owner's own browser signed in before: the strangers' failures do not refuse it.
    assert _attempt(store, "dr.x", "the right password", owner) == "signed in"


def test_a_known_good_client_is_still_stopped_by_its_own_failures(clocked):
    store, _ = clocked
    owner = "device:" + "0" * 32
    assert _attempt(store, "dr.x", "the right password", owner) == "signed in"
    for _ in range(FREE_ATTEMPTS["pair"]):
        assert _attempt(store, "dr.x", "a wrong guess", owner) == "checked"
    assert _attempt(store, "dr.x", "the right password", owner) == "throttled"


def test_a_client_stays_known_good_only_for_a_while(clocked):
    store, now = clocked
    owner = "device:" + "0" * 32
    assert _attempt(store, "dr.x", "the right password", owner) == "signed in"
    assert store.is_known_good("dr.x", owner)
    assert not store.is_known_good("dr.x", None)
    now["t"] += KNOWN_CLIENT_FOR + dt.timedelta(seconds=1)
    assert not store.is_known_good("dr.x", owner)


def test_nothing_typed_as_a_user_name_is_stored_unless_it_is_an_account(tmp_path):
    store = AccountStore(open_app_database(tmp_path))
    store.add("dr.x", name="Dr X", role="clinician", password="the right password")
    typed_password = "Hunter2.MySecret"  # a password typed into the user-name field
    with pytest.raises(SignInRefused) as refused:
        store.sign_in(typed_password, "whatever", client="device:" + "c" * 32)
    with pytest.raises(SignInRefused):
        store.sign_in("dr.x", "a wrong guess", client="device:" + "c" * 32)
    dump = _database_text(tmp_path / "app.sqlite")
    assert typed_password.lower() not in dump.lower()
    assert "dr.x" in dump  # an account's own name is kept: it is not a secret
    # The audit's stand-in is a keyed digest: without the store's key, an unkeyed hash of a
    # guessed password does not match it.
    unkeyed = hashlib.sha256(typed_password.encode()).hexdigest()[:12]
    assert refused.value.typed_digest != unkeyed
    assert typed_password not in repr(vars(refused.value))


def _database_text(path) -> str:
    """Every value in every table of an SQLite file, as one text."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')
        )


SIMULTANEOUS = 80


def test_simultaneous_attempts_on_sqlite_are_all_counted_or_refused_in_words(tmp_path):
    # 80 attempts at once, each on its own engine (as from separate server processes): none may
    # be lost to "database is locked". Each is counted and checked, refused by the back-off,
    # or (only if the database truly stays busy) refused unchecked with a message.
    AccountStore(open_app_database(tmp_path)).add(
        "dr.x", name="Dr X", role="clinician", password="the right password"
    )
    stores = [AccountStore(open_app_database(tmp_path)) for _ in range(SIMULTANEOUS)]
    start = threading.Barrier(SIMULTANEOUS)

    def attempt(i: int) -> str:
        start.wait()
        try:
            stores[i].sign_in("dr.x", "a wrong guess", client=f"addr:198.51.100.{i}")
        except SignInRefused as refused:
            return "throttled" if refused.throttled else "checked"
        except SignInNotRecorded as busy:
            return f"not recorded: {busy}"
        return "signed in"

    with ThreadPoolExecutor(max_workers=SIMULTANEOUS) as pool:
        outcomes = list(pool.map(attempt, range(SIMULTANEOUS)))
    assert set(outcomes) <= {"checked", "throttled"}, Counter(outcomes)
    with sqlite3.connect(tmp_path / "app.sqlite") as conn:
        counted = conn.execute(
            "SELECT attempts FROM sign_in_throttle WHERE subject = 'account:dr.x'"
        ).fetchone()[0]
    # Every checked attempt was counted against the account; the rest were refused unchecked.
    assert counted == outcomes.count("checked") >= FREE_ATTEMPTS["account"]


def test_an_attempt_that_cannot_be_counted_is_refused_unchecked_with_words(tmp_path):
    store = AccountStore(open_app_database(tmp_path))
    store.add("dr.x", name="Dr X", role="clinician", password="the right password")
    # This server's connection gives up on a busy database at once (so the test is quick).
    store.throttle = SignInThrottle(
        create_engine(f"sqlite:///{tmp_path / 'app.sqlite'}", connect_args={"timeout": 0.01}),
        clock=lambda: dt.datetime(2026, 12, 6, 9, 0),
    )
    blocker = sqlite3.connect(tmp_path / "app.sqlite", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock throughout
    try:
        with pytest.raises(SignInNotRecorded, match="could not be recorded, so it was not"):
            store.sign_in("dr.x", "the right password", client=None)
    finally:
        blocker.rollback()
        blocker.close()
    assert store.sign_in("dr.x", "the right password").user_id == "dr.x"  # free again
