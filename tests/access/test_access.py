"""The whole role × page × action matrix of the access policy."""

from __future__ import annotations

import pytest

from caselens.access.policy import ACTIONS, PAGES, ROLES, AccessDenied, Viewer, check, require

ALL_PAGES = sorted({p for pages in PAGES.values() for p in pages})
ALL_ACTIONS = sorted({a for actions in ACTIONS.values() for a in actions} | {"alter_audit_record"})
EXPECTED_PAGES = {
    "clinician": {"case", "model_facts"},
    "patient": {"my_result"},
    "reviewer": {"audit_trail", "monitoring", "model_facts", "model_status"},
    "admin": {"users", "monitoring", "model_status"},
    "model_owner": {"model_facts", "monitoring", "model_status"},
}
EXPECTED_ACTIONS = {
    "clinician": {
        "open_page",
        "view_report",
        "give_feedback",
        "view_model_facts",
        "export_fhir_result",
        "explore_hypothetical",
        "export_report",
        # The version history is model facts (issue 27).
        "view_model_versions",
    },
    "patient": {"open_page", "view_patient_summary", "export_report"},
    "reviewer": {
        "open_page",
        "view_model_facts",
        "view_audit_trail",
        "replay_entry",
        "verify_trail",
        "export_trail",
        "export_evidence_pack",
        "view_model_status",
        "view_monitoring",
        "export_fhir_result",
        "export_report",
        "verify_report_file",
        "view_model_versions",
    },
    "admin": {
        "open_page",
        "view_model_status",
        "suspend_model",
        "manage_users",
        "view_monitoring",
        "import_outcomes",
        "view_model_versions",
        "approve_model_version",
    },
    # Registers versions and runs shadows; approves only what someone else registered.
    "model_owner": {
        "open_page",
        "view_model_facts",
        "view_model_status",
        "view_monitoring",
        "view_model_versions",
        "register_model_version",
        "set_model_shadow",
        "retire_model_version",
        "approve_model_version",
    },
}


def _viewer(role: str) -> Viewer:
    return Viewer(f"u-{role}", role.title(), role, "H-03" if role == "patient" else None)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ALL_PAGES)
def test_each_role_opens_exactly_its_pages(role, page):
    allowed = check(_viewer(role), "open_page", page=page).allowed
    assert allowed == (page in EXPECTED_PAGES[role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_each_role_takes_exactly_its_actions(role, action):
    kwargs = {"page": next(iter(EXPECTED_PAGES[role]))} if action == "open_page" else {}
    allowed = check(_viewer(role), action, **kwargs).allowed
    assert allowed == (action in EXPECTED_ACTIONS[role])


@pytest.mark.parametrize("role", ROLES)
def test_nobody_may_alter_an_audit_record(role):
    decision = check(_viewer(role), "alter_audit_record")
    assert not decision.allowed and "cannot be altered" in decision.reason


def test_a_patient_sees_only_their_own_result():
    patient = _viewer("patient")
    assert check(patient, "view_patient_summary", patient_ref="H-03").allowed
    refused = check(patient, "view_patient_summary", patient_ref="H-04")
    assert not refused.allowed and refused.reason == "A patient may only see their own result."


def test_an_unlinked_patient_account_sees_nothing():
    assert not check(Viewer("p", "P", "patient"), "view_patient_summary").allowed


def test_a_clinician_cannot_open_the_audit_trail_and_require_raises():
    with pytest.raises(AccessDenied, match="may not open the Audit trail page"):
        require(_viewer("clinician"), "open_page", page="audit_trail")


def test_an_unknown_role_is_refused():
    assert not check(Viewer("x", "X", "visitor"), "open_page", page="case").allowed
