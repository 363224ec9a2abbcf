"""The model card: all 31 HTI-1 source attributes, and the CHAI Applied Model Card mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caselens.model.card import (
    HTI1_KEYS,
    HTI1_SOURCE_ATTRIBUTES,
    NOT_AVAILABLE_PREFIX,
    ModelCard,
    to_chai_applied_model_card,
)

CHAI_SECTIONS = [
    "BasicInfo",
    "ReleaseInfo",
    "ModelSummary",
    "UsesAndDirections",
    "Warnings",
    "TrustIngredients",
    "KeyMetrics",
    "Resources",
    "Bibliography",
]


def test_there_are_31_hti1_attributes_in_9_categories():
    assert len(HTI1_SOURCE_ATTRIBUTES) == 31
    assert len({category for _, category, _ in HTI1_SOURCE_ATTRIBUTES}) == 9


def test_every_sample_card_fills_all_31_attributes_or_says_why_not(sample_bundles):
    for bundle in sample_bundles.values():
        rows = bundle.card.source_attribute_rows()
        assert [r["number"] for r in rows] == [str(i) for i in range(1, 32)]
        for row in rows:
            value = row["value"]
            assert value.strip()
            if value.startswith("Not available"):
                assert value.startswith(NOT_AVAILABLE_PREFIX) and len(value) > 30


def test_not_available_without_a_reason_is_refused(heart_bundle):
    data = heart_bundle.card.model_dump(mode="json")
    data["source_attributes"]["validity_local"] = NOT_AVAILABLE_PREFIX
    with pytest.raises(ValidationError, match="says not available but no reason"):
        ModelCard.model_validate(data)


def test_threshold_used_in_validation_must_equal_the_decision_threshold(heart_bundle):
    data = heart_bundle.card.model_dump(mode="json")
    data["decision_threshold"] = 0.3
    with pytest.raises(ValidationError, match="threshold_used must equal decision_threshold"):
        ModelCard.model_validate(data)


def test_chai_export_has_the_eight_sections_and_bibliography(sample_bundles):
    for bundle in sample_bundles.values():
        chai = to_chai_applied_model_card(bundle.card)
        assert list(chai) == CHAI_SECTIONS
        assert chai["BasicInfo"]["ModelName"] == bundle.card.name
        metrics = chai["KeyMetrics"]
        assert set(metrics) == {
            "UsefulnessUsabilityEfficacy",
            "FairnessEquity",
            "SafetyReliability",
        }
        auroc = metrics["UsefulnessUsabilityEfficacy"]["Results"][0]["ValueJson"]["value"]
        assert auroc == bundle.card.validation.overall.auroc


def test_card_keys_cover_every_hti1_key(heart_bundle):
    assert tuple(heart_bundle.card.source_attributes) == HTI1_KEYS
