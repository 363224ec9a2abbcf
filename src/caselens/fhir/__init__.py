"""A patient's FHIR R4 record in and the model's result back out.

The intake reads a record (an uploaded Bundle or a FHIR server) into a case by each input's
mapping (:mod:`caselens.model.fhir_mapping`), keeping where every value came from and naming
every problem per field; the result goes back as a RiskAssessment with its Provenance.
"""

from caselens._lazy import lazy_face

__all__: list[str] = [
    "FhirDestinationError",
    "FhirServer",
    "RiskAssessmentError",
    "SendOutcome",
    "risk_assessment_bundle",
    "send_transaction",
]

_PARTS: dict[str, str] = {
    "FhirServer": "risk_send",
    "FhirDestinationError": "risk_send",
    "RiskAssessmentError": "risk_assessment",
    "SendOutcome": "risk_send",
    "risk_assessment_bundle": "risk_assessment",
    "send_transaction": "risk_send",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
