"""Verification of a chain of entries: pure, recompute then compare.

``verify_chain`` streams the entries once. Only when it meets a problem does it read the rest of
the entries, to tell a moved entry from an altered, missing or inserted one.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from caselens.audit.chain import GENESIS_HASH, hash_of, signature_ok
from caselens.audit.errors import ChainBroken
from caselens.audit.records import AuditEntry

#: Entries read past a break to name it; an entry moved farther than this is reported as
#: altered or missing rather than reordered (its position is still reported correctly).
LOOKAHEAD = 10_000


@dataclass(frozen=True)
class KeyRing:
    """The keys that signed a trail, and which entries each one signed.

    A trail is signed by one key at a time. ``caselens audit rotate-key`` records a
    ``key_rotated`` entry (signed with the old key) naming the old and the new key's ids;
    entries after it are signed with the new key. ``segments`` lists, in order, the first
    entry of each key's stretch and that key's id.

    Attributes
    ----------
    keys : mapping of str to bytes
        The keys this server holds (active and retired), by :func:`~caselens.audit.keys.key_id`.
    segments : tuple of (int, str)
        ``(first seq, key id)`` for each stretch, starting at 1.
    """

    keys: Mapping[str, bytes]
    segments: tuple[tuple[int, str], ...]

    def key_id_for(self, seq: int) -> str:
        """The id of the key that signed entry ``seq``."""
        index = bisect.bisect_right([start for start, _ in self.segments], seq) - 1
        return self.segments[max(index, 0)][1]

    def for_seq(self, seq: int) -> bytes | None:
        """The key that signed entry ``seq``, or None if this server does not hold it."""
        return self.keys.get(self.key_id_for(seq))


Key = bytes | KeyRing


def _signed(entry: AuditEntry, key: Key) -> bool:
    """Whether the entry's HMAC is that of the key that signs its position."""
    chosen = key.for_seq(entry.seq) if isinstance(key, KeyRing) else key
    return chosen is not None and signature_ok(entry.entry_hash, entry.hmac, key=chosen)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking a trail.

    Attributes
    ----------
    count : int
        Entries checked (all of them when ``ok``).
    head_hash : str
        Hash of the last good entry (``GENESIS_HASH`` for an empty trail).
    broken : ChainBroken or None
        The first problem, or None when the trail is intact.
    seconds : float
        Time taken.
    warnings : tuple of str
        Findings that do not break the chain but a reviewer must see (entries stamped in
        the future, key changes).
    witness : str
        The comparison with the witness, in words ("" when no witness is configured).
    witness_problem : str or None
        Why the trail could not be compared with its witness (it could not be read): the
        trail is then not confirmed, even if its chain holds.
    """

    count: int
    head_hash: str
    broken: ChainBroken | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    witness: str = ""
    witness_problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found and the witness, if any, was compared."""
        return self.broken is None and self.witness_problem is None

    def summary(self) -> str:
        """One line for a person: ``OK: N entries, head H`` or the first problem."""
        if self.broken is not None:
            return f"BROKEN: {self.broken}"
        if self.witness_problem is not None:
            return f"NOT CONFIRMED: {self.witness_problem}"
        return f"OK: {self.count} entries, head {self.head_hash}"


def parse_head(text: str) -> tuple[int, str]:
    """Parse an anchored head written as ``COUNT:HASH``.

    Examples
    --------
    >>> parse_head("3:" + "ab" * 32)[0]
    3
    """
    count, sep, head = text.strip().partition(":")
    if not sep or not count.isdigit() or len(head) != 64:
        raise ValueError(f"a head is written COUNT:HASH (64 hex characters); got {text!r}")
    try:
        bytes.fromhex(head)
    except ValueError:
        raise ValueError(f"the head hash is not hex: {head!r}") from None
    return int(count), head.lower()


def verify_chain(
    entries: Iterable[AuditEntry],
    *,
    key: Key,
    expected_head: tuple[int, str] | None = None,
) -> VerifyResult:
    """Walk a trail from its first entry and check every link.

    For each entry, in order: the sequence number follows the previous one (starting at 1),
    the content hashes to the stored ``entry_hash``, the HMAC is the server key's, ``prev_hash``
    is the previous entry's hash and ``recorded_at`` does not go backwards.

    Parameters
    ----------
    entries : iterable of AuditEntry
        The trail in ``seq`` order, from entry 1.
    key : bytes
        The server key.
    expected_head : (int, str), optional
        A head seen earlier (an anchor): the trail must hold at least that many entries and
        the entry at that count must carry that hash.

    Returns
    -------
    VerifyResult
        With ``broken`` None.

    Raises
    ------
    ChainBroken
        At the first problem, naming its position, reason and the values compared.
    """
    result = _walk(entries, key=key, expected_head=expected_head)
    if result.broken is not None:
        raise result.broken
    return result


def verify_quietly(
    entries: Iterable[AuditEntry], *, key: Key, expected_head: tuple[int, str] | None = None
) -> VerifyResult:
    """Like ``verify_chain`` but returns the problem in ``VerifyResult.broken`` instead.

    ``count`` and ``head_hash`` then describe the intact entries before the problem.
    """
    return _walk(entries, key=key, expected_head=expected_head)


def _walk(
    entries: Iterable[AuditEntry], *, key: Key, expected_head: tuple[int, str] | None
) -> VerifyResult:
    started = time.perf_counter()
    it = iter(entries)
    prev = GENESIS_HASH
    last_time = ""
    expected_seq = 1
    anchor_count, anchor_hash = expected_head if expected_head else (0, GENESIS_HASH)
    seen: dict[str, int] = {}  # hash -> position, to recognise a moved entry on the failure path
    broken: ChainBroken | None = None
    for entry in it:
        if entry.seq != expected_seq:
            broken = _seq_break(entry, expected_seq, prev, seen, _lookahead(it), key)
            break
        if isinstance(key, KeyRing) and key.for_seq(expected_seq) is None:
            # Name the key change rather than calling every later entry badly signed.
            broken = ChainBroken(
                expected_seq, "unknown_key", f"key {key.key_id_for(expected_seq)}", "not held here"
            )
            break
        recomputed = hash_of(entry)
        if recomputed != entry.entry_hash or entry.prev_hash != prev or not _signed(entry, key):
            broken = _content_break(
                entry, recomputed, expected_seq, prev, seen, _lookahead(it), key
            )
            break
        if entry.recorded_at < last_time:
            broken = ChainBroken(entry.seq, "reordered", f">= {last_time}", entry.recorded_at)
            break
        if expected_seq == anchor_count and entry.entry_hash != anchor_hash:
            broken = ChainBroken(expected_seq, "altered", anchor_hash, entry.entry_hash)
            break
        seen[entry.entry_hash] = expected_seq
        prev = entry.entry_hash
        last_time = entry.recorded_at
        expected_seq += 1
    count = expected_seq - 1
    if broken is None and count < anchor_count:
        broken = ChainBroken(count + 1, "truncated", f"{anchor_count} entries", f"{count} entries")
    return VerifyResult(count, prev, broken, time.perf_counter() - started)


def _lookahead(it: Iterator[AuditEntry]) -> list[AuditEntry]:
    """The entries after a break, up to ``LOOKAHEAD``: enough to tell a moved entry from an
    altered one without holding a whole large trail (and its reports) in memory."""
    return list(itertools.islice(it, LOOKAHEAD))


def _genuine_at(entry: AuditEntry, seq: int, prev: str | None, key: Key) -> bool:
    """Whether ``entry`` is exactly what CaseLens wrote at ``seq`` (after ``prev``, if given)."""
    if prev is not None and entry.prev_hash != prev:
        return False
    moved = entry if entry.seq == seq else replace(entry, seq=seq)
    return hash_of(moved) == entry.entry_hash and _signed(entry, key)


def _original_seq(
    entry: AuditEntry, by_hash: dict[str, AuditEntry], key: Key, depth: int = 3
) -> int | None:
    """The position a signed entry was written at, found by following its ``prev_hash`` link."""
    if _genuine_at(entry, entry.seq, None, key):
        return entry.seq
    if depth == 0:
        return None
    if entry.prev_hash == GENESIS_HASH:
        candidate = 1
    else:
        before = by_hash.get(entry.prev_hash)
        if before is None:
            return None
        before_seq = _original_seq(before, by_hash, key, depth - 1)
        if before_seq is None:
            return None
        candidate = before_seq + 1
    return candidate if _genuine_at(entry, candidate, None, key) else None


def _scan_positions(entry: AuditEntry, around: int, limit: int, key: Key) -> int | None:
    for distance in range(1, limit + 1):
        for candidate in (around + distance, around - distance):
            if candidate >= 1 and _genuine_at(entry, candidate, None, key):
                return candidate
    return None


def _index(seen_rest: list[AuditEntry]) -> dict[str, AuditEntry]:
    return {e.entry_hash: e for e in seen_rest}


def _seq_break(
    entry: AuditEntry,
    expected_seq: int,
    prev: str,
    seen: dict[str, int],
    rest: list[AuditEntry],
    key: Key,
) -> ChainBroken:
    """Name a break found from the sequence numbers alone."""
    if entry.seq > expected_seq:
        later = any(e.seq == expected_seq for e in rest)
        reason = "reordered" if later else "missing"
        return ChainBroken(expected_seq, reason, str(expected_seq), str(entry.seq))
    # A number already used, or below the start: a duplicate of an earlier entry is a
    # reordering; anything else was put there by someone other than CaseLens.
    reason = "reordered" if entry.entry_hash in seen else "inserted"
    return ChainBroken(expected_seq, reason, str(expected_seq), str(entry.seq))


def _content_break(
    entry: AuditEntry,
    recomputed: str,
    expected_seq: int,
    prev: str,
    seen: dict[str, int],
    rest: list[AuditEntry],
    key: Key,
) -> ChainBroken:
    """Name a break at an entry whose content, signature or link does not check out."""
    # Entries before this one are intact and sit where they were written.
    by_hash = _index(rest)
    by_hash[entry.entry_hash] = entry
    original = _original_seq(entry, by_hash, key)
    if original is None and entry.prev_hash in seen:
        # Linked to an intact earlier entry: the link tells where it was written.
        candidate = seen[entry.prev_hash] + 1
        if _genuine_at(entry, candidate, None, key):
            original = candidate
    if original is None and _signed(entry, key):
        # Signed but not at this position and not findable by its link (its neighbours are gone
        # too): look for the position it was written at, nearest first. Failure path only.
        original = _scan_positions(entry, expected_seq, len(seen) + len(rest) + 2, key)
    if original is not None and original != expected_seq:
        # A genuine entry in the wrong place: either entries were moved, or the ones before it
        # were deleted and the rest renumbered to hide the gap.
        rightful_later = any(_genuine_at(e, expected_seq, prev, key) for e in rest)
        if original > expected_seq and not rightful_later:
            return ChainBroken(expected_seq, "missing", prev, entry.prev_hash)
        return ChainBroken(expected_seq, "reordered", str(expected_seq), f"entry {original}")
    if original is None and rest and _genuine_at(rest[0], expected_seq, prev, key):
        # The next row is the real entry for this position: this one was slipped in before it.
        return ChainBroken(expected_seq, "inserted", prev, entry.entry_hash)
    if recomputed != entry.entry_hash:
        return ChainBroken(expected_seq, "altered", entry.entry_hash, recomputed)
    if not _signed(entry, key):
        return ChainBroken(expected_seq, "bad_signature", "HMAC of the server key", entry.hmac)
    return ChainBroken(expected_seq, "altered", prev, entry.prev_hash)


def entry_problem(
    entry: AuditEntry,
    previous: AuditEntry | None,
    following: AuditEntry | None,
    *,
    key: Key,
    last_seq: int | None = None,
) -> str | None:
    """Why one entry cannot be trusted as it stands, or None when it verifies.

    Checked before a replay draws an entry: its hash against its content, its signature
    under the server key, and its links to its neighbours (the entry before it must be
    there and be the one it names; the entry after it, if any, must name it).

    Parameters
    ----------
    entry : AuditEntry
    previous, following : AuditEntry or None
        The entries at ``entry.seq - 1`` and ``entry.seq + 1`` as stored (None if absent).
    key : bytes
        The server key that signed the trail.
    last_seq : int, optional
        The newest entry's ``seq``: when it is later than this entry, the entry after it
        must be there.
    """
    if hash_of(entry) != entry.entry_hash:
        return "its content does not match its hash, so it was changed after it was written"
    if isinstance(key, KeyRing) and key.for_seq(entry.seq) is None:
        return f"it is signed by key {key.key_id_for(entry.seq)}, which this server does not hold"
    if not _signed(entry, key):
        return "its signature is not valid under this server's key"
    if entry.seq == 1:
        if entry.prev_hash != GENESIS_HASH:
            return "it is the first entry but does not start the chain"
    elif previous is None:
        return f"the entry before it (#{entry.seq - 1}) is missing"
    elif entry.prev_hash != previous.entry_hash:
        return f"its link to the entry before it (#{entry.seq - 1}) is broken"
    if following is None:
        if last_seq is not None and last_seq > entry.seq:
            return f"the entry after it (#{entry.seq + 1}) is missing"
    elif following.prev_hash != entry.entry_hash:
        return f"the entry after it (#{following.seq}) does not link to it"
    return None
