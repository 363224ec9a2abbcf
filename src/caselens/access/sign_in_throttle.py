"""Sign-in throttling that a stranger cannot turn against the account's owner.

Each attempt is counted, in one transaction and *before* the slow password check (so
simultaneous guesses cannot slip past the count), against the subjects that apply to it:

- ``pair``: this account from this client — a few free attempts, then back-off;
- ``client``: this client over all names — stops one client guessing many names;
- ``account``: this account from every client — a high limit, against a distributed attack.

A client is identified by an address forwarded by a trusted proxy or by a signed device cookie
(:mod:`caselens.access.client_identity`); a client with neither has no ``pair`` or ``client``
subject and is throttled per account only. There is never a shared "unknown" bucket.

The per-account back-off applies to unknown clients only, as the OWASP guidance on credential
stuffing suggests: a client that has signed in to the account before (a *known-good* client,
remembered for :data:`KNOWN_CLIENT_FOR`) is still counted, but is refused only by its own
``pair`` and ``client`` back-off, never because others failed. Past its free attempts a subject
waits an exponentially growing time (no hard lock). A successful sign-in clears the account's
own count and this client's pair and marks the client known-good; an administrator can clear
every count (``unlock``). Counts are forgotten after a quiet hour.

Under database contention an attempt is retried; if it still cannot be counted it is refused
with :class:`SignInNotRecorded` (fail closed): an attempt is never checked uncounted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    and_,
    case,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.exc import OperationalError

from caselens.access.app_tables import APP_METADATA, dialect_insert
from caselens.errors import CaseLensError

#: Free attempts per subject kind before back-off starts.
FREE_ATTEMPTS = {"pair": 5, "client": 30, "account": 50}
#: First back-off once the free attempts are used; it doubles with each further attempt.
FIRST_BACKOFF = dt.timedelta(seconds=15)
#: Longest back-off.
MAX_BACKOFF = dt.timedelta(minutes=15)
#: A subject with no attempt for this long starts counting afresh.
FORGET_AFTER = dt.timedelta(hours=1)
#: A client that signed in to an account stays known-good for it this long (a quarter: long
#: enough for a part-time clinician's own browser, short enough that a lost device lapses).
KNOWN_CLIENT_FOR = dt.timedelta(days=90)
#: Tries to count an attempt when the database is busy (each also waits its busy timeout).
CLAIM_TRIES = 5
#: Pause between those tries, doubled each time.
CLAIM_RETRY_PAUSE_S = 0.05

#: What a person is told when their attempt could not be counted, so it was not checked.
NOT_RECORDED_MESSAGE = (
    "Sign-in is busy and this attempt could not be recorded, so it was not checked. "
    "Please try again in a moment."
)

throttle = Table(
    "sign_in_throttle",
    APP_METADATA,
    Column("subject", String(200), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_attempt", DateTime, nullable=False),
    Column("blocked_until", DateTime, nullable=True),
)
known_clients = Table(
    "sign_in_known_clients",
    APP_METADATA,
    Column("account", String(64), primary_key=True),
    Column("client", String(200), primary_key=True),
    Column("last_success", DateTime, nullable=False),
)


class SignInNotRecorded(CaseLensError):
    """The attempt could not be counted (the database stayed busy), so it was not checked."""

    def __init__(self) -> None:
        super().__init__(NOT_RECORDED_MESSAGE)


def backoff(attempts: int, free: int) -> dt.timedelta:
    """How long a subject waits after its ``attempts``-th attempt (0 while free ones remain).

    Examples
    --------
    >>> backoff(4, 5), backoff(5, 5), backoff(6, 5)
    (datetime.timedelta(0), datetime.timedelta(seconds=15), datetime.timedelta(seconds=30))
    """
    if attempts < free:
        return dt.timedelta(0)
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(attempts - free, 20))


@dataclass(frozen=True)
class Claim:
    """Whether an attempt may be checked now; if not, how long until it may."""

    allowed: bool
    retry_after: dt.timedelta = dt.timedelta(0)


def _subjects(account: str, client: str | None) -> dict[str, str]:
    subjects = {"account": f"account:{account}"}
    if client is not None:
        subjects["pair"] = f"pair:{account}|{client}"
        subjects["client"] = f"client:{client}"
    return subjects


class SignInThrottle:
    """Attempt counts in the app database (SQLite or PostgreSQL, same code).

    ``account`` arguments are an existing account's id, or a keyed digest of a name that is not
    one (see :meth:`caselens.access.accounts.AccountStore.sign_in`): what was typed is never stored.
    ``client`` is a client identity (``addr:…`` or ``device:…``) or None.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._clock = clock
        APP_METADATA.create_all(engine, tables=[throttle, known_clients])

    def claim(self, account: str, client: str | None) -> Claim:
        """Count one attempt for ``account`` from ``client``, or refuse it if a subject that
        applies to this client is backing off. Atomic: the counting UPDATE runs before anything
        is read, so it holds the row (PostgreSQL) or the database write lock (SQLite) until
        commit. Retried when the database is busy.

        Raises
        ------
        SignInNotRecorded
            The attempt could not be counted after :data:`CLAIM_TRIES` tries.
        """
        pause = CLAIM_RETRY_PAUSE_S
        for attempt in range(CLAIM_TRIES):
            try:
                return self._claim_once(account, client)
            except OperationalError:
                if attempt == CLAIM_TRIES - 1:
                    raise SignInNotRecorded() from None
                time.sleep(pause)
                pause *= 2
        raise SignInNotRecorded()  # not reached: the loop returns or raises

    def _claim_once(self, account: str, client: str | None) -> Claim:
        now = self._clock()
        subjects = _subjects(account, client)
        t = throttle.c
        with self._engine.begin() as conn:
            insert_or_skip = dialect_insert(conn, throttle)
            for subject in subjects.values():
                # Ensure the row exists; a concurrent insert of the same row is skipped.
                conn.execute(
                    insert_or_skip.values(
                        subject=subject, attempts=0, last_attempt=now, blocked_until=None
                    ).on_conflict_do_nothing(index_elements=["subject"])
                )
            known_good = client is not None and self._is_known_good(conn, account, client, now)
            counted: dict[str, int] = {}
            for kind, subject in subjects.items():
                statement = update(throttle).where(t.subject == subject)
                if not (kind == "account" and known_good):
                    # Only a subject that applies to this client can refuse it.
                    statement = statement.where(
                        or_(t.blocked_until.is_(None), t.blocked_until <= now)
                    )
                row = conn.execute(
                    statement.values(attempts=_fresh_or_next(now), last_attempt=now).returning(
                        t.attempts
                    )
                ).first()
                if row is None:
                    # Backing off: nothing is counted, the transaction is rolled back.
                    blocked = conn.execute(
                        select(t.blocked_until).where(t.subject == subject)
                    ).scalar_one()
                    conn.rollback()
                    return Claim(False, max(dt.timedelta(0), blocked - now))
                counted[kind] = int(row[0])
            for kind, attempts in counted.items():
                wait = backoff(attempts, FREE_ATTEMPTS[kind])
                if wait:
                    conn.execute(
                        update(throttle)
                        .where(t.subject == subjects[kind])
                        .values(blocked_until=now + wait)
                    )
        return Claim(True)

    @staticmethod
    def _is_known_good(conn, account: str, client: str, now: dt.datetime) -> bool:
        k = known_clients.c
        found = conn.execute(
            select(k.last_success).where(
                k.account == account,
                k.client == client,
                k.last_success > now - KNOWN_CLIENT_FOR,
            )
        ).first()
        return found is not None

    def succeeded(self, account: str, client: str | None) -> None:
        """A right password: the account's own count and this client's pair start again, and
        the client becomes known-good for the account (its client count is kept)."""
        now = self._clock()
        t = throttle.c
        cleared = [f"account:{account}"]
        if client is not None:
            cleared.append(f"pair:{account}|{client}")
        with self._engine.begin() as conn:
            conn.execute(delete(throttle).where(t.subject.in_(cleared)))
            if client is not None:
                upsert = dialect_insert(conn, known_clients).values(
                    account=account, client=client, last_success=now
                )
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["account", "client"], set_={"last_success": now}
                    )
                )

    def is_known_good(self, account: str, client: str | None) -> bool:
        """Whether ``client`` signed in to ``account`` within :data:`KNOWN_CLIENT_FOR`."""
        if client is None:
            return False
        with self._engine.connect() as conn:
            return self._is_known_good(conn, account, client, self._clock())

    def unlock(self, account: str) -> int:
        """Clear an account's counts and back-off, from every client; rows cleared."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(throttle).where(_of_account(account)))
        return int(result.rowcount or 0)

    def blocked_until(self, account: str) -> dt.datetime | None:
        """The latest back-off of any of the account's subjects, if one is running."""
        now = self._clock()
        t = throttle.c
        with self._engine.connect() as conn:
            value = conn.execute(
                select(t.blocked_until)
                .where(_of_account(account))
                .where(and_(t.blocked_until.is_not(None), t.blocked_until > now))
                .order_by(t.blocked_until.desc())
                .limit(1)
            ).scalar()
        return value

    def subjects(self) -> list[str]:
        """Every subject counted (for an administrator's inspection and the tests)."""
        with self._engine.connect() as conn:
            return list(conn.execute(select(throttle.c.subject)).scalars())


def _of_account(account: str):
    """The account's own subjects: ``account:<id>`` and every ``pair:<id>|<client>``. The LIKE
    names its escape character: PostgreSQL's default is a backslash, SQLite has none."""
    escaped = account.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    t = throttle.c
    return or_(t.subject == f"account:{account}", t.subject.like(f"pair:{escaped}|%", escape="\\"))


def _fresh_or_next(now: dt.datetime):
    """``1`` after a quiet spell of FORGET_AFTER, else ``attempts + 1`` (in SQL)."""
    t = throttle.c
    return case((t.last_attempt < now - FORGET_AFTER, 1), else_=t.attempts + 1)
