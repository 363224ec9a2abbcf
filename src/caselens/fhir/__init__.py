"""A patient's FHIR R4 record in and the model's result back out.

The intake reads a record (an uploaded Bundle or a FHIR server) into a case by each input's
mapping (:mod:`caselens.model.fhir_mapping`), keeping where every value came from and naming
every problem per field; the result goes back as a RiskAssessment with its Provenance.

The intake's parts: :mod:`.record` (a Bundle read as untrusted data), :mod:`.matching` (which
resources hold an input), :mod:`.values` (one resource's value in the schema's unit),
:mod:`.intake` (the case, every value with its source), :mod:`.server_fetch` (a record from a
FHIR server), :mod:`.synthetic` and :mod:`.demo_schema` (test and demo records, never a real
patient); the result back out: :mod:`.risk_assessment` (a shown result as a RiskAssessment with
its Device and Provenance) and :mod:`.risk_send` (sent to the configured server). The SMART
launch: :mod:`.smart_launch` (the EHR's patient and clinician after authorization code + PKCE;
docs/smart-launch.md).
docs/fhir-intake.md and docs/fhir-results.md describe them.
"""

from caselens._lazy import lazy_face

__all__ = [
    "DEFAULT_SCOPES",
    "LAUNCH_PATH",
    "LAUNCH_ROUTE",
    "MAX_BUNDLE_ENTRIES",
    "MAX_FHIR_BUNDLE_BYTES",
    "MAX_FHIR_JSON_DEPTH",
    "MAX_PENDING_S",
    "BearerToken",
    "FhirDestinationError",
    "FhirRecord",
    "FhirServer",
    "FieldFromRecord",
    "LaunchResult",
    "PendingLaunch",
    "RecordIntake",
    "RiskAssessmentError",
    "SendOutcome",
    "SmartLaunchConfig",
    "SmartLaunchError",
    "SourceResource",
    "access_from_settings",
    "begin_launch",
    "case_from_record",
    "complete_launch",
    "fetch_patient_record",
    "read_fhir_bundle",
    "risk_assessment_bundle",
    "send_transaction",
    "smart_config_from_settings",
    "synthetic_record",
]

_PARTS: dict[str, str] = {
    "DEFAULT_SCOPES": "smart_launch",
    "MAX_BUNDLE_ENTRIES": "record",
    "MAX_FHIR_BUNDLE_BYTES": "record",
    "MAX_FHIR_JSON_DEPTH": "record",
    "MAX_PENDING_S": "smart_launch",
    "LAUNCH_PATH": "smart_settings",
    "LAUNCH_ROUTE": "smart_settings",
    "BearerToken": "server_fetch",
    "FhirDestinationError": "risk_send",
    "FhirRecord": "record",
    "FhirServer": "risk_send",
    "FieldFromRecord": "intake",
    "LaunchResult": "smart_launch",
    "PendingLaunch": "smart_launch",
    "RecordIntake": "intake",
    "RiskAssessmentError": "risk_assessment",
    "SendOutcome": "risk_send",
    "SmartLaunchConfig": "smart_launch",
    "SmartLaunchError": "smart_launch",
    "SourceResource": "intake",
    "access_from_settings": "server_fetch",
    "begin_launch": "smart_launch",
    "case_from_record": "intake",
    "complete_launch": "smart_launch",
    "fetch_patient_record": "server_fetch",
    "read_fhir_bundle": "record",
    "risk_assessment_bundle": "risk_assessment",
    "send_transaction": "risk_send",
    "smart_config_from_settings": "smart_settings",
    "synthetic_record": "synthetic",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
