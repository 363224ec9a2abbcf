"""``caselens bundle sign`` / ``verify`` with keys as openssl writes them: exit 0 only for
a bundle every file of which matches a signature by a trusted key."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from caselens.cli.main import main
from caselens.model.bundle_signing import SIGNATURE_FILE
from caselens.settings import DEMO_PUBLISHER_KEY, SAMPLE_MODELS_DIR

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def _openssl_key(folder: Path, name: str) -> tuple[Path, Path]:
    private, public = folder / f"{name}.key.pem", folder / f"{name}.pub.pem"
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", private], check=True)
    os.chmod(private, 0o600)
    subprocess.run([OPENSSL, "pkey", "-in", private, "-pubout", "-out", public], check=True)
    return private, public


def _run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env or {"CASELENS_DEMO": ""})


@pytest.fixture()
def bundle(tmp_path) -> Path:
    folder = tmp_path / "heart-disease"
    shutil.copytree(SAMPLE_MODELS_DIR / "heart-disease", folder)
    (folder / SIGNATURE_FILE).unlink()
    return folder


def test_sign_then_verify_with_the_public_key_and_every_refusal_named(tmp_path, bundle):
    private, public = _openssl_key(tmp_path, "vendor")
    _, stranger = _openssl_key(tmp_path, "stranger")
    unsigned = _run("bundle", "verify", bundle, "--public-key", public)
    assert unsigned.exit_code == 1 and "is not signed" in unsigned.output
    signed = _run("bundle", "sign", bundle, "--key", private, "--publisher", "Vendor Ltd")
    assert signed.exit_code == 0, signed.output
    assert "Signed heart-disease as Vendor Ltd with key" in signed.output
    good = _run("bundle", "verify", bundle, "--public-key", public)
    assert good.exit_code == 0, good.output
    assert "every file matches" in good.output and "Vendor Ltd" in good.output
    wrong = _run("bundle", "verify", bundle, "--public-key", stranger)
    assert wrong.exit_code == 1 and "not among the trusted publisher keys" in wrong.output
    # Outside demo mode with no key given and none configured: nothing is trusted.
    nothing = _run("bundle", "verify", bundle)
    assert nothing.exit_code == 1 and "not among the trusted" in nothing.output
    configured = _run("bundle", "verify", bundle, env={"CASELENS_TRUSTED_BUNDLE_KEYS": str(public)})
    assert configured.exit_code == 0, configured.output
    key_id = good.output.split("trusted key ")[1].split()[0]
    revoked = _run(
        "bundle",
        "verify",
        bundle,
        env={"CASELENS_TRUSTED_BUNDLE_KEYS": str(public), "CASELENS_REVOKED_BUNDLE_KEYS": key_id},
    )
    assert revoked.exit_code == 1 and f"key {key_id}, which is revoked" in revoked.output
    (bundle / "reference.parquet").write_bytes(b"not the reference data")
    tampered = _run("bundle", "verify", bundle, "--public-key", public)
    assert tampered.exit_code == 1
    assert "reference.parquet was changed after signing" in tampered.output
    assert "Traceback" not in tampered.output


def test_sign_refuses_a_key_others_can_read_a_link_and_a_subfolder(tmp_path, bundle):
    private, _ = _openssl_key(tmp_path, "vendor")
    os.chmod(private, 0o644)
    loose = _run("bundle", "sign", bundle, "--key", private, "--publisher", "V")
    assert loose.exit_code == 1 and "readable by others" in loose.output
    os.chmod(private, 0o600)
    (bundle / "link").symlink_to(bundle / "card.json")
    linked = _run("bundle", "sign", bundle, "--key", private, "--publisher", "V")
    assert linked.exit_code == 1 and "'link', which is a link" in linked.output
    (bundle / "link").unlink()
    (bundle / "sub").mkdir()
    nested = _run("bundle", "sign", bundle, "--key", private, "--publisher", "V")
    assert nested.exit_code == 1 and "'sub', which is a link, a subfolder" in nested.output
    assert not (bundle / SIGNATURE_FILE).exists()  # nothing half-written
    (bundle / "sub").rmdir()
    blank = _run("bundle", "sign", bundle, "--key", private, "--publisher", "  ")
    assert blank.exit_code == 1 and "publisher name must be" in blank.output


def test_the_samples_verify_with_the_demo_key_in_demo_mode_or_when_given():
    sample = SAMPLE_MODELS_DIR / "readmission-30d"
    demo = _run("bundle", "verify", sample, env={"CASELENS_DEMO": "1"})
    assert demo.exit_code == 0 and "demo publisher key" in demo.output
    given = _run("bundle", "verify", sample, "--public-key", DEMO_PUBLISHER_KEY)
    assert given.exit_code == 0, given.output
