"""Ed25519 signing keys: the server's key for files that leave CaseLens, and public keys to
check signatures with.

The audit trail's HMAC key (:mod:`caselens.audit.keys`) proves entries to whoever holds that
secret; a file handed to a colleague, an auditor or another hospital must be checkable by
anyone holding only a *public* key. Signed report files, evidence packs and signed model
bundles therefore use Ed25519 (RFC 8032) through ``cryptography``.

The server's private key is a PKCS#8 PEM file (as ``openssl genpkey -algorithm ed25519``
writes it), mode 0600, outside the database: ``CASELENS_SIGNING_KEY_FILE`` or
``<data dir>/signing.key.pem``, created on first use in demo mode. The same lifecycle as the
audit key applies: :func:`retire_and_replace_signing_key` keeps the retired key's *public*
half beside the key file (``<key file>.retired/<key id>.pub.pem``), so files signed before a
rotation still verify, as signed by a retired key.

A key id is the first 16 hex digits of SHA-256 over the raw 32-byte public key, so anyone
can compute it from the public key alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from caselens.audit.errors import AuditKeyError

#: Default file name of the server's signing key in the data folder.
SIGNING_KEY_FILE = "signing.key.pem"
#: Largest key file read (a PEM Ed25519 key is about 120 bytes; anything larger is not one).
MAX_KEY_FILE_BYTES = 16 * 1024
#: Hex digits of SHA-256 kept as the key id.
KEY_ID_HEX = 16

KeyStanding = Literal["current", "retired", "trusted", "unknown", "revoked"]


def signing_key_id(public_key: Ed25519PublicKey) -> str:
    """The key id: 16 hex digits of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM text (what ``openssl pkey -pubout`` writes)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key with its id; signs bytes."""

    private_key: Ed25519PrivateKey = field(repr=False)
    key_id: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half."""
        return self.private_key.public_key()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key."""
        private = Ed25519PrivateKey.generate()
        return cls(private, signing_key_id(private.public_key()))


def _read_bounded(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AuditKeyError(f"{what} {path} cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_KEY_FILE_BYTES:
        raise AuditKeyError(
            f"{what} {path} is {size:,} bytes; an Ed25519 PEM key is under "
            f"{MAX_KEY_FILE_BYTES:,} bytes"
        )
    try:
        return path.read_bytes()[:MAX_KEY_FILE_BYTES]
    except OSError as exc:
        raise AuditKeyError(f"{what} {path} cannot be read ({exc.strerror or exc})") from exc


def parse_private_key(data: bytes, *, source: str = "the signing key") -> SigningKey:
    """An Ed25519 private key from PKCS#8 PEM bytes; any other key or text is refused."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(
            f"{source} is not an unencrypted PEM private key ({exc}); expected an Ed25519 key "
            "as `openssl genpkey -algorithm ed25519` writes it"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(
            f"{source} is a {type(key).__name__.removesuffix('PrivateKey') or 'other'} key; "
            "expected an Ed25519 key"
        )
    return SigningKey(key, signing_key_id(key.public_key()))


def parse_public_key(data: bytes, *, source: str = "the public key") -> Ed25519PublicKey:
    """An Ed25519 public key from SubjectPublicKeyInfo PEM bytes; anything else is refused."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(
            f"{source} is not a PEM public key ({exc}); expected an Ed25519 public key as "
            "`openssl pkey -pubout` writes it"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{source} is not an Ed25519 public key")
    return key


def read_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read a public key file (bounded; every failure names the file)."""
    file = Path(path)
    return parse_public_key(_read_bounded(file, "the public key file"), source=str(file))


def read_private_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a private key file (bounded; refused when others may read it)."""
    file = Path(path)
    data = _read_bounded(file, "the signing key file")
    mode = stat.S_IMODE(file.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(
            f"the signing key file {file} is readable by others (mode {mode:o}); run chmod 600"
        )
    return parse_private_key(data, source=str(file))


def _pem_private(key: SigningKey) -> bytes:
    return key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write atomically: a reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_signing_key(path: str | os.PathLike[str], *, create: bool = False) -> SigningKey:
    """The server's signing key from ``path``; with ``create``, a new key when none exists
    (written 0600, linked into place so two processes starting together share one key)."""
    file = Path(path)
    if file.exists():
        return read_private_key(file)
    if not create:
        raise AuditKeyError(
            f"no signing key file at {file}; create one with `openssl genpkey -algorithm "
            f"ed25519 -out {file}` (mode 0600) or set CASELENS_SIGNING_KEY_FILE"
        )
    key = SigningKey.generate()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_pem_private(key))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, file)
    except FileExistsError:
        return read_private_key(file)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def retired_signing_keys_dir(key_file: str | os.PathLike[str]) -> Path:
    """Where retired public keys are kept: ``<key file>.retired/<key id>.pub.pem``."""
    path = Path(key_file)
    return path.with_name(path.name + ".retired")


def retire_and_replace_signing_key(
    key_file: str | os.PathLike[str], new_key: SigningKey | None = None
) -> SigningKey:
    """Keep the current key's public half in the retired folder, then make ``new_key`` (a
    fresh one by default) the key file's key. Returns the new key.

    The retired public key is written (and synced) before the key file is replaced, so a
    file signed with the old key never becomes unverifiable.
    """
    path = Path(key_file)
    old = read_private_key(path)
    new = new_key or SigningKey.generate()
    retired = retired_signing_keys_dir(path) / f"{old.key_id}.pub.pem"
    _write_file(retired, public_key_pem(old.public_key).encode("ascii"), 0o644)
    _write_file(path, _pem_private(new), 0o600)
    return new


@dataclass(frozen=True)
class KeyVerdict:
    """Whether a signature holds and how its key stands."""

    valid: bool
    key_id: str
    standing: KeyStanding
    reason: str


@dataclass
class KeyRing:
    """The public keys a verifier trusts: the server's current key, its retired keys, the
    operator's trusted publishers, and the ids revoked (refused whatever they signed)."""

    current: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    retired: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    trusted: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()

    @classmethod
    def for_server(
        cls,
        key_file: str | os.PathLike[str],
        *,
        trusted: Iterable[Ed25519PublicKey] = (),
        revoked: Iterable[str] = (),
    ) -> KeyRing:
        """The server's own ring: its current key (when the file exists), its retired public
        keys, and ``trusted`` others."""
        path = Path(key_file)
        ring = cls(
            trusted={signing_key_id(k): k for k in trusted},
            revoked=frozenset(revoked),
        )
        if path.exists():
            key = read_private_key(path)
            ring.current[key.key_id] = key.public_key
        folder = retired_signing_keys_dir(path)
        if folder.is_dir():
            for file in sorted(folder.glob("*.pub.pem")):
                public = read_public_key(file)
                ring.retired[signing_key_id(public)] = public
        return ring

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every key in the ring by id (current, retired and trusted)."""
        return {**self.trusted, **self.retired, **self.current}

    def verify(self, key_id: str, signature: bytes, message: bytes) -> KeyVerdict:
        """Check ``signature`` over ``message`` by the key ``key_id``, and say how it stands."""
        if key_id in self.revoked:
            return KeyVerdict(False, key_id, "revoked", f"signed by key {key_id}, which is revoked")
        standing: KeyStanding
        if key_id in self.current:
            key, standing = self.current[key_id], "current"
        elif key_id in self.retired:
            key, standing = self.retired[key_id], "retired"
        elif key_id in self.trusted:
            key, standing = self.trusted[key_id], "trusted"
        else:
            return KeyVerdict(
                False, key_id, "unknown", f"signed by key {key_id}, which this server does not know"
            )
        try:
            key.verify(signature, message)
        except InvalidSignature:
            mismatch = f"the signature does not match the signed content (key {key_id})"
            return KeyVerdict(False, key_id, standing, mismatch)
        note = {
            "current": f"signed by this server's current key {key_id}",
            "retired": f"signed by this server's retired key {key_id} (valid before its rotation)",
            "trusted": f"signed by the trusted key {key_id}",
        }[standing]
        return KeyVerdict(True, key_id, standing, note)
