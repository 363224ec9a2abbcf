"""The Ed25519 signing keys: read, created, rotated, and verified against a key ring."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from caselens.audit.errors import AuditKeyError
from caselens.audit.signing_keys import (
    KeyRing,
    SigningKey,
    load_signing_key,
    parse_public_key,
    public_key_pem,
    read_private_key,
    retire_and_replace_signing_key,
    signing_key_id,
)


def test_a_created_key_is_private_and_read_back_the_same(tmp_path) -> None:
    path = tmp_path / "keys" / "signing.key.pem"
    with pytest.raises(AuditKeyError, match="no signing key file"):
        load_signing_key(path)
    key = load_signing_key(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_signing_key(path, create=True)
    assert again.key_id == key.key_id and len(key.key_id) == 16
    assert again.public_key.public_bytes_raw() == key.public_key.public_bytes_raw()
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="readable by others"):
        read_private_key(path)


def test_an_openssl_key_is_read_and_other_keys_are_refused(tmp_path) -> None:
    path = tmp_path / "publisher.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)], check=True)
    os.chmod(path, 0o600)
    key = read_private_key(path)
    public = tmp_path / "publisher.pub.pem"
    subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-pubout", "-out", str(public)], check=True
    )
    assert signing_key_id(parse_public_key(public.read_bytes())) == key.key_id
    rsa = tmp_path / "rsa.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            str(rsa),
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(rsa, 0o600)
    with pytest.raises(AuditKeyError, match="expected an Ed25519 key"):
        read_private_key(rsa)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"x" * 100_000)
    os.chmod(junk, 0o600)
    with pytest.raises(AuditKeyError, match="under 16,384 bytes"):
        read_private_key(junk)
    with pytest.raises(AuditKeyError, match="not a PEM public key"):
        parse_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_rotation_keeps_old_signatures_verifiable_as_retired(tmp_path) -> None:
    path = tmp_path / "signing.key.pem"
    old = load_signing_key(path, create=True)
    message = b"report bytes"
    old_signature = old.sign(message)
    new = retire_and_replace_signing_key(path)
    assert new.key_id != old.key_id
    ring = KeyRing.for_server(path)
    verdict = ring.verify(old.key_id, old_signature, message)
    assert verdict.valid and verdict.standing == "retired"
    assert ring.verify(new.key_id, new.sign(message), message).standing == "current"
    assert not ring.verify(old.key_id, old_signature, message + b"!").valid


def test_unknown_revoked_and_trusted_keys(tmp_path) -> None:
    publisher = SigningKey.generate()
    stranger = SigningKey.generate()
    message = b"manifest"
    ring = KeyRing.for_server(tmp_path / "absent.pem", trusted=[publisher.public_key])
    assert ring.verify(publisher.key_id, publisher.sign(message), message).standing == "trusted"
    unknown = ring.verify(stranger.key_id, stranger.sign(message), message)
    assert not unknown.valid and unknown.standing == "unknown"
    revoked = KeyRing(
        trusted={publisher.key_id: publisher.public_key}, revoked=frozenset({publisher.key_id})
    )
    verdict = revoked.verify(publisher.key_id, publisher.sign(message), message)
    assert not verdict.valid and "revoked" in verdict.reason
    assert "BEGIN PUBLIC KEY" in public_key_pem(publisher.public_key)
