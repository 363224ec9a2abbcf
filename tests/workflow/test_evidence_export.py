"""The evidence pack through the door: checked, recorded before it is handed out, the cards
of the loaded model versions the entries name, and nothing handed out when the record fails."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit_fixtures import make_event
from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.audit.pack_verify import verify_pack
from caselens.audit.signing_keys import (
    KeyRing,
    load_signing_key,
    retire_and_replace_signing_key,
)
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue
from caselens.workflow.door import Workflow
from caselens.workflow.errors import NotRecorded, Refused, WorkflowError
from caselens.workflow.records import UserSession
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("45" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "clinician", "H-03", None),
    ("pat.h03", "patient", "H-03", "heart-disease"),
    ("rev.kim", "reviewer", None, None),
    ("admin", "admin", None, None),
)
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore(open_app_database(folder))
    for user_id, role, ref, model in USERS:
        store.add(
            user_id,
            name=user_id,
            role=role,
            password=PASSWORD,
            patient_ref=ref if role == "patient" else None,
            patient_model_id=model,
        )
    return folder / "app.sqlite"


@contextlib.contextmanager
def trail_down(path: Path) -> Iterator[None]:
    """Another process holds the trail's write lock: every append fails, for real."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture()
def workflow(tmp_path, accounts_template, sample_bundles):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(accounts_template, data / "app.sqlite")
    engine = open_app_database(data)
    audit = AuditStore.open(
        tmp_path / "audit.sqlite", key=KEY, busy_timeout_s=0.2, checkpoint_file=tmp_path / "cp"
    )
    key_file = tmp_path / "signing.key.pem"
    load_signing_key(key_file, create=True)
    retire_and_replace_signing_key(key_file)  # one retired key, carried in the pack too
    built = Workflow(
        audit=audit,
        accounts=AccountStore(engine),
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(sample_bundles), refused={}),
        explainer=lambda model_id: explainer_for(sample_bundles[model_id]),
        audit_key=KEY,
        signing_key=lambda: load_signing_key(key_file),
        key_ring=lambda: KeyRing.for_server(key_file),
    )
    approve_first_versions(built)
    heart = sample_bundles["heart-disease"]
    audit.append(
        make_event(1, model_id="heart-disease", model_version=heart.version,
                   model_sha256=heart.model_sha256)
    )  # fmt: skip
    audit.append(make_event(2, model_id="gone-model", model_sha256="ab" * 32))
    built.trail = audit
    built.key_file = key_file
    yield built
    audit.close()


def _session(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def test_a_reviewer_exports_a_recorded_pack_with_the_loaded_cards(workflow, sample_bundles):
    reviewer = _session(workflow, "rev.kim")
    pack = workflow.export_evidence_pack(reviewer, TODAY, TODAY)
    recorded = workflow.trail.get(pack.seq)
    assert recorded.action == "evidence_exported" and recorded.actor_id == "rev.kim"
    assert recorded.detail()["pack_sha256"] == hashlib.sha256(pack.data).hexdigest()
    assert recorded.detail()["entries"] == pack.entries == pack.seq - 1
    key = load_signing_key(workflow.key_file)
    report = verify_pack(pack.data, public_key=key.public_key)
    assert report.ok, [c for c in report.checks if not c.ok]
    with zipfile.ZipFile(io.BytesIO(pack.data)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        heart = sample_bundles["heart-disease"]
        card = archive.read(f"models/{heart.model_sha256}/card.json")
    assert card == (heart.path / "card.json").read_bytes()
    assert len([n for n in names if n.startswith("keys/signing/")]) == 2  # current + retired
    rows = {r["model_id"]: r for r in manifest["models"]}
    assert rows["heart-disease"]["card_included"] and not rows["gone-model"]["card_included"]
    assert manifest["signing_key_id"] == key.key_id


@pytest.mark.parametrize("user_id", ["dr.lee", "pat.h03", "admin"])
def test_other_roles_are_refused_and_recorded(workflow, user_id):
    session = _session(workflow, user_id)
    with pytest.raises(Refused):
        workflow.export_evidence_pack(session, TODAY, TODAY)
    last = workflow.trail.entries()[-1]
    assert last.action == "access_refused" and last.detail()["action"] == "export_evidence_pack"


def test_no_pack_is_handed_out_when_the_export_cannot_be_recorded(workflow, tmp_path):
    reviewer = _session(workflow, "rev.kim")
    before = workflow.trail.count()
    with trail_down(tmp_path / "audit.sqlite"), pytest.raises(NotRecorded):
        workflow.export_evidence_pack(reviewer, TODAY, TODAY)
    assert workflow.trail.count() == before


def test_without_a_signing_key_the_export_says_so(workflow, tmp_path):
    reviewer = _session(workflow, "rev.kim")
    missing = tmp_path / "no-such.pem"
    workflow._signing_key = lambda: load_signing_key(missing)  # the key file has gone
    with pytest.raises(WorkflowError, match=r"signing key could not be read.*no-such\.pem"):
        workflow.export_evidence_pack(reviewer, TODAY, TODAY)
