"""A FHIR mapping file (``bundle create --fhir-mapping FILE``) merged into a feature schema.

The file is JSON: one object whose keys are feature names and whose values are mappings
(:class:`caselens.model.fhir_mapping.FhirMapping`), e.g.::

    {"resting_bp": {"resource_type": "Observation",
                    "codes": [{"system": "http://loinc.org", "code": "8480-6"}],
                    "value_path": "valueQuantity", "units": ["mm[Hg]"], "unit": "mm[Hg]"}}

It is untrusted input: read bounded in size, nesting depth and text length before it is
parsed; a name the schema does not have is refused by name; nothing is merged unless every
mapping is valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from caselens.errors import BundleError
from caselens.model.bounded import check_text_lengths, loads_bounded, read_bounded
from caselens.model.bundle_layout import describe_validation_error
from caselens.model.features import FeatureSchema
from caselens.model.fhir_mapping import FhirMapping
from caselens.model.fhir_mapping_check import fhir_mapping_problems

#: Largest mapping file read (the samples' are under 15 kB; a mapping is a few hundred bytes).
MAX_MAPPING_FILE_BYTES = 512 * 1024
#: Deepest nesting of a mapping file (file → feature → mapping → codes/bands → one item: 4).
MAX_MAPPING_FILE_DEPTH = 8
#: Longest text in a mapping file (FHIRPath expressions and reasons are short sentences).
MAX_MAPPING_TEXT_CHARS = 2_000

WHAT = "The FHIR mapping file"


def read_fhir_mapping_file(path: Path) -> dict[str, FhirMapping]:
    """The mappings of a mapping file, each validated; any problem names the feature and field.

    Raises
    ------
    BundleError
        The file is too large, too deep, not JSON, not an object of objects, or a mapping is
        invalid (every invalid mapping is named).
    """
    raw = read_bounded(Path(path), MAX_MAPPING_FILE_BYTES, WHAT)
    data = loads_bounded(raw, what=WHAT, max_depth=MAX_MAPPING_FILE_DEPTH)
    check_text_lengths(data, what=WHAT, max_chars=MAX_MAPPING_TEXT_CHARS)
    return parse_fhir_mappings(data)


def parse_fhir_mappings(data: Any) -> dict[str, FhirMapping]:
    """Validate parsed mapping-file JSON: an object of feature name → mapping object."""
    if not isinstance(data, dict):
        raise BundleError(
            f"{WHAT} must hold one JSON object of feature name → mapping, e.g. "
            '{"age": {"resource_type": "Patient", ...}}; it holds a '
            f"{type(data).__name__}."
        )
    mappings: dict[str, FhirMapping] = {}
    problems: list[str] = []
    for name, value in data.items():
        if not isinstance(value, dict):
            problems.append(
                f"'{name}': the mapping must be a JSON object, not a {type(value).__name__}"
            )
            continue
        try:
            mappings[name] = FhirMapping.model_validate(value)
        except ValidationError as exc:
            problems.append(describe_validation_error(f"'{name}'", exc))
    if problems:
        raise BundleError(f"{WHAT} has {len(problems)} invalid mapping(s): " + "; ".join(problems))
    return mappings


def merge_fhir_mappings(
    schema: FeatureSchema | Mapping[str, Any], mappings: Mapping[str, FhirMapping]
) -> FeatureSchema:
    """The schema with each named feature's ``fhir`` field set from ``mappings``.

    A mapping for a feature the schema does not have is refused, naming it (a typo would
    otherwise leave an input silently unmapped). Features not named keep their mapping. The
    merged mappings must pass ``bundle check``'s FHIR mapping check (a bundle that check
    would refuse is not made); its warnings are left for ``bundle check`` to print.
    """
    if not isinstance(schema, FeatureSchema):
        try:
            schema = FeatureSchema.model_validate(schema)
        except ValidationError as exc:
            raise BundleError(describe_validation_error("The feature schema", exc)) from exc
    unknown = [name for name in mappings if name not in schema]
    if unknown:
        raise BundleError(
            f"{WHAT} names {len(unknown)} feature(s) the schema does not have: "
            + ", ".join(repr(n) for n in unknown)
            + f". The schema's features: {', '.join(schema.names)}."
        )
    features = tuple(
        f.model_copy(update={"fhir": mappings[f.name]}) if f.name in mappings else f for f in schema
    )
    merged = FeatureSchema(features=features)
    problems = fhir_mapping_problems(merged)
    if problems:
        raise BundleError(
            f"{WHAT} has {len(problems)} problem(s):\n" + "\n".join(f"- {p}" for p in problems)
        )
    return merged


def example_mapping_file() -> str:
    """An example mapping file (``bundle init --fhir-mapping``): one input read from Patient,
    one from an Observation with units, one entered by hand. Keys are example feature names."""
    example = {
        "age": {"resource_type": "Patient", "value_path": "birthDate", "derive": "age_years"},
        "systolic_bp": {
            "resource_type": "Observation",
            "codes": [
                {
                    "system": "http://loinc.org",
                    "code": "8480-6",
                    "display": "Systolic blood pressure",
                }
            ],
            "value_path": "valueQuantity",
            "units": ["mm[Hg]"],
            "unit": "mm[Hg]",
            "window_days": 180,
            "combine": "latest",
        },
        "smoking": {
            "entered_by_hand": True,
            "by_hand_reason": "Smoking status is asked at the visit; the record's may be old.",
        },
    }
    return json.dumps(example, indent=2, ensure_ascii=False) + "\n"
