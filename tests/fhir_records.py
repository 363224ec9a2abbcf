"""The FHIR intake tests' bring-your-own schema and case (from caselens.fhir.demo_schema), under
the names the tests use."""

from caselens.fhir.demo_schema import (
    ACT_CODE,
    CASE_DATE,
    DEMO_BY_HAND,
    DEMO_CASE,
    DEMO_SCHEMA,
    LOINC,
    RXNORM,
    SNOMED,
)

BYO_SCHEMA = DEMO_SCHEMA
BYO_CASE = DEMO_CASE
BYO_BY_HAND = DEMO_BY_HAND

__all__ = [
    "ACT_CODE",
    "BYO_BY_HAND",
    "BYO_CASE",
    "BYO_SCHEMA",
    "CASE_DATE",
    "LOINC",
    "RXNORM",
    "SNOMED",
]
