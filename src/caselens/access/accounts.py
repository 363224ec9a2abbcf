"""Local accounts: users with argon2 password hashes, roles, back-off and lockout.

Stored in the app database (SQLite in the data folder by default), separate from the audit
trail. Hospitals that use single sign-on use Streamlit's ``st.login`` instead (README).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
)

from caselens.access.app_tables import APP_METADATA
from caselens.access.browser_sessions import BrowserSessions
from caselens.access.policy import ROLES, Viewer
from caselens.access.sign_in_throttle import SignInThrottle
from caselens.errors import CaseLensError
from caselens.explain.patient_language import DEFAULT_LANGUAGE, LANGUAGES

#: A user id: letters, digits, '.', '_' and '-'.
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)

#: Longest user name accepted; anything longer is refused without a password check.
MAX_USER_ID_LENGTH = 64
#: Longest display name (the column holds 200 characters on every database).
MAX_NAME_LENGTH = 200
#: Longest patient reference linked to a patient account (the column holds 100).
MAX_PATIENT_REF_LENGTH = 100
#: Longest password checked (argon2 would hash any length; a megabyte is not a password).
MAX_PASSWORD_LENGTH = 1024
#: The one answer to every refused sign-in: unknown user, wrong password or backing off.
SIGN_IN_REFUSED = (
    "Sign-in failed. Check the user name and password. After several failed attempts, "
    "sign-in pauses for a while: wait a few minutes, or ask an administrator to unlock it."
)
#: A signed-in session ends after this long without activity.
SESSION_IDLE_TIMEOUT = dt.timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 10

users = Table(
    "users",
    APP_METADATA,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("patient_ref", String(100), nullable=True),
    Column("patient_model_id", String(100), nullable=True),
    Column("password_hash", String(200), nullable=False),
    # Kept for databases written by earlier versions; attempts now live in the throttle.
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime, nullable=True),
)
#: The language each account reads its patient page in. A table of its own, so a database
#: written before languages existed gains it without a migration; no row: English.
account_languages = Table(
    "account_languages",
    APP_METADATA,
    Column("user_id", String(64), primary_key=True),
    Column("language", String(8), nullable=False),
)


class AccountError(CaseLensError):
    """An account could not be created or changed; the message says why."""


class SignInRefused(CaseLensError):
    """Sign-in failed. The message is the same whether the user is unknown, the password
    wrong or the attempt throttled; the attributes are for the audit record only.

    Attributes
    ----------
    known_user : str or None
        The account's id when the name typed is an existing account, else None (what was
        typed is then not kept: it may be a password typed into the wrong field).
    typed_digest : str
        A short keyed digest (HMAC-SHA256 with the sign-in key) of what was typed as the user
        name, to group attempts; without the key it cannot be matched to a guessed password.
    throttled : bool
        Refused by the back-off before any password check.
    """

    def __init__(self, *, known_user: str | None, typed_digest: str, throttled: bool) -> None:
        super().__init__(SIGN_IN_REFUSED)
        self.known_user = known_user
        self.typed_digest = typed_digest
        self.throttled = throttled


@dataclass(frozen=True)
class Account:
    """A user as the app sees them (never the password hash)."""

    user_id: str
    name: str
    role: str
    patient_ref: str | None
    patient_model_id: str | None
    #: When the account's sign-in back-off ends, if one is running (UTC).
    locked_until: dt.datetime | None
    #: The language of the account's patient page (a code of caselens.explain.patient_language).
    language: str = DEFAULT_LANGUAGE

    def viewer(self) -> Viewer:
        """The identity the access policy and audit trail use."""
        return Viewer(self.user_id, self.name, self.role, self.patient_ref, self.patient_model_id)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


#: Hex digits of the keyed digest that stands for a typed name that is not an account.
TYPED_DIGEST_LENGTH = 12


class AccountStore:
    """Users in an SQLAlchemy database (``sqlite:///…`` file by default).

    ``key`` is the sign-in key (:func:`caselens.access.browser_sessions.load_sign_in_key`): it signs
    the browser cookies and keys the digest of names that are not accounts. Servers sharing one
    database share the key file; without one a random key is made for this store alone.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        key: bytes | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._hasher = PasswordHasher()
        self.key = key or secrets.token_bytes(32)
        APP_METADATA.create_all(engine, tables=[users, account_languages])
        self.throttle = SignInThrottle(engine, clock=clock)
        self.sessions = BrowserSessions(engine, self.key, clock=clock)

    def _typed_digest(self, typed: str) -> str:
        """A keyed digest of a typed name: groups attempts, reveals nothing typed."""
        return hmac.new(self.key, typed.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """A real hash to verify against when the user does not exist: same cost, no oracle
        (made on first use, so opening a store costs no argon2 work)."""
        return self._hasher.hash("caselens-no-such-user")

    @staticmethod
    def check_new_account(
        user_id: str,
        *,
        role: str,
        password: str,
        patient_ref: str | None = None,
        name: str | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        """Refuse an account's fields before anything is recorded or written.

        Raises
        ------
        AccountError
            Naming every field that is wrong.
        """
        problems = []
        if not USER_ID_PATTERN.fullmatch(user_id or ""):
            problems.append(
                f"user id: 1–{MAX_USER_ID_LENGTH} letters, digits, '.', '_' or '-', starting "
                "with a letter or digit"
            )
        if role not in ROLES:
            problems.append(f"role: expected one of {', '.join(ROLES)}, got '{role}'")
        if len(password) < MIN_PASSWORD_LENGTH:
            problems.append(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        elif len(password) > MAX_PASSWORD_LENGTH:
            problems.append(f"password: at most {MAX_PASSWORD_LENGTH} characters")
        if role == "patient" and not patient_ref:
            problems.append("patient_ref: a patient account must be linked to one patient")
        if patient_ref is not None and len(patient_ref) > MAX_PATIENT_REF_LENGTH:
            problems.append(f"patient_ref: at most {MAX_PATIENT_REF_LENGTH} characters")
        if name is not None and not 0 < len(name.strip()) <= MAX_NAME_LENGTH:
            problems.append(f"name: 1–{MAX_NAME_LENGTH} characters")
        if language not in LANGUAGES:
            problems.append(
                f"language: expected one of {', '.join(LANGUAGES)}, got {str(language)[:20]!r}"
            )
        if problems:
            raise AccountError("Cannot create the account — " + "; ".join(problems) + ".")

    def add(
        self,
        user_id: str,
        *,
        name: str,
        role: str,
        password: str,
        patient_ref: str | None = None,
        patient_model_id: str | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> Account:
        """Create an account. Raises AccountError naming the field that is wrong."""
        self.check_new_account(
            user_id,
            role=role,
            password=password,
            patient_ref=patient_ref,
            name=name,
            language=language,
        )
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
            conn.execute(insert(account_languages).values(user_id=user_id, language=language))
        return self.get(user_id)

    def set_language(self, user_id: str, language: str) -> Account:
        """Set the language of an account's patient page (AccountError naming the choices)."""
        if language not in LANGUAGES:
            raise AccountError(
                f"language: expected one of {', '.join(LANGUAGES)}, got {str(language)[:20]!r}"
            )
        self.get(user_id)  # refuses an unknown account by name
        with self._engine.begin() as conn:
            conn.execute(delete(account_languages).where(account_languages.c.user_id == user_id))
            conn.execute(insert(account_languages).values(user_id=user_id, language=language))
        return self.get(user_id)

    def _languages(self, conn) -> dict[str, str]:
        return {r.user_id: r.language for r in conn.execute(select(account_languages))}

    def get(self, user_id: str) -> Account:
        """The account with this id (AccountError if there is none)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
            language = conn.execute(
                select(account_languages.c.language).where(account_languages.c.user_id == user_id)
            ).scalar()
        if row is None:
            raise AccountError(f"There is no account '{user_id}'.")
        return Account(
            row.user_id,
            row.name,
            row.role,
            row.patient_ref,
            row.patient_model_id,
            self.throttle.blocked_until(row.user_id),
            language or DEFAULT_LANGUAGE,
        )

    def list(self) -> list[Account]:
        """Every account, by user id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.user_id)).all()
            languages = self._languages(conn)
        return [
            Account(
                r.user_id,
                r.name,
                r.role,
                r.patient_ref,
                r.patient_model_id,
                self.throttle.blocked_until(r.user_id),
                languages.get(r.user_id, DEFAULT_LANGUAGE),
            )
            for r in rows
        ]

    def sign_in(self, user_id: str, password: str, *, client: str | None = None) -> Account:
        """Check a password, after counting the attempt
        (see :mod:`caselens.access.sign_in_throttle`).

        ``client`` is the client's identity (:mod:`caselens.access.client_identity`), or None
        when it has none: the attempt is then throttled per account only. Implausible input (an
        over-long or malformed name, an over-long password) is refused without the argon2
        work. Every refusal carries the same message. A name that is not an account is
        counted under its keyed digest: nothing typed is stored unless it is an account's id.

        Raises
        ------
        SignInRefused
            With :data:`SIGN_IN_REFUSED`; its attributes say (for the audit record only)
            whether the name was a known account and whether the attempt was throttled.
        SignInNotRecorded
            The attempt could not be counted (database busy), so it was not checked.
        """
        typed = user_id or ""
        full_digest = self._typed_digest(typed)
        digest = full_digest[:TYPED_DIGEST_LENGTH]
        plausible = (
            len(typed) <= MAX_USER_ID_LENGTH
            and USER_ID_PATTERN.fullmatch(typed) is not None
            and 0 < len(password) <= MAX_PASSWORD_LENGTH
        )
        row = None
        if plausible:
            with self._engine.connect() as conn:
                row = conn.execute(select(users).where(users.c.user_id == typed)).first()
        known = typed if row is not None else None
        if not plausible:
            raise SignInRefused(known_user=None, typed_digest=digest, throttled=False)
        # The throttle's name for the account: the id itself only when it is an account.
        throttle_key = typed if row is not None else f"?{full_digest[:32]}"
        claim = self.throttle.claim(throttle_key, client)
        if not claim.allowed:
            raise SignInRefused(known_user=known, typed_digest=digest, throttled=True)
        try:
            self._hasher.verify(
                row.password_hash if row is not None else self._dummy_hash, password
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise SignInRefused(known_user=known, typed_digest=digest, throttled=False) from None
        if row is None:  # the dummy hash cannot match a real attempt, but never sign in
            raise SignInRefused(known_user=None, typed_digest=digest, throttled=False)
        self.throttle.succeeded(typed, client)
        return self.get(typed)

    def is_known_good(self, user_id: str, client: str | None) -> bool:
        """Whether ``client`` signed in to this account recently (see the throttle)."""
        return self.throttle.is_known_good(user_id, client)

    def unlock(self, user_id: str) -> Account:
        """Clear an account's failed-attempt counts and back-off (an administrator's action)."""
        account = self.get(user_id)
        self.throttle.unlock(user_id)
        return account

    def blocked_until(self, user_id: str) -> dt.datetime | None:
        """When the account's current back-off ends, if one is running."""
        return self.throttle.blocked_until(user_id)


def refused_viewer(refused: SignInRefused) -> Viewer:
    """Who a refused sign-in is recorded as: the account if the name was one, else a short
    hash of what was typed (it may be a password typed into the name field)."""
    user_id = refused.known_user or f"unknown:{refused.typed_digest}"
    return Viewer(user_id=user_id, name="(not signed in)", role="anonymous")


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
    {
        # A patient who reads Spanish: the patient page in Spanish.
        "user_id": "pat.r06.es",
        "name": "Lucía Gómez",
        "role": "patient",
        "patient_ref": "R-06",
        "patient_model_id": "readmission-30d",
        "language": "es",
    },
    {"user_id": "rev.kim", "name": "Kim Okafor", "role": "reviewer"},
    {"user_id": "admin", "name": "Ali Admin", "role": "admin"},
    # Registers model versions and runs candidates in shadow (issue 27).
    {"user_id": "owner.ng", "name": "Dr. Chris Ng", "role": "model_owner"},
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
            language=spec.get("language") or DEFAULT_LANGUAGE,
        )
        created.append(str(spec["user_id"]))
    return created
