"""Where each clinical input comes from in a patient's FHIR R4 record.

A feature's ``fhir`` field (in ``features.json``) says which resources hold the value (type and
codes), where in a resource the value sits (a FHIRPath expression), which UCUM units are
allowed and how they convert to the schema's unit, how far back to look from the case date,
and how several values combine. An input the record cannot give says so
(``entered_by_hand``) and is asked for by hand. Nothing here reads a record: the intake
(:mod:`caselens.fhir`) does, and names every problem per field; it never defaults a value the
mapping does not state.

Structure is checked here (pydantic); whether each FHIRPath compiles and each unit converts is
checked by ``bundle check`` (:mod:`caselens.model.fhir_mapping_check`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The resource types a mapping may read.
FhirResourceType = Literal[
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "MedicationRequest",
    "MedicationStatement",
    "Procedure",
]
#: How several matching values become one input value.
#: latest / earliest: the value with the newest / oldest date (two different values on that
#: same date are a conflict); max / min: over the window; count: how many matching resources;
#: any: 1 when at least one matches, else 0.
Combine = Literal["latest", "earliest", "max", "min", "count", "any"]
#: A value computed from the one the path gives: whole years between a date and the case date
#: (age from Patient.birthDate), or whole days a Period lasted (length of stay).
Derive = Literal["age_years", "period_days"]

#: Code systems a mapping names, by their canonical FHIR URIs.
KNOWN_CODE_SYSTEMS: dict[str, str] = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD-9-CM",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": "HL7 v3 ActCode",
    "http://terminology.hl7.org/CodeSystem/admit-source": "HL7 admit source",
    "http://terminology.hl7.org/CodeSystem/discharge-disposition": "HL7 discharge disposition",
    "http://terminology.hl7.org/CodeSystem/v3-ActPriority": "HL7 v3 ActPriority",
    "http://terminology.hl7.org/CodeSystem/condition-category": "HL7 condition category",
    "http://terminology.hl7.org/CodeSystem/observation-category": "HL7 observation category",
    "http://www.ama-assn.org/go/cpt": "CPT",
}
#: Most codes one mapping lists (a value set of a few dozen codes is common; a bound keeps a
#: hostile schema from making every check and search slow).
MAX_MAPPING_CODES = 256
#: Most allowed units of one mapping (a lab value comes in two or three).
MAX_MAPPING_UNITS = 16
#: Most bands or value-map entries of one mapping (age by decade: 10).
MAX_MAPPING_ENTRIES = 128


class FhirCode(BaseModel):
    """One code that marks a resource as holding this input (any listed code matches)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1, description="Code system URI, e.g. 'http://loinc.org'.")
    code: str = Field(min_length=1)
    display: str = ""


class ValueBand(BaseModel):
    """A numeric range that maps to one schema value (HbA1c above 7 % → 'Above 7%').

    A value belongs to the last band whose lower bound it reaches (``lower_inclusive``) or
    passes; the first band may leave ``lower`` unset (everything below the next band).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lower: float | None = None
    lower_inclusive: bool = True
    value: str | float


class FhirMapping(BaseModel):
    """How one input is read from a FHIR R4 record (the feature's ``fhir`` field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entered_by_hand: bool = Field(
        default=False,
        description="The record does not hold this input; the clinician enters it.",
    )
    by_hand_reason: str = Field(
        default="", description="Why it is entered by hand, in a clinician's words."
    )
    resource_type: FhirResourceType | None = None
    codes: tuple[FhirCode, ...] = Field(
        default=(),
        max_length=MAX_MAPPING_CODES,
        description="Resources carrying any of these codes hold the value.",
    )
    code_path: str | None = Field(
        default=None,
        description="FHIRPath to the codings to match (default: the type's usual code "
        "element, e.g. Observation.code, Encounter.class).",
    )
    value_path: str | None = Field(
        default=None,
        description="FHIRPath to the value in a matching resource, e.g. 'valueQuantity', "
        "\"component.where(code.coding.code='8480-6').valueQuantity\", 'birthDate'.",
    )
    date_path: str | None = Field(
        default=None,
        description="FHIRPath to the resource's clinical date (default: the type's usual "
        "one, e.g. Observation.effectiveDateTime, Encounter.period.start).",
    )
    units: tuple[str, ...] = Field(
        default=(),
        max_length=MAX_MAPPING_UNITS,
        description="UCUM codes the record's value may carry, e.g. ('mm[Hg]',).",
    )
    unit: str | None = Field(
        default=None,
        description="UCUM code of the schema's unit; allowed units convert to it.",
    )
    molar_mass_g_per_mol: float | None = Field(
        default=None,
        gt=0,
        description="For a substance measured in mol or g per volume: the molar mass that "
        "converts between them (cholesterol 386.65).",
    )
    window_days: int | None = Field(
        default=None,
        ge=0,
        description="Look back this many days from the case date (None: the whole record). "
        "A value found only before the window is reported as stale, never used.",
    )
    combine: Combine = "latest"
    excludes_current_stay: bool = Field(
        default=False,
        description="For Encounter counts: leave out the stay being assessed (an Encounter "
        "whose period covers the case date, or that is still in progress), so 'inpatient stays "
        "in the past year' counts the earlier ones only.",
    )
    derive: Derive | None = None
    value_map: dict[str, str | float] | None = Field(
        default=None,
        max_length=MAX_MAPPING_ENTRIES,
        description="A coded or text value → the schema's value ('male' → 'Male').",
    )
    bands: tuple[ValueBand, ...] | None = Field(
        default=None,
        max_length=MAX_MAPPING_ENTRIES,
        description="Numeric ranges → the schema's category or 0/1 value.",
    )
    when_absent: str | float | None = Field(
        default=None,
        description="The value the model's owners state for 'nothing in the record within "
        "the window' ('Not measured'); unset, an absent value is asked for by hand.",
    )

    @model_validator(mode="after")
    def _check_shape(self) -> FhirMapping:
        if self.entered_by_hand:
            read_fields = (self.resource_type, self.value_path, self.codes, self.units)
            if any(read_fields):
                raise ValueError(
                    "an input entered by hand names no resource_type, codes, value_path or units"
                )
            return self
        if self.resource_type is None:
            raise ValueError("resource_type is required unless entered_by_hand is true")
        if self.resource_type != "Patient" and not self.codes:
            article = "an" if self.resource_type[0] in "AEIOU" else "a"
            raise ValueError(
                f"{article} {self.resource_type} mapping needs at least one code in 'codes' "
                "(which resources hold the value)"
            )
        counting = self.combine in ("count", "any")
        if not counting and self.value_path is None:
            raise ValueError(f"combine '{self.combine}' needs a value_path")
        if self.units and self.unit is None:
            raise ValueError("'units' (allowed) needs 'unit' (the schema's unit to convert to)")
        if self.value_map is not None and self.bands is not None:
            raise ValueError("use value_map or bands, not both")
        if self.bands is not None:
            lowers = [b.lower for b in self.bands]
            if any(low is None for low in lowers[1:]):
                raise ValueError("only the first band may leave 'lower' unset")
            known = [low for low in lowers if low is not None]
            if known != sorted(known) or len(set(known)) != len(known):
                raise ValueError("bands must be in increasing order of 'lower'")
        if self.excludes_current_stay and self.resource_type != "Encounter":
            raise ValueError("excludes_current_stay is for Encounter mappings only")
        if self.derive == "age_years" and self.resource_type != "Patient":
            raise ValueError("derive 'age_years' reads Patient.birthDate (resource_type Patient)")
        return self
