"""Signed model bundles: a publisher's Ed25519 signature over a manifest of every file.

``signature.json`` in the bundle folder (format in docs/bundle-signing.md)::

    {"v": 1, "alg": "Ed25519", "key_id": KEY_ID, "signature": BASE64URL,
     "signed": {"format": "caselens-bundle-manifest", "v": 1, "publisher": NAME,
                "key_id": KEY_ID, "signed_at": UTC ISO-8601,
                "files": {NAME: {"sha256": HEX, "bytes": N}, ...}}}

The signature is over the canonical JSON of ``signed`` (sorted keys, no spaces, UTF-8: the
same spelling as :func:`caselens.explain.report.canonical_json`). ``files`` names every
file of the folder but ``signature.json`` itself: nothing is skipped, so an added file is
caught as well as a changed or missing one.

This module sits in ``model`` (below ``audit``), so it takes keys as ``cryptography``
objects and a signer as anything with ``key_id`` and ``sign``
(:class:`caselens.audit.signing_keys.SigningKey` is one); whoever builds a
:class:`BundleTrust` reads the PEM files.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from caselens.errors import BundleError
from caselens.model.bounded import loads_bounded, read_bounded
from caselens.model.bundle_layout import MAX_BUNDLE_ENTRIES, MAX_TABLE_FILE_BYTES

#: The signature file's name inside a bundle folder.
SIGNATURE_FILE = "signature.json"
#: What ``signed.format`` says, so a signature made for another kind of file never passes.
MANIFEST_FORMAT = "caselens-bundle-manifest"
#: Largest signature file read: 1,000 entries of about 130 bytes, with room to spare.
MAX_SIGNATURE_FILE_BYTES = 512 * 1024
#: Deepest nesting a genuine manifest has (3); a little room, never a parser's recursion.
MAX_SIGNATURE_JSON_DEPTH = 8
#: Largest file signed or hashed: the largest file any part of a bundle may be (a table).
MAX_SIGNED_FILE_BYTES = MAX_TABLE_FILE_BYTES
#: Longest publisher name (a name, not a text).
MAX_PUBLISHER_CHARS = 200
#: A file name in the manifest: one plain name, no folder, no hidden parent, no control.
_FILE_NAME = re.compile(r"^(?!\.{1,2}$)[^/\\\x00-\x1f\x7f]{1,255}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIGNED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
#: Chunk size for hashing: a file is never held whole in memory.
_CHUNK = 1 << 20

SignatureStatus = Literal["trusted", "unsigned", "untrusted", "invalid"]


class BundleSigner(Protocol):
    """What signs a manifest: an Ed25519 private key with its key id."""

    key_id: str

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        ...


@dataclass(frozen=True)
class BundleTrust:
    """Which publisher keys a loader trusts, which are revoked, and whether a bundle must be
    signed by a trusted key to load.

    Attributes
    ----------
    trusted : mapping of str to Ed25519PublicKey
        Trusted publisher keys by key id (16 hex of SHA-256 over the raw public key).
    revoked : frozenset of str
        Key ids refused whatever they signed (wins over ``trusted``).
    required : bool
        Refuse a bundle that is unsigned, altered, or signed by a key not trusted.
    demo_keys : frozenset of str
        Trusted key ids that are demonstration keys (named as such on Model facts).
    """

    trusted: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()
    required: bool = False
    demo_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BundleSignature:
    """How a bundle's signature stands, as Model facts shows it.

    Attributes
    ----------
    status : {"trusted", "unsigned", "untrusted", "invalid"}
        ``trusted``: every file matches a manifest signed by a trusted key. ``untrusted``:
        the key is unknown (files not vouched for). ``invalid``: a revoked key, a bad
        signature, a malformed signature file, or a file changed, missing or added.
    publisher, key_id, signed_at : str or None
        As the signature file states them (None when unsigned or unreadable).
    problem : str or None
        What is wrong, naming the file or the key (None when trusted or unsigned).
    required : bool
        Whether signed bundles were required when it was loaded.
    demo_key : bool
        Signed by a key the operator trusts as a demonstration key.
    """

    status: SignatureStatus
    publisher: str | None = None
    key_id: str | None = None
    signed_at: str | None = None
    problem: str | None = None
    required: bool = False
    demo_key: bool = False

    def sentence(self) -> str:
        """One sentence for Model facts."""
        if self.status == "trusted":
            demo = " (the CaseLens demo publisher key: not secret, demonstration only)"
            return (
                f"Signed by {self.publisher} with trusted key {self.key_id}"
                f"{demo if self.demo_key else ''} on {self.signed_at}; every file matches."
            )
        if self.status == "unsigned":
            rule = (
                "signed bundles are required"
                if self.required
                else "signed bundles are not required here (demo mode or the operator's setting)"
            )
            return f"Unsigned: the bundle has no {SIGNATURE_FILE}; {rule}."
        loaded = (
            "" if self.required else " Loaded only because signed bundles are not required here."
        )
        return f"Signature not trusted: {self.problem}.{loaded}"


def canonical_manifest(signed: Mapping[str, Any]) -> bytes:
    """The bytes signed: sorted keys, no spaces, UTF-8 (as ``explain.report.canonical_json``)."""
    return json.dumps(
        signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def file_sha256(path: Path, *, limit: int = MAX_SIGNED_FILE_BYTES) -> tuple[str, int]:
    """SHA-256 and size of a regular file, read in chunks and never past ``limit`` bytes.

    Raises
    ------
    BundleError
        For a link, a special file, or a file larger than ``limit`` (naming it).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise BundleError(f"{path.name} cannot be read ({exc.strerror or exc}).") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{path.name} is not a regular file; bundles hold only files.")
        if info.st_size > limit:
            raise BundleError(f"{path.name} is {info.st_size:,} bytes; the limit is {limit:,}.")
        digest = hashlib.sha256()
        size = 0
        while chunk := handle.read(min(_CHUNK, limit + 1 - size)):
            size += len(chunk)
            if size > limit:  # grew while read
                raise BundleError(f"{path.name} is over {limit:,} bytes; refused.")
            digest.update(chunk)
    return digest.hexdigest(), size


def _folder_files(folder: Path) -> tuple[list[str], list[str]]:
    """The plain files directly in ``folder`` (sorted, but the signature file) and every
    other entry (subfolders, links, special files) as relative names."""
    files: list[str] = []
    others: list[str] = []
    count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            count += 1
            if count > MAX_BUNDLE_ENTRIES:
                raise BundleError(
                    f"The bundle folder {folder.name} holds more than {MAX_BUNDLE_ENTRIES} entries."
                )
            if entry.name == SIGNATURE_FILE:
                continue
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                others.append(entry.name)
            else:
                files.append(entry.name)
    return sorted(files), sorted(others)


def build_manifest(
    folder: str | Path, *, publisher: str, key_id: str, signed_at: dt.datetime | None = None
) -> dict[str, Any]:
    """The manifest (the ``signed`` part) of every file in ``folder``.

    Raises
    ------
    BundleError
        For a link, a subfolder or special file, an oversized file, a file name that is not
        a plain name, or a publisher name that is empty or too long — each named.
    """
    path = Path(folder)
    if not path.is_dir():
        raise BundleError(f"There is no bundle folder at {path}.")
    name = publisher.strip()
    if not name or len(name) > MAX_PUBLISHER_CHARS or not name.isprintable():
        raise BundleError(
            f"The publisher name must be 1 to {MAX_PUBLISHER_CHARS} printable characters."
        )
    files, others = _folder_files(path)
    if others:
        raise BundleError(
            f"The bundle folder {path.name} holds {others[0]!r}, which is a link, a subfolder "
            "or a special file; a bundle holds only plain files, so it is not signed."
        )
    manifest: dict[str, dict[str, Any]] = {}
    for file in files:
        if not _FILE_NAME.match(file):
            raise BundleError(f"The file name {file!r} is not a plain file name; not signed.")
        digest, size = file_sha256(path / file)
        manifest[file] = {"sha256": digest, "bytes": size}
    when = (signed_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "format": MANIFEST_FORMAT,
        "v": 1,
        "publisher": name,
        "key_id": key_id,
        "signed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": manifest,
    }


def sign_bundle(
    folder: str | Path,
    signer: BundleSigner,
    *,
    publisher: str,
    signed_at: dt.datetime | None = None,
) -> Path:
    """Write ``signature.json`` into ``folder``: the manifest of every other file, signed.

    Returns the signature file's path. Any earlier signature file is replaced (atomically).
    """
    path = Path(folder)
    signed = build_manifest(path, publisher=publisher, key_id=signer.key_id, signed_at=signed_at)
    document = {
        "v": 1,
        "alg": "Ed25519",
        "key_id": signer.key_id,
        "signature": _b64url(signer.sign(canonical_manifest(signed))),
        "signed": signed,
    }
    target = path / SIGNATURE_FILE
    tmp = path / f".{SIGNATURE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def _text(value: Any, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise BundleError(f"the signature file's {where} is missing or malformed")
    return value


def _parse_signature_file(data: bytes) -> tuple[str, bytes, dict[str, Any]]:
    """(key id, signature bytes, signed manifest) of a signature file, every field checked."""
    document = loads_bounded(
        data, what=f"The signature file ({SIGNATURE_FILE})", max_depth=MAX_SIGNATURE_JSON_DEPTH
    )
    if not isinstance(document, dict):
        raise BundleError("the signature file is not a JSON object")
    if document.get("v") != 1 or document.get("alg") != "Ed25519":
        raise BundleError("the signature file is not version 1 with alg Ed25519")
    key_id = _text(document.get("key_id"), "key_id", _KEY_ID)
    encoded = _text(document.get("signature"), "signature", re.compile(r"^[A-Za-z0-9_-]{86}$"))
    try:
        signature = _unb64url(encoded)
    except (binascii.Error, ValueError):
        raise BundleError("the signature file's signature is not base64url") from None
    signed = document.get("signed")
    if not isinstance(signed, dict):
        raise BundleError("the signature file's signed manifest is missing")
    if signed.get("format") != MANIFEST_FORMAT or signed.get("v") != 1:
        raise BundleError(f"the signed manifest is not a {MANIFEST_FORMAT} version 1")
    if signed.get("key_id") != key_id:
        raise BundleError("the signature file names two different key ids")
    publisher = _text(signed.get("publisher"), "publisher")
    if not publisher.strip() or len(publisher) > MAX_PUBLISHER_CHARS or not publisher.isprintable():
        # Shown on Model facts and printed by `bundle verify`: a name, never a control code.
        raise BundleError(
            f"the signed manifest's publisher must be 1 to {MAX_PUBLISHER_CHARS} printable "
            "characters"
        )
    _text(signed.get("signed_at"), "signed_at", _SIGNED_AT)
    files = signed.get("files")
    if not isinstance(files, dict) or len(files) > MAX_BUNDLE_ENTRIES:
        raise BundleError("the signed manifest's files are missing or too many")
    for name, entry in files.items():
        if not _FILE_NAME.match(name) or name == SIGNATURE_FILE:
            raise BundleError(
                f"the signed manifest names {name[:80]!r}, which is not a plain file name in "
                "the bundle folder (no '/', no '..', not absolute)"
            )
        if (
            not isinstance(entry, dict)
            or set(entry) != {"sha256", "bytes"}
            or not isinstance(entry["sha256"], str)
            or not _SHA256.match(entry["sha256"])
            or type(entry["bytes"]) is not int
            or entry["bytes"] < 0
        ):
            raise BundleError(f"the signed manifest's entry for {name[:80]!r} is malformed")
    return key_id, signature, signed


def _file_problem(folder: Path, files: Mapping[str, Any]) -> str | None:
    """The first file that differs from the manifest (changed, missing or added), or None."""
    present, others = _folder_files(folder)
    extra = sorted((set(present) - set(files)) | set(others))
    if extra:
        return f"{extra[0]} was added after signing (it is not in the signed manifest)"
    for name in sorted(files):
        if name not in present:
            return f"{name} is missing (the signed manifest lists it)"
        expected = files[name]
        try:
            limit = min(expected["bytes"], MAX_SIGNED_FILE_BYTES)
            digest, size = file_sha256(folder / name, limit=limit)
        except BundleError:
            return f"{name} was changed after signing (its size differs)"
        if digest != expected["sha256"] or size != expected["bytes"]:
            return f"{name} was changed after signing (its SHA-256 differs)"
    return None


def check_bundle_signature(folder: str | Path, trust: BundleTrust) -> BundleSignature:
    """How ``folder``'s signature stands against ``trust`` (never raises for a bad one).

    The key is checked before the files: an unknown or revoked key, or a signature that does
    not match its manifest, vouches for nothing, so its file list is not compared.
    """
    path = Path(folder)
    required = trust.required
    signature_path = path / SIGNATURE_FILE
    if not os.path.lexists(signature_path):
        return BundleSignature("unsigned", required=required)
    try:
        data = read_bounded(signature_path, MAX_SIGNATURE_FILE_BYTES, "The signature file")
        key_id, signature, signed = _parse_signature_file(data)
    except BundleError as exc:
        return BundleSignature(
            "invalid", problem=f"{SIGNATURE_FILE} cannot be used: {exc}", required=required
        )
    stated = {
        "publisher": signed["publisher"],
        "key_id": key_id,
        "signed_at": signed["signed_at"],
        "required": required,
        "demo_key": key_id in trust.demo_keys,
    }
    if key_id in trust.revoked:
        return BundleSignature(
            "invalid", problem=f"it is signed by key {key_id}, which is revoked", **stated
        )
    public = trust.trusted.get(key_id)
    if public is None:
        return BundleSignature(
            "untrusted",
            problem=f"it is signed by key {key_id}, which is not among the trusted publisher keys",
            **stated,
        )
    try:
        public.verify(signature, canonical_manifest(signed))
    except InvalidSignature:
        return BundleSignature(
            "invalid",
            problem=(
                f"the signature by key {key_id} does not match the manifest in {SIGNATURE_FILE} "
                "(the manifest was changed, or the signature is over a different manifest)"
            ),
            **stated,
        )
    problem = _file_problem(path, signed["files"])
    if problem is not None:
        return BundleSignature("invalid", problem=problem, **stated)
    return BundleSignature("trusted", **stated)


def enforce_bundle_signature(folder: str | Path, trust: BundleTrust) -> BundleSignature:
    """:func:`check_bundle_signature`, refusing the bundle when ``trust.required`` and the
    signature is not trusted.

    Raises
    ------
    BundleError
        Naming the bundle and the file or key that fails.
    """
    path = Path(folder)
    verdict = check_bundle_signature(path, trust)
    if trust.required and verdict.status != "trusted":
        if verdict.status == "unsigned":
            why = f"it is not signed (no {SIGNATURE_FILE})"
        else:
            why = verdict.problem
        raise BundleError(
            f"The model bundle {path.name} is refused because signed bundles are required "
            f"(CASELENS_REQUIRE_SIGNED_BUNDLES) and {why}."
        )
    return verdict
