"""Shared set-up for the monitoring tests: a real workflow on real stores and bundles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caselens.access.accounts import AccountStore
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.model.bundle import BundleCatalogue, ModelBundle
from caselens.workflow.door import UserSession, Workflow
from lifecycle_fixtures import approve_first_versions

KEY = bytes.fromhex("55" * 32)
PASSWORD = "a long enough password"
USERS = (
    ("dr.lee", "Dr. Ana Lee", "clinician", None, None),
    ("pat.h03", "Sam Patel", "patient", "H-03", "heart-disease"),
    ("rev.kim", "Kim Okafor", "reviewer", None, None),
    ("admin", "Ali Admin", "admin", None, None),
)


def make_workflow(data: Path, audit: AuditStore, bundles: dict[str, ModelBundle]) -> Workflow:
    """A workflow over ``audit`` with fresh accounts in ``data``."""
    engine = open_app_database(data)
    accounts = AccountStore(engine)
    for user_id, name, role, ref, model in USERS:
        accounts.add(
            user_id,
            name=name,
            role=role,
            password=PASSWORD,
            patient_ref=ref,
            patient_model_id=model,
        )
    built = Workflow(
        audit=audit,
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(bundles), refused={}),
        explainer=lambda model_id: explainer_for(bundles[model_id]),
        audit_key=KEY,
    )
    approve_first_versions(built)
    built.trail = audit  # type: ignore[attr-defined]
    return built


def signed_in(workflow: Workflow, user_id: str) -> UserSession:
    session = UserSession()
    workflow.sign_in(session, user_id, PASSWORD)
    return session


def heart_case(workflow: Workflow, case_id: str = "H-01"):
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_case(case_id)
    return validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)


@pytest.fixture()
def trail_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture()
def workflow(tmp_path, trail_path, sample_bundles) -> Iterator[Workflow]:
    data = tmp_path / "data"
    data.mkdir()
    audit = AuditStore.open(trail_path, key=KEY, busy_timeout_s=0.2)
    yield make_workflow(data, audit, sample_bundles)
    audit.close()


def psi_alert(model_id: str, period: str, message: str, *, run_id: str | None = None):
    """A prediction-PSI alert as the plan would raise it (simulated when ``run_id``)."""
    from caselens.monitoring.alerts import Alert, alert_id

    simulated = run_id is not None
    return Alert(
        alert_id(model_id, period, "prediction_psi", "p", simulated, run_id),
        model_id,
        period,
        "prediction_psi",
        "p",
        message,
        0.31,
        None,
        None,
        "> 0.2",
        140,
        simulated,
        run_id,
    )
