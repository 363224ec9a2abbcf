"""A patient's FHIR R4 record in and the model's result back out.

The intake reads a record (an uploaded Bundle or a FHIR server) into a case by each input's
mapping (:mod:`caselens.model.fhir_mapping`), keeping where every value came from and naming
every problem per field; the result goes back as a RiskAssessment with its Provenance.
"""

from caselens._lazy import lazy_face

__all__ = [
    "MAX_BUNDLE_ENTRIES",
    "MAX_FHIR_BUNDLE_BYTES",
    "MAX_FHIR_JSON_DEPTH",
    "FhirRecord",
    "FieldFromRecord",
    "RecordIntake",
    "SourceResource",
    "case_from_record",
    "read_fhir_bundle",
]

_PARTS: dict[str, str] = {
    "MAX_BUNDLE_ENTRIES": "record",
    "MAX_FHIR_BUNDLE_BYTES": "record",
    "MAX_FHIR_JSON_DEPTH": "record",
    "FhirRecord": "record",
    "FieldFromRecord": "intake",
    "RecordIntake": "intake",
    "SourceResource": "intake",
    "case_from_record": "intake",
    "read_fhir_bundle": "record",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
