"""Sign-in throttling: attempts are counted before the password is checked, atomically.

Each attempt is counted against three subjects at once, in one transaction, *before* the
slow password check, so simultaneous guesses cannot slip past the count:

- the account from this client address (``pair``): a few free attempts, then back-off;
- the client address over all accounts (``client``): stops one address guessing many names;
- the account over all addresses (``account``): a high limit, against a distributed attack.

Past its free attempts, a subject waits an exponentially growing time before the next
attempt is even checked (no hard lock that a stranger can trigger for someone else from
another address). A successful sign-in clears the account's counts; an administrator can
clear them too (``unlock``). Counts are forgotten after a quiet hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    or_,
    select,
    update,
)

from caselens.app_database import dialect_insert

#: Free attempts per subject kind before back-off starts.
FREE_ATTEMPTS = {"pair": 5, "client": 30, "account": 50}
#: First back-off once the free attempts are used; it doubles with each further attempt.
FIRST_BACKOFF = dt.timedelta(seconds=15)
#: Longest back-off.
MAX_BACKOFF = dt.timedelta(minutes=15)
#: A subject with no attempt for this long starts counting afresh.
FORGET_AFTER = dt.timedelta(hours=1)

_metadata = MetaData()
throttle = Table(
    "sign_in_throttle",
    _metadata,
    Column("subject", String(200), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_attempt", DateTime, nullable=False),
    Column("blocked_until", DateTime, nullable=True),
)


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


def _subjects(account: str, client: str) -> dict[str, str]:
    return {
        "pair": f"pair:{account}|{client}",
        "client": f"client:{client}",
        "account": f"account:{account}",
    }


class SignInThrottle:
    """Attempt counts in the app database (SQLite or PostgreSQL, same code)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._clock = clock
        _metadata.create_all(engine)

    def claim(self, account: str, client: str) -> Claim:
        """Count one attempt for ``account`` from ``client``, or refuse it if one of its
        subjects is backing off. Atomic: the counting UPDATE runs before anything is read,
        so it holds the row (PostgreSQL) or the database write lock (SQLite) until commit.
        """
        now = self._clock()
        subjects = _subjects(account, client)
        with self._engine.begin() as conn:
            insert_or_skip = dialect_insert(conn, throttle)
            for subject in subjects.values():
                # Ensure the row exists; a concurrent insert of the same row is skipped.
                conn.execute(
                    insert_or_skip.values(
                        subject=subject, attempts=0, last_attempt=now, blocked_until=None
                    ).on_conflict_do_nothing(index_elements=["subject"])
                )
            t = throttle.c
            counted: dict[str, int] = {}
            for kind, subject in subjects.items():
                row = conn.execute(
                    update(throttle)
                    .where(t.subject == subject)
                    .where(or_(t.blocked_until.is_(None), t.blocked_until <= now))
                    .values(
                        attempts=_fresh_or_next(now),
                        last_attempt=now,
                    )
                    .returning(t.attempts)
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

    def succeeded(self, account: str, client: str) -> None:
        """A right password: the account's counts start again (the client's do not)."""
        self.unlock(account)

    def unlock(self, account: str) -> int:
        """Clear an account's counts and back-off, from every address; rows cleared."""
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


def _of_account(account: str):
    """The account's own subjects: ``account:<id>`` and every ``pair:<id>|<client>``. The LIKE
    names its escape character: PostgreSQL's default is a backslash, SQLite has none."""
    escaped = account.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    t = throttle.c
    return or_(t.subject == f"account:{account}", t.subject.like(f"pair:{escaped}|%", escape="\\"))


def _fresh_or_next(now: dt.datetime):
    """``1`` after a quiet spell of FORGET_AFTER, else ``attempts + 1`` (in SQL)."""
    from sqlalchemy import case

    t = throttle.c
    return case((t.last_attempt < now - FORGET_AFTER, 1), else_=t.attempts + 1)
