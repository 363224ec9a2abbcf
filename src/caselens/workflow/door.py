"""The one door: every display and action a person can see or do, as check → record → return.

Pages never decide the order of checks and records. They call one method of
:class:`Workflow` per thing a person sees or does, and it

1. checks the access policy (and, for predictions, the model's status),
2. writes the audit entry, and only then
3. returns what may be drawn, or carries out the action.

If any step fails, the method raises :class:`WorkflowError` with the words to show, and the
page has nothing else to draw. A refusal by the policy is itself recorded.

What one browser tab holds is a :class:`UserSession`: the viewer, a session id, the
displays already recorded in it (keyed by viewer, session, report, audience and action) and
the reports computed in it. Signing out replaces the whole session, so the next person on
the same tab inherits nothing: not the displays, not the estimates, not the session id.

The methods are grouped by job, one module each, and combined here: sign-in and the session
(:mod:`.sessions`), reports and feedback (:mod:`.reports`), model facts, status and users
(:mod:`.administration`), a model's version history and the diff of two versions
(:mod:`.version_history`), the audit trail and replay (:mod:`.audit_trail`), monitoring
(:mod:`.monitoring`), a case read from the patient's FHIR record (:mod:`.record_intake`),
sign-in with the EHR and its patient's record (SMART App Launch, :mod:`.smart_sign_in`),
the EHR's CDS Hooks cards (:mod:`.cds_cards`), results written back as FHIR
(:mod:`.fhir_results`), what-if edits of a report (:mod:`.what_if`), counterfactuals
(:mod:`.counterfactuals`), model versions, approvals and shadow candidates
(:mod:`.model_versions`), a shadow candidate scored beside each live display
(:mod:`.shadow_scoring`), the live version against a shadow candidate
(:mod:`.shadow_comparison`), case reports as signed HTML or PDF files (:mod:`.report_exports`)
and whether such a file is genuine (:mod:`.report_verification`); what they share (the
stores, the policy check, the one recording function) is :mod:`._door_base`.
"""

from __future__ import annotations

from caselens.workflow._door_base import NOT_RECORDED, estimate_first_for_clinicians
from caselens.workflow.administration import AdministrationMixin
from caselens.workflow.audit_trail import AUDIT_PAGE_SIZE, AuditTrailMixin, ExportFormat
from caselens.workflow.cds_cards import CdsCardsMixin
from caselens.workflow.checks import PATIENT_REF_PATTERN, check_own_estimate, check_patient_ref
from caselens.workflow.counterfactuals import CounterfactualsMixin
from caselens.workflow.errors import (
    EntryFailsVerification,
    NotRecorded,
    Refused,
    Unavailable,
    WorkflowError,
)
from caselens.workflow.evidence import EvidenceMixin
from caselens.workflow.fhir_results import FhirResultsMixin, FhirSent
from caselens.workflow.model_approvals import ModelApprovalsMixin
from caselens.workflow.model_versions import ModelVersionsMixin
from caselens.workflow.monitoring import MonitoringMixin
from caselens.workflow.record_intake import RecordIntakeMixin
from caselens.workflow.records import (
    AuditChoices,
    AuditPage,
    ClinicianUse,
    ExportFile,
    ModelFacts,
    MonitoringView,
    TrailMatch,
    UserSession,
)
from caselens.workflow.report_exports import ReportExportsMixin
from caselens.workflow.report_verification import ReportVerificationMixin
from caselens.workflow.reports import (
    FEEDBACK_VERDICTS,
    MAX_COMMENT_LENGTH,
    MAX_REFUSAL_REASON_CHARS,
    ReportsMixin,
)
from caselens.workflow.sessions import SessionsMixin
from caselens.workflow.shadow_comparison import ShadowComparisonMixin
from caselens.workflow.shadow_scoring import ShadowScoringMixin
from caselens.workflow.smart_sign_in import SmartSignInMixin
from caselens.workflow.subgroup_figures import SubgroupFiguresMixin
from caselens.workflow.version_history import VersionHistoryMixin
from caselens.workflow.what_if import WhatIfMixin, WhatIfView

# The names this module held before it was split by job, so old imports keep working.
__all__ = [
    "AUDIT_PAGE_SIZE",
    "FEEDBACK_VERDICTS",
    "MAX_COMMENT_LENGTH",
    "MAX_REFUSAL_REASON_CHARS",
    "NOT_RECORDED",
    "PATIENT_REF_PATTERN",
    "AuditChoices",
    "AuditPage",
    "ClinicianUse",
    "EntryFailsVerification",
    "ExportFile",
    "ExportFormat",
    "FhirSent",
    "ModelFacts",
    "MonitoringView",
    "NotRecorded",
    "Refused",
    "TrailMatch",
    "Unavailable",
    "UserSession",
    "WhatIfView",
    "Workflow",
    "WorkflowError",
    "check_own_estimate",
    "check_patient_ref",
    "estimate_first_for_clinicians",
]


class Workflow(
    SessionsMixin,
    ReportsMixin,
    SmartSignInMixin,
    RecordIntakeMixin,
    AdministrationMixin,
    ModelVersionsMixin,
    ModelApprovalsMixin,
    ShadowScoringMixin,
    AuditTrailMixin,
    EvidenceMixin,
    MonitoringMixin,
    ShadowComparisonMixin,
    CdsCardsMixin,
    FhirResultsMixin,
    WhatIfMixin,
    CounterfactualsMixin,
    ReportExportsMixin,
    ReportVerificationMixin,
    VersionHistoryMixin,
    SubgroupFiguresMixin,
):
    """Every display and action of CaseLens, as check → record → return.

    Parameters
    ----------
    audit : AuditStore
        The trail every display and action is written to first.
    accounts : AccountStore
        Local accounts (sign-in, users page).
    statuses : ModelStatusStore
        Which models are suspended.
    catalogue : BundleCatalogue
        The bundles the operator offers, and those refused.
    explainer : callable
        ``model_id -> CaseExplainer`` (cached and warmed by the caller).
    audit_key : bytes
        The server key, for pseudonymised exports.
    clock : callable
        UTC now, for the idle timeout (tests pass their own).
    cds_calls : CdsCallStore, optional
        The CDS Hooks service's token ids and cards (:mod:`.cds_cards`).
    estimate_first : callable
        ``(user id, role) -> bool``: whether a user records their own estimate (or skips
        it) before a report is shown; by default on for clinicians
        (``Settings.estimate_first_for`` carries the site's and users' choices).
    signing_key : callable, optional
        The server's Ed25519 key for exported report files (asked for when one is signed).
    key_ring : callable, optional
        The keys an exported report file may be signed by (for ``verify_report_file``).
    """
