"""The server key: kept outside the database, so whoever can write the database cannot sign."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from caselens.audit.errors import AuditKeyError
from caselens.settings import environment

KEY_ENV = "CASELENS_AUDIT_KEY"
KEY_BYTES = 32
_MIN_KEY_BYTES = 16


def parse_key(text: str) -> bytes:
    """Decode a hex key, refusing short or malformed ones.

    Examples
    --------
    >>> len(parse_key("ab" * 32))
    32
    """
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise AuditKeyError("the audit key must be hexadecimal") from None
    if len(key) < _MIN_KEY_BYTES:
        raise AuditKeyError(f"the audit key must be at least {_MIN_KEY_BYTES} bytes")
    return key


def load_key(
    key_file: str | os.PathLike[str] | None,
    *,
    create: bool = True,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Load the server key from ``CASELENS_AUDIT_KEY`` (hex) or a key file.

    Parameters
    ----------
    key_file : path, optional
        The key file (hex text). Used when the environment variable is not set.
    create : bool
        Create the key file with 32 random bytes, mode 0600, when it does not exist.
    env : mapping, optional
        The environment to read (default: the process's, as ``caselens.settings`` reads it).

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    AuditKeyError
        If no key is available, it is malformed, or the key file is readable by others.
    """
    env = environment() if env is None else env
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV])
    if key_file is None:
        raise AuditKeyError(f"no audit key: set {KEY_ENV} or give a key file")
    path = Path(key_file)
    if not path.exists():
        if not create:
            raise AuditKeyError(f"no audit key file at {path}")
        return _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(
            f"the audit key file {path} is readable by others (mode {mode:o}); run chmod 600"
        )
    return parse_key(path.read_text(encoding="ascii"))


def _create_key_file(path: Path) -> bytes:
    key = os.urandom(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Write a private temporary file, then link it into place: the link fails if another
    # process got there first, and nobody ever reads a half-written key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return load_key(path, create=False, env={})
    finally:
        tmp.unlink(missing_ok=True)
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key, to tell keys apart without revealing them."""
    return hashlib.sha256(b"caselens.audit.keyid.v1\x00" + key).hexdigest()[:16]


def retired_keys_dir(key_file: str | os.PathLike[str]) -> Path:
    """Where retired keys are kept beside the key file: ``<key file>.retired/<key id>.key``."""
    path = Path(key_file)
    return path.with_name(path.name + ".retired")


def load_retired_keys(key_file: str | os.PathLike[str] | None) -> dict[str, bytes]:
    """The retired keys kept beside ``key_file`` (to verify entries signed before a rotation)."""
    if key_file is None:
        return {}
    folder = retired_keys_dir(key_file)
    if not folder.is_dir():
        return {}
    keys = {}
    for file in sorted(folder.glob("*.key")):
        key = load_key(file, create=False, env={})
        keys[key_id(key)] = key
    return keys


def _write_private(path: Path, key: bytes) -> None:
    """Write a key file (0600) atomically: a reader sees the old or the new key, never half."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def retire_and_replace_key(key_file: str | os.PathLike[str], new_key: bytes) -> bytes:
    """Keep the current key in the retired folder, then make ``new_key`` the key file's key.

    Returns the retired key. The retired copy is written (and synced) before the key file is
    replaced, so no key is ever lost between the two steps.
    """
    path = Path(key_file)
    old = load_key(path, create=False, env={})
    _write_private(retired_keys_dir(path) / f"{key_id(old)}.key", old)
    _write_private(path, new_key)
    return old


def new_key() -> bytes:
    """A fresh random server key."""
    return os.urandom(KEY_BYTES)
