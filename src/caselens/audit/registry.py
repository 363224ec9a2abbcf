"""The key registry: which signing keys the operator has approved, and from which entry.

A ``key_rotated`` entry is signed by the key it retires. Anyone who still holds a *retired*
key could therefore write a new rotation — to the same key, or to one of their own — and
re-sign everything after the real rotation. The registry closes that: it is a small text file
the operator keeps **outside the data folder** (``CASELENS_AUDIT_KEY_REGISTRY``), written by
hand after each ``caselens audit rotate-key``, one line per key::

    # CaseLens audit key registry: KEY_ID from FIRST_ENTRY
    3f2a9c0d1e2b4a5f from 1
    9a8b7c6d5e4f3a2b from 1043

Key ids are public fingerprints (``keys.key_id``), never keys. ``verify`` accepts a rotation
only when it is signed by the key it retires, names a different key, and that key is registered
from the entry right after the rotation; a registered key whose rotation is not in the trail
means the retired key went on signing after its retirement (or the trail was cut short).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caselens.audit.errors import AuditError, ChainBroken
from caselens.settings import environment

KEY_REGISTRY_ENV = "CASELENS_AUDIT_KEY_REGISTRY"
#: Largest registry file read (a line is about 30 bytes: room for thousands of rotations).
MAX_REGISTRY_BYTES = 64 * 1024
_LINE = re.compile(r"^([0-9a-f]{16})\s+from\s+([0-9]{1,18})$")


@dataclass(frozen=True)
class RegisteredKey:
    """A key the operator approved: it signs the trail from entry ``first_seq`` on."""

    key_id: str
    first_seq: int


@dataclass(frozen=True)
class KeyRegistry:
    """The registered keys, by id, and where the registry was read from."""

    keys: Mapping[str, RegisteredKey]
    source: str


def registry_line(key_id: str, first_seq: int) -> str:
    """The line to add to the registry for a key that signs from ``first_seq``.

    Examples
    --------
    >>> registry_line("ab" * 8, 12)
    'abababababababab from 12'
    """
    return f"{key_id} from {first_seq}"


def parse_registry(text: str, *, source: str = "the key registry") -> KeyRegistry:
    """Parse registry text: ``KEY_ID from ENTRY`` per line; blank lines and ``#`` comments.

    Raises
    ------
    AuditError
        Naming the line and what is wrong: not ``KEY_ID from ENTRY``, an entry below 1, a key
        registered twice, or two keys registered from the same entry.
    """
    keys: dict[str, RegisteredKey] = {}
    starts: dict[int, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise AuditError(
                f"{source}, line {number}: expected 'KEY_ID from ENTRY' (16 lower-case hex "
                f"characters, the word from, an entry number), got {line[:80]!r}"
            )
        kid, first = match.group(1), int(match.group(2))
        if first < 1:
            raise AuditError(f"{source}, line {number}: entries start at 1, got {first}")
        if kid in keys:
            raise AuditError(f"{source}, line {number}: key {kid} is registered twice")
        if first in starts:
            raise AuditError(
                f"{source}, line {number}: keys {starts[first]} and {kid} are both "
                f"registered from entry {first}"
            )
        keys[kid] = RegisteredKey(kid, first)
        starts[first] = kid
    return KeyRegistry(keys=keys, source=source)


def read_registry(path: str | os.PathLike[str]) -> KeyRegistry:
    """Read the registry file at ``path``.

    Raises
    ------
    AuditError
        If the file is missing, too large, not UTF-8 text, or has a bad line.
    """
    file = Path(path)
    if not file.is_file():
        raise AuditError(
            f"the key registry {file} ({KEY_REGISTRY_ENV}) does not exist; create it with the "
            "lines `caselens audit rotate-key` printed"
        )
    if file.stat().st_size > MAX_REGISTRY_BYTES:
        raise AuditError(f"the key registry {file} is larger than {MAX_REGISTRY_BYTES} bytes")
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AuditError(f"the key registry {file} is not UTF-8 text") from exc
    return parse_registry(content, source=f"the key registry {file}")


def default_registry_file(env: Mapping[str, str] | None = None) -> Path | None:
    """``CASELENS_AUDIT_KEY_REGISTRY``, or None when no registry is configured."""
    env = environment() if env is None else env
    value = env.get(KEY_REGISTRY_ENV, "").strip()
    return Path(value) if value else None


def check_rotations(
    rotations: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    first_key: str,
    count: int,
    registry: KeyRegistry | None,
) -> ChainBroken | None:
    """The first rotation (or missing rotation) the registry does not allow, or None.

    Parameters
    ----------
    rotations : sequence of (int, mapping)
        Each ``key_rotated`` entry's seq and details (``from_key``, ``to_key``), in seq order.
    first_key : str
        The id of the key that signed entry 1.
    count : int
        Entries in the trail.
    registry : KeyRegistry or None
        The operator's registry; None when none is configured (then no rotation is valid).
    """
    where = (
        registry.source
        if registry is not None
        else f"a key registry (none is configured: set {KEY_REGISTRY_ENV})"
    )
    registered = dict(registry.keys) if registry is not None else {}
    found, rotated_at = _walk_rotations(rotations, first_key, registered, where)
    for entry in registered.values():
        if entry.key_id in rotated_at:
            continue
        missing = _missing_rotation(entry, first_key, count, where)
        if missing is not None:
            found.append(missing)
    return min(found, key=lambda b: b.seq) if found else None


def _walk_rotations(
    rotations: Sequence[tuple[int, Mapping[str, Any]]],
    first_key: str,
    registered: Mapping[str, RegisteredKey],
    where: str,
) -> tuple[list[ChainBroken], dict[str, int]]:
    """Follow the rotations in order: the first one not allowed, and where each key began."""
    signer = first_key
    rotated_at: dict[str, int] = {}
    for seq, detail in rotations:
        old, new = str(detail.get("from_key")), str(detail.get("to_key"))
        broken = _rotation_fault(seq, old, new, signer, registered.get(new), where)
        if broken is not None:
            return [broken], rotated_at
        rotated_at[new] = seq
        signer = new
    return [], rotated_at


def _rotation_fault(
    seq: int, old: str, new: str, signer: str, entry: RegisteredKey | None, where: str
) -> ChainBroken | None:
    """What is wrong with the rotation at ``seq`` from ``old`` to ``new``, or None."""
    if old != signer:
        return ChainBroken(seq, "bad_rotation", f"retiring key {signer}", f"key {old}")
    if new == old:
        return ChainBroken(seq, "bad_rotation", "a change to another key", f"key {old} again")
    if entry is None:
        return ChainBroken(
            seq, "unregistered_key", f"key {new} registered in {where}", "not registered"
        )
    if entry.first_seq < seq + 1:
        # The operator registered the change earlier: the old key signed past its end.
        return ChainBroken(
            entry.first_seq,
            "after_retirement",
            f"key {new} from entry {entry.first_seq} ({where})",
            f"key {old} until entry {seq}",
        )
    if entry.first_seq > seq + 1:
        return ChainBroken(
            seq,
            "bad_rotation",
            f"the change to key {new} at entry {entry.first_seq - 1} ({where})",
            f"a change at entry {seq}",
        )
    return None


def _missing_rotation(
    entry: RegisteredKey, first_key: str, count: int, where: str
) -> ChainBroken | None:
    """What a registered key whose rotation is not in the trail says about the trail, or None."""
    if entry.first_seq == 1:
        if entry.key_id != first_key:
            return ChainBroken(
                1, "unregistered_key", f"key {entry.key_id} ({where})", f"key {first_key}"
            )
        return None
    change = entry.first_seq - 1
    if count < change:
        return ChainBroken(
            count + 1,
            "truncated",
            f"at least {change} entries (the registered change to key {entry.key_id})",
            f"{count} entries",
        )
    if count == change:
        return ChainBroken(
            change, "bad_rotation", f"the change to key {entry.key_id} ({where})", "none"
        )
    return ChainBroken(
        entry.first_seq,
        "after_retirement",
        f"key {entry.key_id} from entry {entry.first_seq} ({where})",
        "no change to it in the trail",
    )
