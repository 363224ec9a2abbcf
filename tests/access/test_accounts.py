"""Local accounts: argon2 hashes, generic refusals, back-off, lockout, session expiry — on the
default SQLite file and on a real PostgreSQL (the same code, by URL)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from caselens.access.accounts import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    MAX_USER_ID_LENGTH,
    SESSION_IDLE_TIMEOUT,
    SIGN_IN_REFUSED,
    AccountError,
    AccountStore,
    SignInRefused,
    seed_demo_accounts,
    session_expired,
    users,
)
from caselens.access.app_database import APP_DATABASE_FILE, open_app_database
from caselens.access.policy import ROLES
from caselens.access.sign_in_throttle import FIRST_BACKOFF, FREE_ATTEMPTS


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db_url(request) -> str | None:
    """The app database: None (the SQLite file in the data folder) or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("new_pg_database")("accounts")


@pytest.fixture()
def store(tmp_path, clock, app_db_url):
    return AccountStore(open_app_database(tmp_path, app_db_url), clock=clock)


def test_app_database_file_is_owner_only(tmp_path):
    open_app_database(tmp_path)
    assert (tmp_path / APP_DATABASE_FILE).stat().st_mode & 0o077 == 0


def test_passwords_are_stored_as_argon2_hashes(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    with store._engine.connect() as conn:
        stored = conn.execute(users.select()).first().password_hash
    assert stored.startswith("$argon2id$") and "long enough pw" not in stored
    assert store.sign_in("dr.x", "long enough pw").role == "clinician"


def test_wrong_password_unknown_user_and_back_off_get_the_same_message(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    messages = set()
    for user, password in [("dr.x", "nope nope nope"), ("nobody", "nope nope nope")]:
        with pytest.raises(SignInRefused) as refused:
            store.sign_in(user, password)
        messages.add(str(refused.value))
    for _ in range(FREE_ATTEMPTS["pair"] + 1):
        with pytest.raises(SignInRefused) as refused:
            store.sign_in("dr.x", "wrong password", client="10.0.0.9")
        messages.add(str(refused.value))
    assert refused.value.throttled  # the last one was backing off: same words
    assert messages == {SIGN_IN_REFUSED}


def test_refusals_say_for_the_record_only_whether_the_name_was_an_account(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    with pytest.raises(SignInRefused) as known:
        store.sign_in("dr.x", "wrong password")
    assert known.value.known_user == "dr.x"
    with pytest.raises(SignInRefused) as typed_password:
        store.sign_in("long enough pw", "x")  # a password typed into the name field
    assert typed_password.value.known_user is None
    assert "long enough pw" not in repr(vars(typed_password.value))
    assert len(typed_password.value.typed_digest) == 12


def test_failures_back_off_exponentially_from_this_client_and_success_clears(store, clock):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused) as refused:
            store.sign_in("dr.x", "wrong password", client="a")
        assert not refused.value.throttled
    with pytest.raises(SignInRefused) as refused:
        store.sign_in("dr.x", "long enough pw", client="a")  # even the right password waits
    assert refused.value.throttled
    assert store.get("dr.x").locked_until == clock.now + FIRST_BACKOFF
    # The owner at another address is not locked out by a stranger's guesses.
    assert store.sign_in("dr.x", "long enough pw", client="b").user_id == "dr.x"
    # Success clears the account's own count and b's, not the back-off of the client that
    # failed (it may be a stranger's): a still waits, and is let through once it ends.
    assert store.get("dr.x").locked_until == clock.now + FIRST_BACKOFF
    with pytest.raises(SignInRefused) as refused:
        store.sign_in("dr.x", "long enough pw", client="a")
    assert refused.value.throttled
    clock.now += FIRST_BACKOFF
    assert store.sign_in("dr.x", "long enough pw", client="a").user_id == "dr.x"
    assert store.get("dr.x").locked_until is None


def test_the_back_off_doubles_and_then_lets_one_attempt_through(store, clock):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            store.sign_in("dr.x", "wrong password", client="a")
    clock.now += FIRST_BACKOFF
    with pytest.raises(SignInRefused) as refused:
        store.sign_in("dr.x", "wrong password", client="a")
    assert not refused.value.throttled  # checked, and wrong
    assert store.get("dr.x").locked_until == clock.now + 2 * FIRST_BACKOFF
    clock.now += 2 * FIRST_BACKOFF
    assert store.sign_in("dr.x", "long enough pw", client="a").user_id == "dr.x"


def test_an_administrator_unlock_clears_the_back_off(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            store.sign_in("dr.x", "wrong password", client="a")
    assert store.get("dr.x").locked_until is not None
    store.unlock("dr.x")
    assert store.get("dr.x").locked_until is None
    assert store.sign_in("dr.x", "long enough pw", client="a").user_id == "dr.x"


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("x" * (MAX_USER_ID_LENGTH + 1), "pw"),
        ("x" * 5_000_000, "pw"),
        ("dr x", "pw"),
        ("dr.x", ""),
        ("dr.x", "p" * 5000),
    ],
)
def test_implausible_input_is_refused_without_a_password_check(store, user, password):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    with pytest.raises(SignInRefused) as refused:
        store.sign_in(user, password)
    assert not refused.value.throttled and refused.value.known_user is None
    # No attempt was counted: the throttle saw nothing.
    assert store.get("dr.x").locked_until is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "nurse"}, "role: expected one of"),
        ({"password": "short"}, "password: at least 10"),
        ({"role": "patient"}, "patient_ref: a patient account must be linked"),
    ],
)
def test_invalid_accounts_are_refused_naming_the_field(store, kwargs, message):
    spec = {"name": "X", "role": "clinician", "password": "long enough pw", **kwargs}
    with pytest.raises(AccountError, match=message):
        store.add("someone", **spec)


def test_demo_accounts_cover_every_role_and_seeding_is_idempotent(store):
    assert seed_demo_accounts(store) == [a["user_id"] for a in DEMO_ACCOUNTS]
    assert seed_demo_accounts(store) == []
    assert {a.role for a in store.list()} == set(ROLES)
    patient = store.sign_in("pat.h03", DEMO_PASSWORD).viewer()
    assert (patient.patient_ref, patient.patient_model_id) == ("H-03", "heart-disease")


def test_sessions_expire_after_the_idle_timeout():
    start = dt.datetime(2026, 1, 1, 8, 0)
    assert not session_expired(start, now=start + SESSION_IDLE_TIMEOUT)
    assert session_expired(start, now=start + SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1))


def test_an_id_with_an_underscore_is_backed_off_and_unlocked_on_every_database(store):
    # '_' is a LIKE wildcard: escaped, and the escape named (SQLite has no default one).
    store.add("dr_x", name="Dr X", role="clinician", password="long enough pw")
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            store.sign_in("dr_x", "wrong password", client="a")
    assert store.get("dr_x").locked_until is not None
    store.unlock("dr_x")
    assert store.get("dr_x").locked_until is None
    assert store.sign_in("dr_x", "long enough pw", client="a").user_id == "dr_x"


def test_two_servers_on_one_database_share_accounts_and_back_off(tmp_path, clock, app_db_url):
    # Two engines on one database (two app servers): what one writes, the other sees.
    first = AccountStore(open_app_database(tmp_path, app_db_url), clock=clock)
    second = AccountStore(open_app_database(tmp_path, app_db_url), clock=clock)
    first.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    assert second.sign_in("dr.x", "long enough pw").name == "Dr X"
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            second.sign_in("dr.x", "wrong password", client="a")
    with pytest.raises(SignInRefused) as refused:
        first.sign_in("dr.x", "long enough pw", client="a")
    assert refused.value.throttled
    assert first.get("dr.x").locked_until == clock.now + FIRST_BACKOFF


def test_naive_utc_times_round_trip_whatever_the_session_time_zone(tmp_path, clock, pg_server):
    # A PostgreSQL session in another zone: the column is TIMESTAMP WITHOUT TIME ZONE, so the
    # naive UTC value written is the value stored and read back, unshifted.
    url = pg_server.create_database("accounts_tz") + "?options=-c%20timezone%3DPacific/Auckland"
    store = AccountStore(open_app_database(tmp_path, url), clock=clock)
    clock.now = dt.datetime(2026, 11, 25, 9, 0, 0, 123456)
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    for _ in range(FREE_ATTEMPTS["pair"]):
        with pytest.raises(SignInRefused):
            store.sign_in("dr.x", "wrong password", client="a")
    until = store.get("dr.x").locked_until
    assert until == clock.now + FIRST_BACKOFF and until.tzinfo is None
    with store._engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT max(blocked_until)::text, pg_typeof(max(blocked_until))::text "
                "FROM sign_in_throttle"
            )
        ).one()
    assert stored == ("2026-11-25 09:00:15.123456", "timestamp without time zone")


def test_a_postgresql_url_without_a_driver_uses_psycopg(tmp_path, new_pg_database):
    url = new_pg_database("accounts").replace("+psycopg", "")
    engine = open_app_database(tmp_path, url)
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    assert not (tmp_path / APP_DATABASE_FILE).exists()  # no SQLite file beside it


def test_a_sqlite_url_is_created_owner_only(tmp_path):
    file = tmp_path / "elsewhere" / "shared.sqlite"
    AccountStore(open_app_database(tmp_path, f"sqlite:///{file}")).add(
        "dr.x", name="Dr X", role="clinician", password="long enough pw"
    )
    assert file.stat().st_mode & 0o077 == 0
    assert not (tmp_path / APP_DATABASE_FILE).exists()


def test_servers_opening_a_new_postgresql_database_at_once_create_the_tables_once(
    tmp_path, new_pg_database
):
    url = new_pg_database("accounts")
    with ThreadPoolExecutor(max_workers=6) as pool:
        engines = list(pool.map(lambda _: open_app_database(tmp_path, url), range(6)))
    store = AccountStore(engines[-1])
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    assert [a.user_id for a in AccountStore(engines[0]).list()] == ["dr.x"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x" * 201}, "name: 1–200"),
        ({"name": "   "}, "name: 1–200"),
        ({"role": "patient", "patient_ref": "P" * 101}, "patient_ref: at most 100"),
    ],
)
def test_over_long_names_and_references_are_refused_before_the_database_sees_them(
    store, kwargs, message
):
    spec = {"name": "X", "role": "clinician", "password": "long enough pw", **kwargs}
    with pytest.raises(AccountError, match=message):
        store.add("someone", **spec)
