"""Local accounts: argon2 hashes, generic refusals, back-off, lockout, session expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from caselens.accounts import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    LOCKOUT,
    MAX_FAILURES,
    SESSION_IDLE_TIMEOUT,
    AccountError,
    AccountStore,
    SignInRefused,
    seed_demo_accounts,
    session_expired,
    users,
)
from caselens.app_database import APP_DATABASE_FILE, open_app_database


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def store(tmp_path, clock):
    return AccountStore(open_app_database(tmp_path), clock=clock)


def test_app_database_file_is_owner_only(tmp_path):
    open_app_database(tmp_path)
    assert (tmp_path / APP_DATABASE_FILE).stat().st_mode & 0o077 == 0


def test_passwords_are_stored_as_argon2_hashes(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    with store._engine.connect() as conn:
        stored = conn.execute(users.select()).first().password_hash
    assert stored.startswith("$argon2id$") and "long enough pw" not in stored
    assert store.sign_in("dr.x", "long enough pw").role == "clinician"


def test_wrong_password_and_unknown_user_get_the_same_message(store):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    with pytest.raises(SignInRefused) as wrong:
        store.sign_in("dr.x", "nope nope nope")
    with pytest.raises(SignInRefused) as unknown:
        store.sign_in("nobody", "nope nope nope")
    assert str(wrong.value) == str(unknown.value) == "The user name or password is not right."


def test_repeated_failures_back_off_then_lock_and_the_lock_expires(store, clock):
    store.add("dr.x", name="Dr X", role="clinician", password="long enough pw")
    waits = []
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused) as refused:
            store.sign_in("dr.x", "wrong password")
        waits.append(refused.value.wait_seconds)
    assert waits == sorted(waits) and waits[-1] > 0
    with pytest.raises(SignInRefused, match="now locked"):
        store.sign_in("dr.x", "wrong password")
    with pytest.raises(SignInRefused, match="locked after 5 failed attempts"):
        store.sign_in("dr.x", "long enough pw")  # even the right password
    clock.now += LOCKOUT + dt.timedelta(seconds=1)
    assert store.sign_in("dr.x", "long enough pw").user_id == "dr.x"


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
    assert {a.role for a in store.list()} == {"clinician", "patient", "reviewer", "admin"}
    patient = store.sign_in("pat.h03", DEMO_PASSWORD).viewer()
    assert (patient.patient_ref, patient.patient_model_id) == ("H-03", "heart-disease")


def test_sessions_expire_after_the_idle_timeout():
    start = dt.datetime(2026, 1, 1, 8, 0)
    assert not session_expired(start, now=start + SESSION_IDLE_TIMEOUT)
    assert session_expired(start, now=start + SESSION_IDLE_TIMEOUT + dt.timedelta(seconds=1))
