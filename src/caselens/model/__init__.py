"""The model bundle: a hospital's fitted model with its card, feature schema, reference and
calibration data, read with every safety check.

:func:`load_bundle` reads and checks a bundle folder; :class:`ModelBundle` is what it returns.
The card (:mod:`.card`, with its monitoring plan in :mod:`.monitoring_plan`) is checked against
the reference data (:mod:`.card_check`); model files are checked before they are read
(:mod:`.file_check`, :mod:`.file_trust`), ONNX graphs are costed and run under limits
(:mod:`.onnx`, :mod:`.budget`), and every output is checked (:mod:`.output_check`). A
feature's FHIR mapping (:mod:`.fhir_mapping`) is checked by :mod:`.fhir_mapping_check`; UCUM
units convert through :mod:`.ucum_units`. The card's statements of which inputs can change
(:mod:`.changeable_inputs`) and of the owners' next steps (:mod:`.next_steps`) feed the
counterfactuals and the report.
"""

from caselens._lazy import lazy_face

__all__ = [
    "MISSING_TEXT",
    "NO_NEXT_STEPS_TEXT",
    "BundleCatalogue",
    "BundleSignature",
    "BundleTrust",
    "CardCheck",
    "ChangeableInput",
    "DemoCase",
    "FeatureSchema",
    "FeatureSpec",
    "ModelBundle",
    "ModelCard",
    "MonitoringPlan",
    "NextStep",
    "NextSteps",
    "PerformanceFigures",
    "RiskBandSteps",
    "SubgroupPerformance",
    "Validation",
    "VersionDiff",
    "changeable_input_problems",
    "check_bundle_signature",
    "check_card",
    "check_fhir_mappings",
    "convert_quantity",
    "create_bundle",
    "diff_versions",
    "fhir_mapping_problems",
    "is_ucum",
    "leakage_flag_text",
    "load_bundle",
    "load_catalogue",
    "modifiable_inputs",
    "no_counterfactual_reason",
    "plan_for",
    "read_model_file",
    "sign_bundle",
    "to_chai_applied_model_card",
]

_PARTS = {
    "BundleCatalogue": "bundle",
    "BundleSignature": "bundle_signing",
    "BundleTrust": "bundle_signing",
    "check_bundle_signature": "bundle_signing",
    "sign_bundle": "bundle_signing",
    "CardCheck": "card_check",
    "ChangeableInput": "changeable_inputs",
    "NO_NEXT_STEPS_TEXT": "next_steps",
    "NextStep": "next_steps",
    "NextSteps": "next_steps",
    "RiskBandSteps": "next_steps",
    "changeable_input_problems": "changeable_inputs",
    "modifiable_inputs": "changeable_inputs",
    "no_counterfactual_reason": "changeable_inputs",
    "DemoCase": "bundle",
    "FeatureSchema": "features",
    "FeatureSpec": "features",
    "MISSING_TEXT": "features",
    "ModelBundle": "bundle",
    "ModelCard": "card",
    "MonitoringPlan": "monitoring_plan",
    "PerformanceFigures": "card",
    "SubgroupPerformance": "card",
    "Validation": "card",
    "VersionDiff": "version_diff",
    "diff_versions": "version_diff",
    "check_card": "card_check",
    "check_fhir_mappings": "fhir_mapping_check",
    "convert_quantity": "ucum_units",
    "create_bundle": "bundle",
    "fhir_mapping_problems": "fhir_mapping_check",
    "is_ucum": "ucum_units",
    "leakage_flag_text": "leakage",
    "load_bundle": "bundle",
    "load_catalogue": "bundle",
    "plan_for": "monitoring_plan",
    "read_model_file": "bundle",
    "to_chai_applied_model_card": "card",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
