"""One patient's case, explained: the case parsed against the schema (:mod:`.cases`), the
calibrated probability and its uncertainty (:mod:`.confidence`), SHAP and LIME contributions and
their agreement (:mod:`.attribution`), the case's context and limitations, the clinician and
patient narrative, all frozen into one :class:`CaseReport` by :func:`explain`.
"""

from caselens._lazy import lazy_face

__all__ = [
    "LANGUAGES",
    "Attributions",
    "Case",
    "CaseExplainer",
    "CaseReport",
    "ConfidenceAssessment",
    "ExplainerCache",
    "FieldSource",
    "LimeExplanation",
    "Limitation",
    "Narrative",
    "PatientSummary",
    "ProbabilityInterval",
    "RecordSources",
    "ReliabilityBin",
    "ShapExplanation",
    "SourceResourceRef",
    "case_from_csv",
    "case_from_json",
    "case_from_upload",
    "catalogue",
    "displayed_digest",
    "displayed_text",
    "explain",
    "explainer_for",
    "format_interval",
    "headline_label",
    "in_patient_language",
    "interval_level_text",
    "validate_inputs",
]

_PARTS = {
    "Attributions": "attribution",
    "Case": "cases",
    "CaseExplainer": "report",
    "CaseReport": "report",
    "ConfidenceAssessment": "confidence",
    "ExplainerCache": "report",
    "FieldSource": "cases",
    "LANGUAGES": "patient_language",
    "LimeExplanation": "attribution",
    "Limitation": "limitation_record",
    "Narrative": "narrative",
    "PatientSummary": "patient_summary",
    "ProbabilityInterval": "confidence",
    "RecordSources": "cases",
    "ReliabilityBin": "confidence",
    "ShapExplanation": "attribution",
    "SourceResourceRef": "cases",
    "case_from_csv": "cases",
    "case_from_json": "cases",
    "case_from_upload": "cases",
    "catalogue": "patient_language",
    "displayed_digest": "report",
    "displayed_text": "report",
    "explain": "report",
    "explainer_for": "report",
    "format_interval": "interval_text",
    "headline_label": "confidence",
    "in_patient_language": "report",
    "interval_level_text": "interval_text",
    "validate_inputs": "cases",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
