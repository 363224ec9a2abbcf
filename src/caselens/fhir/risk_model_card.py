"""The model behind a result, as FHIR: an AI Device and its model card (AI Transparency on FHIR).

Both are derived only from the report's own model summary (name, version, SHA-256 of the
model file, outcome, threshold, calibration, intended use), so a replayed report gives the
same resources as the live one, and their ids depend only on the model file's SHA-256: the
same model is the same Device on every export.

The card's words come from the bundle's author and are untrusted: in the Markdown card every
ASCII punctuation character of a value is backslash-escaped (CommonMark), so a ``<script>``
or a link in a card field is shown as text by any Markdown renderer; in the JSON they are
plain strings.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from caselens.explain.report import ModelSummary
from caselens.fhir.risk_codes import (
    AI_DEVICE_PROFILE,
    AI_DEVICE_TYPE_CODE,
    AI_DEVICE_TYPE_SYSTEM,
    AI_INPUTS_SYSTEM,
    AI_KIND_CODE,
    AI_KIND_EXTENSION,
    AI_MODEL_CARD_PROFILE,
    MODEL_CARD_EXTENSION,
    MODEL_CARD_MARKDOWN_CODE,
    MODEL_CARD_TYPE_CODE,
    MODEL_SHA256_SYSTEM,
    MODEL_SYSTEM,
    stable_id,
)

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_literal(text: str) -> str:
    """``text`` as a Markdown literal: every ASCII punctuation character backslash-escaped
    and line breaks folded to spaces, so nothing in it is markup.

    Examples
    --------
    >>> markdown_literal("<b>x</b>")
    '\\\\<b\\\\>x\\\\</b\\\\>'
    """
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def device_id(model: ModelSummary) -> str:
    """The Device's id: the same model file, the same id."""
    return stable_id("Device", model.sha256)


def model_card_id(model: ModelSummary) -> str:
    """The model card DocumentReference's id (one per model file)."""
    return stable_id("DocumentReference", "model-card", model.sha256)


def model_card_markdown(model: ModelSummary) -> str:
    """The model card as Markdown, from the report's model summary.

    Performance figures are left out on purpose: the card's own claims may disagree with what
    CaseLens measures on the bundle's reference data, and only the measured figures are
    shown (CaseLens's Model facts page).
    """
    lit = markdown_literal
    calibration = (
        f"{lit(model.calibration_method)}: {lit(model.calibration_rationale)}"
        if model.calibration_method != "none"
        else "none: the model's score is not a calibrated probability"
    )
    lines = [
        f"# {lit(model.name)} {lit(model.version)}",
        "",
        f"- Model id: {lit(model.model_id)}",
        f"- Model file SHA\\-256: {model.sha256}",
        f"- Model type: {lit(model.model_type)}",
        f"- Outcome: {lit(model.outcome)} ({lit(model.outcome_definition)}), "
        f"{lit(model.time_window)}",
        f"- Decision threshold: {model.threshold:g} ({lit(model.threshold_rationale)})",
        f"- Calibration: {calibration}",
        f"- Validation: {lit(model.validation_method)} on {lit(model.validated_on)}",
        f"- Intended use: {lit(model.intended_use)}",
    ]
    lines += [f"- Not for: {lit(use)}" for use in model.out_of_scope_uses]
    if model.demonstration_only:
        lines.append("- Demonstration only: not for clinical use")
    lines += [
        f"- Last reviewed: {model.last_review_date}; review due: {model.review_due}",
        "",
        "Performance figures: see CaseLens Model facts, measured on the bundle's reference data.",
    ]
    return "\n".join(lines) + "\n"


def model_card_resource(model: ModelSummary) -> dict[str, Any]:
    """The AI Model-Card DocumentReference, the Markdown card attached as data."""
    markdown = model_card_markdown(model).encode("utf-8")
    return {
        "resourceType": "DocumentReference",
        "id": model_card_id(model),
        "meta": {"profile": [AI_MODEL_CARD_PROFILE]},
        "identifier": [{"system": MODEL_SHA256_SYSTEM, "value": model.sha256}],
        "status": "current",
        "type": {
            "coding": [
                {
                    "system": AI_INPUTS_SYSTEM,
                    "code": MODEL_CARD_TYPE_CODE,
                    "display": "AI Model-Card",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": AI_INPUTS_SYSTEM,
                        "code": MODEL_CARD_MARKDOWN_CODE,
                        "display": "Markdown Format",
                    }
                ]
            }
        ],
        "description": f"Model card of {model.name} {model.version}",
        "content": [
            {
                "attachment": {
                    "contentType": "text/markdown",
                    "language": "en",
                    "data": base64.b64encode(markdown).decode("ascii"),
                    "size": len(markdown),
                    # FHIR R4 Attachment.hash is the SHA-1 of the data (base64).
                    "hash": base64.b64encode(hashlib.sha1(markdown).digest()).decode("ascii"),
                    "title": f"Model card: {model.name} {model.version}",
                }
            }
        ],
    }


def device_resource(model: ModelSummary) -> dict[str, Any]:
    """The model as an AI Device: name, version, SHA-256 identifier and its model card."""
    return {
        "resourceType": "Device",
        "id": device_id(model),
        "meta": {"profile": [AI_DEVICE_PROFILE]},
        "extension": [
            {
                "url": AI_KIND_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": AI_DEVICE_TYPE_SYSTEM, "code": AI_KIND_CODE}]
                },
            },
            {
                "url": MODEL_CARD_EXTENSION,
                "valueReference": {
                    "reference": f"urn:uuid:{model_card_id(model)}",
                    "display": f"Model card: {model.name} {model.version}",
                },
            },
        ],
        "identifier": [
            {"system": MODEL_SHA256_SYSTEM, "value": model.sha256},
            {"system": MODEL_SYSTEM, "value": model.model_id},
        ],
        "status": "active",
        "deviceName": [{"name": model.name, "type": "model-name"}],
        "modelNumber": model.model_id,
        "type": {
            "coding": [
                {
                    "system": AI_DEVICE_TYPE_SYSTEM,
                    "code": AI_DEVICE_TYPE_CODE,
                    "display": "All kinds of Artificial Intelligence",
                }
            ]
        },
        "version": [{"value": model.version}],
    }
