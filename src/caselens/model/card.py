"""The model card: what a clinician, a patient and a hospital must be able to read about a model.

The card is JSON validated by :class:`ModelCard`. It carries the Model Facts content
(Sendak et al. 2020), all 31 ONC HTI-1 predictive-DSI source attributes, and maps onto
the sections of the CHAI Applied Model Card (:func:`to_chai_applied_model_card`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from caselens.model.changeable_inputs import ChangeableInput
from caselens.model.monitoring_plan import MonitoringPlan
from caselens.model.next_steps import NextSteps

NOT_AVAILABLE_PREFIX = "Not available — "
#: Marks a card text that ``caselens bundle create`` could not fill from the user's card file;
#: ``caselens bundle check`` lists every field still holding it.
TO_COMPLETE_MARK = "TO COMPLETE"


def to_complete(hint: str) -> str:
    """An explicit placeholder for a card text the owner must still write."""
    return f"{TO_COMPLETE_MARK}: {hint}"


#: The 31 source attributes HTI-1 requires for predictive decision-support interventions,
#: 45 CFR 170.315(b)(11)(iv)(B), as (key, category, wording).
HTI1_SOURCE_ATTRIBUTES: tuple[tuple[str, str, str], ...] = (
    (
        "developer_name_and_contact",
        "Details and output of the intervention",
        "Name and contact information for the intervention developer",
    ),
    (
        "funding_source",
        "Details and output of the intervention",
        "Funding source of the technical implementation for the intervention(s) development",
    ),
    (
        "output_value_description",
        "Details and output of the intervention",
        "Description of value that the intervention produces as an output",
    ),
    (
        "output_type",
        "Details and output of the intervention",
        "Whether the intervention output is a prediction, classification, recommendation, "
        "evaluation, analysis, or other type of output",
    ),
    ("intended_use", "Purpose of the intervention", "Intended use of the intervention"),
    (
        "intended_patient_population",
        "Purpose of the intervention",
        "Intended patient population(s) for the intervention's use",
    ),
    ("intended_users", "Purpose of the intervention", "Intended user(s)"),
    (
        "intended_decision_role",
        "Purpose of the intervention",
        "Intended decision-making role for which the intervention was designed to be used/for "
        "(e.g., informs, augments, replaces clinical management)",
    ),
    (
        "cautioned_out_of_scope_use",
        "Cautioned out-of-scope use",
        "Description of tasks, situations, or populations where a user is cautioned against "
        "applying the intervention",
    ),
    (
        "known_risks_and_limitations",
        "Cautioned out-of-scope use",
        "Known risks, inappropriate settings, inappropriate uses, or known limitations of the "
        "intervention",
    ),
    (
        "training_inclusion_exclusion",
        "Intervention development details and input features",
        "Exclusion and inclusion criteria that influenced the training data set",
    ),
    (
        "demographic_input_features",
        "Intervention development details and input features",
        "Use of race, ethnicity, language, sexual orientation, gender identity, sex, date of "
        "birth, social determinants of health, and health status assessment as input features",
    ),
    (
        "demographic_representativeness",
        "Intervention development details and input features",
        "Description of demographic representativeness according to those variables, including "
        "at a minimum those used as input features",
    ),
    (
        "training_data_relevance",
        "Intervention development details and input features",
        "Description of relevance of training data to intended deployed setting",
    ),
    (
        "fairness_approach",
        "Process used to ensure fairness in development",
        "Description of the approach the intervention developer has taken to ensure that the "
        "intervention's output is fair",
    ),
    (
        "bias_management",
        "Process used to ensure fairness in development",
        "Description of approaches to manage, reduce, or eliminate bias",
    ),
    (
        "external_validation_data_source",
        "External validation process",
        "Description of the data source, clinical setting, or environment where the "
        "intervention's validity and fairness has been assessed, other than the source of "
        "training and testing data",
    ),
    (
        "external_validation_party",
        "External validation process",
        "Party that conducted the external testing",
    ),
    (
        "external_demographic_representativeness",
        "External validation process",
        "Description of demographic representativeness of external data according to the same "
        "variables, including at minimum those used as input features",
    ),
    (
        "external_validation_process",
        "External validation process",
        "Description of external validation process",
    ),
    (
        "validity_internal_test",
        "Quantitative measures of performance",
        "Validity of intervention in test data derived from the same source as the initial "
        "training data",
    ),
    (
        "fairness_internal_test",
        "Quantitative measures of performance",
        "Fairness of intervention in test data derived from the same source as the initial "
        "training data",
    ),
    (
        "validity_external",
        "Quantitative measures of performance",
        "Validity of intervention in data external to or from a different source than the "
        "initial training data",
    ),
    (
        "fairness_external",
        "Quantitative measures of performance",
        "Fairness of intervention in data external to or from a different source than the "
        "initial training data",
    ),
    (
        "outcome_evaluation_references",
        "Quantitative measures of performance",
        "References to evaluation of use of the intervention on outcomes, including "
        "bibliographic citations or hyperlinks to evaluations of how well the intervention "
        "reduced morbidity, mortality, length of stay, or other outcomes",
    ),
    (
        "validity_monitoring_process",
        "Ongoing maintenance of intervention implementation and use",
        "Description of process and frequency by which the intervention's validity is monitored "
        "over time",
    ),
    (
        "validity_local",
        "Ongoing maintenance of intervention implementation and use",
        "Validity of intervention in local data",
    ),
    (
        "fairness_monitoring_process",
        "Ongoing maintenance of intervention implementation and use",
        "Description of the process and frequency by which the intervention's fairness is "
        "monitored over time",
    ),
    (
        "fairness_local",
        "Ongoing maintenance of intervention implementation and use",
        "Fairness of intervention in local data",
    ),
    (
        "update_process",
        "Update and continued validation or fairness assessment schedule",
        "Description of process and frequency by which the intervention is updated",
    ),
    (
        "correction_frequency",
        "Update and continued validation or fairness assessment schedule",
        "Description of frequency by which the intervention's performance is corrected when "
        "risks related to validity and fairness are identified",
    ),
)
HTI1_KEYS: tuple[str, ...] = tuple(key for key, _, _ in HTI1_SOURCE_ATTRIBUTES)


ExpectedDirection = Literal["raises", "lowers", "neither"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PerformanceFigures(_Frozen):
    """Held-out performance of the calibrated model on one population (overall or subgroup)."""

    n: int = Field(ge=0)
    events: int = Field(ge=0)
    auroc: float | None = Field(default=None, ge=0, le=1)
    auroc_ci95: tuple[float, float] | None = None
    sensitivity: float | None = Field(default=None, ge=0, le=1)
    specificity: float | None = Field(default=None, ge=0, le=1)
    ppv: float | None = Field(default=None, ge=0, le=1)
    brier: float | None = Field(default=None, ge=0, le=1)
    ece: float | None = Field(default=None, ge=0, le=1)
    calibration_slope: float | None = None
    calibration_intercept: float | None = None
    observed_rate: float | None = Field(default=None, ge=0, le=1)
    mean_predicted: float | None = Field(default=None, ge=0, le=1)


class SubgroupPerformance(_Frozen):
    """Performance in one subgroup, e.g. variable 'sex', group 'Female'."""

    variable: str
    group: str
    figures: PerformanceFigures


class Calibration(_Frozen):
    """How the probability was calibrated and why that method was picked."""

    method: Literal["isotonic", "sigmoid", "none"]
    fitted_on: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    candidates: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Held-out Brier/ECE of each candidate method."
    )


class Validation(_Frozen):
    """How the model was validated and what was measured."""

    method: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    threshold_used: float = Field(gt=0, lt=1)
    overall: PerformanceFigures
    subgroups: tuple[SubgroupPerformance, ...] = ()
    ece_bins: int = 10


class TrainingData(_Frozen):
    """Where the training data came from, when, and who was (and was not) in it."""

    source: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    dates: str = Field(min_length=1)
    setting: str = Field(min_length=1)
    population: str = Field(min_length=1)
    inclusion_exclusion: str = Field(min_length=1)
    under_represented: str = Field(min_length=1)
    split: str = Field(min_length=1)
    n_train: int = Field(ge=1)
    n_calibration: int = Field(ge=0, description="0 when no calibration split was supplied.")
    n_test: int = Field(ge=1)


class Outcome(_Frozen):
    """What is predicted and over what time window."""

    name: str = Field(min_length=1, description="Clinical wording, e.g. 'Readmission'.")
    definition: str = Field(min_length=1)
    time_window: str = Field(min_length=1, description="e.g. 'within 30 days of discharge'.")
    patient_wording: str = Field(
        min_length=1,
        description="Completes 'About X out of 100 people like you …', e.g. "
        "'go back into the hospital within 30 days'.",
    )
    positive_label: str = Field(min_length=1, description="e.g. 'Readmitted within 30 days'.")
    negative_label: str = Field(min_length=1)


class PatientInputWords(_Frozen):
    """How one input is named to a patient in one language, with its values' words."""

    label: str = Field(min_length=1, description="e.g. 'Heart scan result'.")
    #: Category (or '0'/'1') → the patient's words for it, e.g. 'Reversible defect' → 'part
    #: of the heart gets less blood under stress'. Values without letters ('40-49') need none.
    values: dict[str, str] = Field(default_factory=dict)
    #: The unit in the patient's words, e.g. 'beats a minute'; '' when the label says it all
    #: ('Number of medicines'); None: not written yet (listed by ``bundle check``).
    unit: str | None = None


class PatientTexts(_Frozen):
    """Everything a patient reads about this model in one language, written by people."""

    #: Completes 'About X out of 100 people like you …' in this language.
    outcome: str = Field(min_length=1)
    inputs: dict[str, PatientInputWords] = Field(default_factory=dict)
    #: Questions for the patient to ask, fitting the model's kind.
    questions: tuple[str, ...] = ()


class ModelCard(_Frozen):
    """Everything a reader needs to judge a model, validated on load.

    A card that is missing a field, or has a blank HTI-1 source attribute, is refused
    with the field's name.
    """

    schema_version: Literal["1.0"] = "1.0"
    model_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    model_type: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    contact: str = Field(min_length=1)
    release_date: dt.date
    last_review_date: dt.date
    review_interval_days: int = Field(ge=1)
    demonstration_only: bool = True

    intended_use: str = Field(min_length=1)
    intended_users: str = Field(min_length=1)
    target_population: str = Field(min_length=1)
    out_of_scope_uses: tuple[str, ...] = Field(min_length=1)
    known_failure_modes: tuple[str, ...] = Field(min_length=1)
    outcome: Outcome
    training_data: TrainingData

    decision_threshold: float = Field(gt=0, lt=1)
    threshold_rationale: str = Field(min_length=1)
    conformal_coverage: float = Field(default=0.9, gt=0.5, lt=1)
    calibration: Calibration
    validation: Validation

    model_file: str = Field(min_length=1)
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    library_versions: dict[str, str]
    random_seed: int

    source_attributes: dict[str, str]
    #: The monitoring plan (thresholds for each alert, minimum n, outcome window); None:
    #: the defaults of docs/monitoring.md.
    monitoring: MonitoringPlan | None = None
    #: Which way common clinical knowledge expects having each yes/no input to move the risk
    #: (input name → 'raises', 'lowers' or 'neither'); an input left out is taken as a risk
    #: factor ('raises'). A model that uses one the other way is said to do so on every report.
    expected_directions: dict[str, ExpectedDirection] | None = None
    #: Whether the model tells if something is already there ('diagnostic') or if it will
    #: happen ('prognostic'); the patient's questions and cautions fit it. None: not said.
    model_kind: Literal["diagnostic", "prognostic"] | None = None
    #: Patient texts by language code ('en', 'es', 'fr'); see caselens.explain.patient_language.
    patient_texts: dict[str, PatientTexts] = Field(default_factory=dict)
    #: Which inputs can change in practice, which way and within which bounds (input name →
    #: statement); None: not stated, so no counterfactual is offered
    #: (caselens.model.changeable_inputs).
    changeable_inputs: dict[str, ChangeableInput] | None = None
    #: The next steps the owners recommend on each side of the threshold; None: none stated
    #: (caselens.model.next_steps).
    next_steps: NextSteps | None = None

    @field_validator("source_attributes")
    @classmethod
    def _all_hti1_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [k for k in HTI1_KEYS if k not in value]
        if missing:
            raise ValueError(
                f"missing HTI-1 source attribute(s): {', '.join(missing)}; fill each one or "
                f"write '{NOT_AVAILABLE_PREFIX}<reason>'"
            )
        unknown = sorted(set(value) - set(HTI1_KEYS))
        if unknown:
            raise ValueError(f"unknown source attribute(s): {', '.join(unknown)}")
        for key in HTI1_KEYS:
            text = value[key].strip()
            if not text:
                raise ValueError(f"HTI-1 source attribute '{key}' is blank")
            if text.startswith(NOT_AVAILABLE_PREFIX.strip()) and len(text) <= len(
                NOT_AVAILABLE_PREFIX
            ):
                raise ValueError(f"HTI-1 source attribute '{key}' says not available but no reason")
        return {k: value[k] for k in HTI1_KEYS}

    @model_validator(mode="after")
    def _threshold_matches_validation(self) -> ModelCard:
        if abs(self.validation.threshold_used - self.decision_threshold) > 1e-12:
            raise ValueError(
                "validation.threshold_used must equal decision_threshold "
                f"({self.validation.threshold_used} != {self.decision_threshold})"
            )
        return self

    def to_complete_fields(self) -> list[str]:
        """Dotted paths of every text still holding a 'TO COMPLETE' placeholder, in order."""
        found: list[str] = []

        def walk(node: object, path: str) -> None:
            if isinstance(node, str):
                if TO_COMPLETE_MARK in node:
                    found.append(path)
            elif isinstance(node, dict):
                for key, value in node.items():
                    walk(value, f"{path}.{key}" if path else str(key))
            elif isinstance(node, list | tuple):
                for i, value in enumerate(node):
                    walk(value, f"{path}[{i}]")

        walk(self.model_dump(mode="json"), "")
        return found

    def review_due(self) -> dt.date:
        """The date by which the model should have been reviewed again."""
        return self.last_review_date + dt.timedelta(days=self.review_interval_days)

    def source_attribute_rows(self) -> list[dict[str, str]]:
        """The 31 HTI-1 attributes as rows: number, category, attribute, value."""
        return [
            {
                "number": str(i),
                "category": cat,
                "attribute": wording,
                "value": self.source_attributes[key],
            }
            for i, (key, cat, wording) in enumerate(HTI1_SOURCE_ATTRIBUTES, start=1)
        ]


def _metric(label: str, value: float | None, unit: str = "") -> dict[str, object]:
    return {"Label": label, "ValueJson": {"kind": "single", "value": value, "unit": unit}}


def _chai_trust_ingredients(card: ModelCard) -> dict[str, object]:
    """The CHAI card's TrustIngredients section: the AI system facts and transparency."""
    sa = card.source_attributes
    return {
        "AISystemFacts": {
            "OutcomesAndOutputs": f"{card.outcome.definition} ({card.outcome.time_window}). "
            + sa["output_value_description"],
            "ModelType": card.model_type,
            "InputDataSource": card.training_data.source,
            "OutputAndInputDataTypes": sa["output_type"],
            "DevelopmentDataCharacterization": card.training_data.population,
            "BiasMitigationApproaches": sa["bias_management"],
            "OngoingMaintenance": sa["validity_monitoring_process"],
        },
        "TransparencyInformation": {
            "FundingSource": sa["funding_source"],
            "StakeholdersConsulted": "Not available — demonstration model, no stakeholder "
            "panel was convened",
        },
    }


def _chai_key_metrics(card: ModelCard) -> dict[str, object]:
    """The CHAI card's KeyMetrics section: usefulness, fairness and safety figures."""
    sa = card.source_attributes
    overall = card.validation.overall
    subgroup_results = [
        _metric(f"AUROC — {s.variable} {s.group} (n={s.figures.n})", s.figures.auroc)
        for s in card.validation.subgroups
    ]
    key_metric_common = {
        "TestType": card.validation.method,
        "TestingDataDescription": card.validation.dataset,
        "ValidationProcessAndJustification": sa["external_validation_process"],
    }
    return {
        "UsefulnessUsabilityEfficacy": {
            "MetricGoal": "Discrimination and calibration on held-out patients",
            "Results": [
                _metric("AUROC", overall.auroc),
                _metric("Sensitivity at threshold", overall.sensitivity),
                _metric("Specificity at threshold", overall.specificity),
            ],
            "Interpretation": sa["validity_internal_test"],
            **key_metric_common,
        },
        "FairnessEquity": {
            "MetricGoal": "Similar discrimination across subgroups",
            "Results": subgroup_results or [_metric("No subgroup figures", None)],
            "Interpretation": sa["fairness_internal_test"],
            **key_metric_common,
        },
        "SafetyReliability": {
            "MetricGoal": "Probabilities that match observed rates",
            "Results": [
                _metric("Brier score", overall.brier),
                _metric("Expected calibration error", overall.ece),
                _metric("Calibration slope", overall.calibration_slope),
                _metric("Calibration intercept", overall.calibration_intercept),
            ],
            "Interpretation": card.calibration.rationale,
            **key_metric_common,
        },
    }


def to_chai_applied_model_card(card: ModelCard) -> dict[str, object]:
    """Map a card onto the sections of the CHAI Applied Model Card (schema v0.2).

    Returns a JSON-able dict whose top-level keys are the CHAI sections in order:
    BasicInfo, ReleaseInfo, ModelSummary, UsesAndDirections, Warnings, TrustIngredients,
    KeyMetrics, Resources, Bibliography.
    """
    sa = card.source_attributes
    return {
        "BasicInfo": {
            "ModelName": card.name,
            "ModelDeveloper": card.owner,
            "DeveloperContact": card.contact,
        },
        "ReleaseInfo": {
            "ReleaseStage": "Demonstration only" if card.demonstration_only else "Released",
            "ReleaseDate": card.release_date.isoformat(),
            "ReleaseVersion": card.version,
            "GlobalAvailability": "Not applicable — demonstration model",
        },
        "ModelSummary": {"Summary": card.summary, "Keywords": [card.outcome.name, card.model_type]},
        "UsesAndDirections": {
            "IntendedUseAndWorkflow": card.intended_use,
            "PrimaryIntendedUsers": card.intended_users,
            "HowToUse": sa["intended_decision_role"],
            "TargetedPatientPopulation": card.target_population,
            "CautionedOutOfScopeSettings": "\n".join(f"- {u}" for u in card.out_of_scope_uses),
        },
        "Warnings": {
            "KnownRisksAndLimitations": "\n".join(f"- {m}" for m in card.known_failure_modes),
            "KnownBiasesOrEthicalConsiderations": card.training_data.under_represented,
            "ClinicalRiskLevel": sa["known_risks_and_limitations"],
        },
        "TrustIngredients": _chai_trust_ingredients(card),
        "KeyMetrics": _chai_key_metrics(card),
        "Resources": {
            "EvaluationReferences": sa["outcome_evaluation_references"],
            "PeerReviewedPublications": card.training_data.citation,
            "PatientConsentOrDisclosure": "De-identified public research data; "
            + card.training_data.licence,
        },
        "Bibliography": card.training_data.citation,
    }
