"""The canonical URLs and codes a CaseLens result is written back with.

The profiles, extensions and code systems are those of HL7 **AI Transparency on FHIR**
(STU1, ``http://hl7.org/fhir/uv/aitransparency``); the rest are FHIR R4 core and HL7
terminology. CaseLens's own identifiers are URNs (``urn:caselens:…``), as in the audit
trail's AuditEvent export, so no web host is implied.
"""

from __future__ import annotations

import uuid

_IG = "http://hl7.org/fhir/uv/aitransparency"

#: The AI Device profile: the model as a Device of type Artificial-Intelligence.
AI_DEVICE_PROFILE = f"{_IG}/StructureDefinition/AI-Device"
#: The AI Provenance profile: the record of an AI's part in producing a resource.
AI_PROVENANCE_PROFILE = f"{_IG}/StructureDefinition/AI-Provenance"
#: The AI Model-Card DocumentReference profile.
AI_MODEL_CARD_PROFILE = f"{_IG}/StructureDefinition/AI-ModelCard"
#: The AI Confidence extension (valueDecimal, valueQuantity, valueRange, valueCodeableConcept
#: or valueString); CaseLens writes the probability's interval as a valueRange.
AI_CONFIDENCE_EXTENSION = f"{_IG}/StructureDefinition/AIconfidence"
#: The Device extension that references the model card.
MODEL_CARD_EXTENSION = f"{_IG}/StructureDefinition/aitransparency.modelCardDescription"
#: The Device extension naming the more specific kind of AI.
AI_KIND_EXTENSION = f"{_IG}/StructureDefinition/aitransparency.AIKind"
#: Device.type codes for AI (the profile fixes Device.type to Artificial-Intelligence).
AI_DEVICE_TYPE_SYSTEM = f"{_IG}/CodeSystem/AIdeviceTypeCS"
AI_DEVICE_TYPE_CODE = "Artificial-Intelligence"
#: A risk model trained on tabular data is a machine-learning model (AIKind).
AI_KIND_CODE = "Machine-Learning-Models"
#: DocumentReference.type and .category codes for a model card (STU1 publishes this code
#: system in HL7 terminology).
AI_INPUTS_SYSTEM = "http://terminology.hl7.org/CodeSystem/AIinputsCS"
MODEL_CARD_TYPE_CODE = "AIModelCard"
MODEL_CARD_MARKDOWN_CODE = "AIModelCardMarkdownFormat"

#: The security label that marks a resource as asserted by an AI (meta.security; the IG's
#: first level of transparency, required on every AI-produced resource).
OBSERVATION_VALUE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AI_ASSERTED_CODE = "AIAST"
AI_ASSERTED_DISPLAY = "Artificial Intelligence asserted"

PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
ENTITY_ROLE_SYSTEM = "http://hl7.org/fhir/provenance-entity-role"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
UCUM = "http://unitsofmeasure.org"

#: CaseLens's own identifier systems.
PATIENT_SYSTEM = "urn:caselens:patient"
USER_SYSTEM = "urn:caselens:user"
ROLE_SYSTEM = "urn:caselens:role"
MODEL_SYSTEM = "urn:caselens:model"
MODEL_SHA256_SYSTEM = "urn:caselens:model-sha256"
REPORT_SYSTEM = "urn:caselens:report-sha256"
ENTRY_NUMBER_SYSTEM = "urn:caselens:audit-entry"
ENTRY_HASH_SYSTEM = "urn:caselens:audit-entry-sha256"
THRESHOLD_SIDE_SYSTEM = "urn:caselens:threshold-side"
#: The uncalibrated model score, carried in an extension because it is not a probability.
MODEL_SCORE_EXTENSION = "urn:caselens:fhir:model-score-not-calibrated"

#: Namespace of the resources' ids: the same entry always gives the same ids.
ID_NAMESPACE = uuid.UUID("0f6b0e52-2a51-4c8c-9d8e-6a1f3b7c5d21")


def stable_id(*parts: str) -> str:
    """A FHIR id (a UUID, 36 characters) derived only from ``parts``.

    Examples
    --------
    >>> stable_id("a", "b") == stable_id("a", "b") != stable_id("a", "c")
    True
    """
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))
