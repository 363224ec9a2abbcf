"""Local accounts: users with argon2 password hashes, roles, back-off and lockout.

Stored in the app database (SQLite in the data folder by default), separate from the audit
trail. Hospitals that use single sign-on use Streamlit's ``st.login`` instead (README).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)

from caselens.access import ROLES, Viewer
from caselens.errors import CaseLensError

#: Failures allowed before the account locks, and for how long it stays locked.
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
#: Seconds to wait after the n-th consecutive failure (back-off), capped.
BACKOFF_SECONDS = (0.0, 0.5, 1.0, 2.0, 4.0)
#: A signed-in session ends after this long without activity.
SESSION_IDLE_TIMEOUT = dt.timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 10

_metadata = MetaData()
users = Table(
    "users",
    _metadata,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("patient_ref", String(100), nullable=True),
    Column("patient_model_id", String(100), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime, nullable=True),
)


class AccountError(CaseLensError):
    """An account could not be created or changed; the message says why."""


class SignInRefused(CaseLensError):
    """Sign-in failed. The message never says whether the user exists."""

    def __init__(
        self, message: str, *, user_id: str, locked: bool = False, wait_seconds: float = 0.0
    ) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.locked = locked
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class Account:
    """A user as the app sees them (never the password hash)."""

    user_id: str
    name: str
    role: str
    patient_ref: str | None
    patient_model_id: str | None
    locked_until: dt.datetime | None

    def viewer(self) -> Viewer:
        """The identity the access policy and audit trail use."""
        return Viewer(self.user_id, self.name, self.role, self.patient_ref, self.patient_model_id)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class AccountStore:
    """Users in an SQLAlchemy database (``sqlite:///…`` file by default)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._hasher = PasswordHasher()
        _metadata.create_all(engine)

    def add(
        self,
        user_id: str,
        *,
        name: str,
        role: str,
        password: str,
        patient_ref: str | None = None,
        patient_model_id: str | None = None,
    ) -> Account:
        """Create an account. Raises AccountError naming the field that is wrong."""
        problems = []
        if not user_id or not user_id.replace(".", "").replace("-", "").isalnum():
            problems.append("user id: letters, digits, '.' and '-' only")
        if role not in ROLES:
            problems.append(f"role: expected one of {', '.join(ROLES)}, got '{role}'")
        if len(password) < MIN_PASSWORD_LENGTH:
            problems.append(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        if role == "patient" and not patient_ref:
            problems.append("patient_ref: a patient account must be linked to one patient")
        if problems:
            raise AccountError("Cannot create the account — " + "; ".join(problems) + ".")
        with self._engine.begin() as conn:
            if conn.execute(select(users.c.user_id).where(users.c.user_id == user_id)).first():
                raise AccountError(f"Cannot create the account — user id '{user_id}' exists.")
            conn.execute(
                insert(users).values(
                    user_id=user_id,
                    name=name,
                    role=role,
                    patient_ref=patient_ref,
                    patient_model_id=patient_model_id,
                    password_hash=self._hasher.hash(password),
                    failed_attempts=0,
                )
            )
        return self.get(user_id)

    def get(self, user_id: str) -> Account:
        """The account with this id (AccountError if there is none)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
        if row is None:
            raise AccountError(f"There is no account '{user_id}'.")
        return Account(
            row.user_id, row.name, row.role, row.patient_ref, row.patient_model_id, row.locked_until
        )

    def list(self) -> list[Account]:
        """Every account, by user id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.user_id)).all()
        return [
            Account(r.user_id, r.name, r.role, r.patient_ref, r.patient_model_id, r.locked_until)
            for r in rows
        ]

    def sign_in(self, user_id: str, password: str) -> Account:
        """Check a password. Repeated failures back off, then lock the account.

        Raises
        ------
        SignInRefused
            With a message that does not reveal whether the user id exists.
        """
        now = self._clock()
        generic = "The user name or password is not right."
        refusal: SignInRefused | None = None
        # Decide inside the transaction, raise after it: a raise inside would roll back the
        # failure count that the back-off and lockout depend on.
        with self._engine.begin() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
            if row is None:
                self._hasher.hash(password)  # same cost as a real check: no timing oracle
                refusal = SignInRefused(generic, user_id=user_id)
            elif row.locked_until is not None and row.locked_until > now:
                minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
                refusal = SignInRefused(
                    f"This account is locked after {MAX_FAILURES} failed attempts. Try again "
                    f"in {minutes} minute(s) or ask an administrator.",
                    user_id=user_id,
                    locked=True,
                )
            else:
                try:
                    self._hasher.verify(row.password_hash, password)
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    failures = row.failed_attempts + 1
                    locked_until = now + LOCKOUT if failures >= MAX_FAILURES else None
                    conn.execute(
                        update(users)
                        .where(users.c.user_id == user_id)
                        .values(
                            failed_attempts=0 if locked_until else failures,
                            locked_until=locked_until,
                        )
                    )
                    if locked_until is not None:
                        refusal = SignInRefused(
                            f"{generic} The account is now locked for "
                            f"{int(LOCKOUT.total_seconds() // 60)} minutes.",
                            user_id=user_id,
                            locked=True,
                        )
                    else:
                        wait = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1]
                        refusal = SignInRefused(generic, user_id=user_id, wait_seconds=wait)
                else:
                    conn.execute(
                        update(users)
                        .where(users.c.user_id == user_id)
                        .values(failed_attempts=0, locked_until=None)
                    )
        if refusal is not None:
            raise refusal
        return self.get(user_id)


def session_expired(last_activity: dt.datetime, *, now: dt.datetime | None = None) -> bool:
    """Whether a signed-in session has been idle longer than ``SESSION_IDLE_TIMEOUT``."""
    return (now or _utcnow()) - last_activity > SESSION_IDLE_TIMEOUT


#: Demo accounts seeded by ``make run`` (shown on the sign-in screen in demo mode only).
DEMO_PASSWORD = "caselens-demo"
DEMO_ACCOUNTS: tuple[dict[str, str | None], ...] = (
    {"user_id": "dr.lee", "name": "Dr. Ana Lee", "role": "clinician"},
    {
        "user_id": "pat.h03",
        "name": "Sam Patel",
        "role": "patient",
        "patient_ref": "H-03",
        "patient_model_id": "heart-disease",
    },
    {
        "user_id": "pat.r01",
        "name": "Jo Rivera",
        "role": "patient",
        "patient_ref": "R-01",
        "patient_model_id": "readmission-30d",
    },
    {"user_id": "rev.kim", "name": "Kim Okafor", "role": "reviewer"},
    {"user_id": "admin", "name": "Ali Admin", "role": "admin"},
)


def seed_demo_accounts(store: AccountStore) -> list[str]:
    """Create the demo accounts that are missing; return the ids created."""
    existing = {a.user_id for a in store.list()}
    created = []
    for spec in DEMO_ACCOUNTS:
        if spec["user_id"] in existing:
            continue
        store.add(
            str(spec["user_id"]),
            name=str(spec["name"]),
            role=str(spec["role"]),
            password=DEMO_PASSWORD,
            patient_ref=spec.get("patient_ref"),
            patient_model_id=spec.get("patient_model_id"),
        )
        created.append(str(spec["user_id"]))
    return created
