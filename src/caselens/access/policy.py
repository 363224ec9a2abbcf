"""The access policy: who may see which page and which patient, and do what.

Enforced in the engine, not only by hiding pages: the app asks :func:`check` before every
read or action and records a refusal. Nobody may alter or delete an audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from caselens.explain.copy_check import indefinite_article

Role = Literal["clinician", "patient", "reviewer", "admin", "model_owner"]
ROLES: tuple[Role, ...] = ("clinician", "patient", "reviewer", "admin", "model_owner")

Action = Literal[
    "open_page",
    "view_report",
    "view_patient_summary",
    "give_feedback",
    "view_model_facts",
    "view_audit_trail",
    "replay_entry",
    "verify_trail",
    "export_trail",
    "export_evidence_pack",
    "view_model_status",
    "suspend_model",
    "manage_users",
    "view_monitoring",
    "import_outcomes",
    "export_fhir_result",
    "explore_hypothetical",
    "export_report",
    "verify_report_file",
    "view_model_versions",
    "register_model_version",
    "set_model_shadow",
    "retire_model_version",
    "approve_model_version",
    "alter_audit_record",
]

#: Pages each role may open (page ids are the files in app/app_pages without .py).
PAGES: dict[Role, tuple[str, ...]] = {
    "clinician": ("case", "model_facts"),
    "patient": ("my_result",),
    "reviewer": ("audit_trail", "monitoring", "model_facts", "model_status"),
    "admin": ("users", "monitoring", "model_status"),
    "model_owner": ("model_status", "model_facts", "monitoring"),
}

#: Each page's title, as its menu and every refusal name it (the page id is the file's name).
PAGE_TITLES: dict[str, str] = {
    "case": "Case",
    "my_result": "My result",
    "audit_trail": "Audit trail",
    "monitoring": "Monitoring",
    "model_facts": "Model facts",
    "model_status": "Model status",
    "users": "Users",
}

#: Actions each role may take (patient reads are further limited to their own record).
ACTIONS: dict[Role, frozenset[str]] = {
    "clinician": frozenset(
        {
            "open_page",
            "view_report",
            "give_feedback",
            "view_model_facts",
            # A result they were shown, written back as a FHIR RiskAssessment.
            "export_fhir_result",
            # What-if edits and counterfactuals of a report they were shown. Never a
            # patient's: those values are not the patient's record (issue 25).
            "explore_hypothetical",
            # A report they were shown, as an HTML or PDF file (theirs or the patient's).
            "export_report",
            # A model's version history and the diff of two versions: model facts (issue 27).
            "view_model_versions",
        }
    ),
    # A patient's own result, as the patient's file only.
    "patient": frozenset({"open_page", "view_patient_summary", "export_report"}),
    "reviewer": frozenset(
        {
            "open_page",
            "view_model_facts",
            "view_audit_trail",
            "replay_entry",
            "verify_trail",
            "export_trail",
            # A signed stretch of the trail for an outside auditor (issue 26).
            "export_evidence_pack",
            "view_model_status",
            "view_monitoring",
            # Any displayed result, from its audit entry (the replay page).
            "export_fhir_result",
            # A replayed display as an HTML or PDF file (for an incident review).
            "export_report",
            # Whether an exported report file someone hands over is genuine (issue 26).
            "verify_report_file",
            # A model's version history and the diff of two versions (issue 27).
            "view_model_versions",
        }
    ),
    "admin": frozenset(
        {
            "open_page",
            "view_model_status",
            "suspend_model",
            "manage_users",
            "view_monitoring",
            # What happened to patients, for monitoring (``caselens outcomes import``).
            "import_outcomes",
            # Decision rights (issue 27): an administrator may approve a version for live
            # use (never one they registered), and sees the versions to do so.
            "view_model_versions",
            "approve_model_version",
        }
    ),
    # The model's owner (issue 27): registers new versions with the reason for the change,
    # runs a candidate in shadow, retires versions, and may approve a version someone else
    # registered. Sees model facts and monitoring to judge the evidence; never a patient's
    # report, never the trail's entries, never accounts.
    "model_owner": frozenset(
        {
            "open_page",
            "view_model_facts",
            "view_model_status",
            "view_monitoring",
            "view_model_versions",
            "register_model_version",
            "set_model_shadow",
            "retire_model_version",
            "approve_model_version",
        }
    ),
}


@dataclass(frozen=True)
class Viewer:
    """Who is looking: user id, display name, role, and for a patient their own record."""

    user_id: str
    name: str
    role: str
    patient_ref: str | None = None
    patient_model_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """The policy's answer, with the reason in words (recorded when it is a refusal)."""

    allowed: bool
    reason: str


class AccessDenied(PermissionError):
    """Raised by :func:`require` when the policy refuses."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(decision.reason)


def check(
    viewer: Viewer, action: str, *, page: str | None = None, patient_ref: str | None = None
) -> Decision:
    """Whether ``viewer`` may do ``action`` (on ``page`` / for ``patient_ref``).

    Examples
    --------
    >>> check(Viewer("p1", "Pat", "patient", "H-03"), "view_patient_summary",
    ...       patient_ref="H-04").allowed
    False
    """
    if viewer.role not in ROLES:
        return Decision(False, f"Unknown role '{viewer.role}'.")
    role: Role = viewer.role  # type: ignore[assignment]
    if action == "alter_audit_record":
        return Decision(False, "Audit records cannot be altered or deleted by anyone.")
    if action not in ACTIONS[role]:
        article = indefinite_article(role).capitalize()  # "An admin", "A patient"
        return Decision(False, f"{article} {role} may not {action.replace('_', ' ')}.")
    if action == "open_page" and page not in PAGES[role]:
        title = PAGE_TITLES.get(str(page), "requested")
        article = indefinite_article(role).capitalize()
        return Decision(False, f"{article} {role} may not open the {title} page.")
    if role == "patient":
        if viewer.patient_ref is None:
            return Decision(False, "This patient account is not linked to a patient record.")
        if patient_ref is not None and patient_ref != viewer.patient_ref:
            return Decision(False, "A patient may only see their own result.")
    return Decision(True, "allowed")


def require(
    viewer: Viewer, action: str, *, page: str | None = None, patient_ref: str | None = None
) -> None:
    """Like :func:`check`, but raise :class:`AccessDenied` when refused."""
    decision = check(viewer, action, page=page, patient_ref=patient_ref)
    if not decision.allowed:
        raise AccessDenied(decision)
