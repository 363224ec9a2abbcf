"""Signed model bundles: every way a signature can fail is refused (with signed bundles
required) naming the file or the key, before any file is parsed; the right key loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caselens.audit.signing_keys import SigningKey, read_public_key, signing_key_id
from caselens.errors import BundleError
from caselens.model.bundle import load_bundle, load_catalogue
from caselens.model.bundle_signing import (
    MAX_SIGNATURE_FILE_BYTES,
    SIGNATURE_FILE,
    BundleTrust,
    _b64url,
    canonical_manifest,
    check_bundle_signature,
    sign_bundle,
)
from caselens.runtime import bundle_trust
from caselens.settings import DEMO_PUBLISHER_KEY, SAMPLE_MODELS_DIR, Settings

HEART = "heart-disease"
HEART_FILES = sorted(
    p.name for p in (SAMPLE_MODELS_DIR / HEART).iterdir() if p.name != SIGNATURE_FILE
)
PUBLISHER = "Cardiology ML team"


@pytest.fixture(scope="module")
def publisher_key() -> SigningKey:
    return SigningKey.generate()


def _trust(*keys: SigningKey, revoked: tuple[str, ...] = (), required: bool = True):
    return BundleTrust(
        trusted={k.key_id: k.public_key for k in keys},
        revoked=frozenset(revoked),
        required=required,
    )


@pytest.fixture()
def signed(tmp_path, publisher_key) -> Path:
    """A copy of the heart-disease sample signed by the test publisher's key."""
    folder = tmp_path / HEART
    shutil.copytree(SAMPLE_MODELS_DIR / HEART, folder)
    sign_bundle(folder, publisher_key, publisher=PUBLISHER)
    return folder


def _refusal(folder: Path, trust: BundleTrust) -> str:
    with pytest.raises(BundleError) as raised:
        load_bundle(folder, trust=trust)
    message = str(raised.value)
    assert message.startswith(f"The model bundle {folder.name} is refused because signed")
    return message


def test_a_bundle_signed_by_a_trusted_key_loads_and_says_who_signed_it(signed, publisher_key):
    bundle = load_bundle(signed, trust=_trust(publisher_key))
    signature = bundle.signature
    assert signature is not None and signature.status == "trusted"
    assert (signature.publisher, signature.key_id) == (PUBLISHER, publisher_key.key_id)
    assert f"trusted key {publisher_key.key_id}" in signature.sentence()
    manifest = json.loads((signed / SIGNATURE_FILE).read_text())["signed"]
    assert sorted(manifest["files"]) == HEART_FILES  # every file, nothing skipped


def test_an_unsigned_bundle_is_refused_when_signatures_are_required(signed, publisher_key):
    (signed / SIGNATURE_FILE).unlink()
    assert "it is not signed (no signature.json)" in _refusal(signed, _trust(publisher_key))


@pytest.mark.parametrize("name", HEART_FILES)
def test_each_file_changed_after_signing_is_refused_by_name_before_it_is_parsed(
    signed, publisher_key, name
):
    # Garbage appended: had the file been parsed first, the refusal would be a parse error.
    with open(signed / name, "ab") as handle:
        handle.write(b"\x00tampered")
    message = _refusal(signed, _trust(publisher_key))
    assert f"{name} was changed after signing" in message


def test_a_file_changed_in_place_with_the_same_size_is_named(signed, publisher_key):
    data = bytearray((signed / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0x01
    (signed / "model.skops").write_bytes(bytes(data))
    assert "model.skops was changed after signing (its SHA-256 differs)" in _refusal(
        signed, _trust(publisher_key)
    )


def test_a_missing_file_and_an_added_file_or_folder_are_named(signed, publisher_key):
    trust = _trust(publisher_key)
    (signed / "notes.txt").write_text("added later")
    assert "notes.txt was added after signing" in _refusal(signed, trust)
    (signed / "notes.txt").unlink()
    (signed / "extra").mkdir()
    assert "extra was added after signing" in _refusal(signed, trust)
    (signed / "extra").rmdir()
    (signed / "demo_cases.json").unlink()
    assert "demo_cases.json is missing" in _refusal(signed, trust)


def test_an_unknown_key_and_a_revoked_key_are_named(signed, publisher_key):
    other = SigningKey.generate()
    unknown = _refusal(signed, _trust(other))
    assert f"signed by key {publisher_key.key_id}, which is not among the trusted" in unknown
    revoked = _refusal(signed, _trust(publisher_key, revoked=(publisher_key.key_id,)))
    assert f"signed by key {publisher_key.key_id}, which is revoked" in revoked


def test_a_signature_over_a_different_manifest_is_refused(signed, tmp_path, publisher_key):
    # The genuine signature of another bundle, put beside this bundle's manifest.
    other = tmp_path / "other"
    shutil.copytree(SAMPLE_MODELS_DIR / "readmission-30d", other)
    sign_bundle(other, publisher_key, publisher=PUBLISHER)
    document = json.loads((signed / SIGNATURE_FILE).read_text())
    document["signature"] = json.loads((other / SIGNATURE_FILE).read_text())["signature"]
    (signed / SIGNATURE_FILE).write_text(json.dumps(document))
    message = _refusal(signed, _trust(publisher_key))
    assert f"the signature by key {publisher_key.key_id} does not match the manifest" in message
    # And a manifest edited to vouch for a changed file, keeping the old signature.
    sign_bundle(signed, publisher_key, publisher=PUBLISHER)
    document = json.loads((signed / SIGNATURE_FILE).read_text())
    (signed / "card.json").write_text("{}")
    document["signed"]["files"]["card.json"] = {"sha256": "0" * 64, "bytes": 2}
    (signed / SIGNATURE_FILE).write_text(json.dumps(document))
    assert "does not match the manifest" in _refusal(signed, _trust(publisher_key))


@pytest.mark.parametrize("hostile", ["../card.json", "/etc/passwd", "sub/card.json", ".."])
def test_a_validly_signed_manifest_naming_a_path_outside_the_folder_is_refused(
    signed, publisher_key, hostile
):
    document = json.loads((signed / SIGNATURE_FILE).read_text())
    document["signed"]["files"][hostile] = {"sha256": "0" * 64, "bytes": 1}
    document["signature"] = _b64url(publisher_key.sign(canonical_manifest(document["signed"])))
    (signed / SIGNATURE_FILE).write_text(json.dumps(document))
    message = _refusal(signed, _trust(publisher_key))
    assert "is not a plain file name in the bundle folder" in message


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("publisher", "Evil\x1b[2J", "publisher"), ("signed_at", "yesterday", "signed_at")],
)
def test_a_validly_signed_manifest_with_a_control_code_or_a_bad_time_is_refused(
    signed, publisher_key, field, value, named
):
    document = json.loads((signed / SIGNATURE_FILE).read_text())
    document["signed"][field] = value
    document["signature"] = _b64url(publisher_key.sign(canonical_manifest(document["signed"])))
    (signed / SIGNATURE_FILE).write_text(json.dumps(document))
    message = _refusal(signed, _trust(publisher_key))
    assert "signature.json cannot be used" in message and named in message
    assert "\x1b" not in message


def test_an_oversized_signature_file_is_refused_unread(signed, publisher_key):
    (signed / SIGNATURE_FILE).write_bytes(b" " * (MAX_SIGNATURE_FILE_BYTES + 1))
    assert "signature.json cannot be used" in _refusal(signed, _trust(publisher_key))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1"]),
        "alg": st.sampled_from(["Ed25519", "none"]),
        "key_id": st.sampled_from(["a91e0a705c59a607", "x", 5]),
        "signature": st.sampled_from(["A" * 86, "", "!!"]),
        "signed": JSON
        | st.fixed_dictionaries(
            {"format": st.just("caselens-bundle-manifest"), "v": st.just(1), "files": JSON}
        ),
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(document=JSON | FIELDS, raw=st.binary(max_size=64))
def test_any_signature_file_gives_a_verdict_never_a_traceback(tmp_path, document, raw):
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / "card.json").write_text("{}")
    trust = BundleTrust(required=True)
    for data in (json.dumps(document).encode(), raw):
        (folder / SIGNATURE_FILE).write_bytes(data)
        verdict = check_bundle_signature(folder, trust)
        assert verdict.status in {"invalid", "untrusted"}
        assert verdict.problem


def test_not_required_a_bundle_loads_and_says_how_its_signature_stands(signed, publisher_key):
    trust = _trust(publisher_key, required=False)
    (signed / "demo_cases.json").write_text((signed / "demo_cases.json").read_text() + " ")
    bundle = load_bundle(signed, trust=trust)
    assert bundle.signature is not None and bundle.signature.status == "invalid"
    sentence = bundle.signature.sentence()
    assert "demo_cases.json was changed after signing" in sentence
    assert "not required" in sentence
    (signed / SIGNATURE_FILE).unlink()
    assert load_bundle(signed, trust=trust).signature.status == "unsigned"


def test_the_catalogue_lists_a_refused_bundle_with_the_reason(tmp_path, signed, publisher_key):
    models = signed.parent
    unsigned = models / "unsigned"
    shutil.copytree(SAMPLE_MODELS_DIR / "readmission-30d", unsigned)
    (unsigned / SIGNATURE_FILE).unlink()
    catalogue = load_catalogue(models, trust=_trust(publisher_key))
    assert list(catalogue.bundles) == [HEART]
    assert "it is not signed" in catalogue.refused["unsigned"]


def test_the_samples_are_signed_by_the_demo_key_trusted_in_demo_mode_only():
    demo_id = signing_key_id(read_public_key(DEMO_PUBLISHER_KEY))
    assert "NOT SECRET" in DEMO_PUBLISHER_KEY.read_text()
    demo = bundle_trust(Settings(demo=True))
    assert demo.required is False and demo.demo_keys == {demo_id}
    for model_id in (HEART, "readmission-30d"):
        verdict = check_bundle_signature(SAMPLE_MODELS_DIR / model_id, demo)
        assert verdict.status == "trusted" and verdict.key_id == demo_id and verdict.demo_key
        assert "demo publisher key" in verdict.sentence()
    outside = bundle_trust(Settings())  # outside demo mode: required, and the key not trusted
    assert outside.required is True and demo_id not in outside.trusted
    verdict = check_bundle_signature(SAMPLE_MODELS_DIR / HEART, outside)
    assert verdict.status == "untrusted" and demo_id in (verdict.problem or "")
    # An operator who lists the demo key trusts it deliberately; a revoked id wins.
    listed = Settings(trusted_bundle_keys=(DEMO_PUBLISHER_KEY.parent,))
    assert check_bundle_signature(SAMPLE_MODELS_DIR / HEART, bundle_trust(listed)).status == (
        "trusted"
    )
    revoked = Settings(trusted_bundle_keys=(DEMO_PUBLISHER_KEY,), revoked_bundle_keys={demo_id})
    assert check_bundle_signature(SAMPLE_MODELS_DIR / HEART, bundle_trust(revoked)).status == (
        "invalid"
    )
