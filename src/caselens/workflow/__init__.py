"""The door: every display and action is checked, recorded in the audit trail, then
returned (:class:`Workflow`), for a signed-in :class:`UserSession`.
"""

from caselens._lazy import lazy_face

__all__ = [
    "AUDIT_PAGE_SIZE",
    "CDS_OUTCOMES",
    "FEEDBACK_VERDICTS",
    "NOT_RECORDED_MESSAGE",
    "PATIENT_REF_PATTERN",
    "CardDecision",
    "CardFeedback",
    "EntryFailsVerification",
    "FhirSent",
    "HookCall",
    "InputsFromRecord",
    "ModelFacts",
    "NotRecorded",
    "Refused",
    "Unavailable",
    "UserSession",
    "Workflow",
    "WorkflowError",
    "format_interval",
    "format_percent",
    "intake_sources",
    "interval_covers",
    "interval_level_text",
    "record_display",
    "record_event",
]

_PARTS = {
    "AUDIT_PAGE_SIZE": "audit_trail",
    "CDS_OUTCOMES": "cds_cards",
    "CardDecision": "cds_cards",
    "CardFeedback": "cds_cards",
    "HookCall": "cds_cards",
    "InputsFromRecord": "cds_cards",
    "EntryFailsVerification": "errors",
    "FhirSent": "fhir_results",
    "FEEDBACK_VERDICTS": "reports",
    "ModelFacts": "records",
    "NOT_RECORDED_MESSAGE": "display",
    "NotRecorded": "errors",
    "PATIENT_REF_PATTERN": "checks",
    "Refused": "errors",
    "Unavailable": "errors",
    "UserSession": "records",
    "Workflow": "door",
    "WorkflowError": "errors",
    "format_interval": "display",
    "format_percent": "display",
    "interval_covers": "display",
    "intake_sources": "record_intake",
    "interval_level_text": "display",
    "record_display": "display",
    "record_event": "display",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
