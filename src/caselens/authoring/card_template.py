"""The commented TOML card file ``caselens bundle init`` writes for a person to fill in."""

from __future__ import annotations

import datetime as dt

from caselens.authoring.card_text import COMPUTED_CARD_FIELDS
from caselens.model.card import (
    HTI1_SOURCE_ATTRIBUTES,
    TO_COMPLETE_MARK,
)

_TEMPLATE_HEAD = """\
# CaseLens card file — written by `caselens bundle init`, read by `caselens bundle create`.
# TOML (JSON with the same field names is read too); the field names are those of a bundle's
# card.json. CaseLens computes from your data, so leave out: {computed}.
# Every "TO COMPLETE: …" text left as it is (or left out) stays a visible placeholder in the
# bundle, and `caselens bundle check` lists them all.

# -- required: no default is true for every model --------------------------------------------
model_id = "my-model"              # lower case letters, digits and '-'
name = "My risk model"
version = "1.0.0"
# Is this model a demonstration only, not for patient care? State it; it is never inherited.
demonstration_only = false
decision_threshold = 0.3           # the probability at or above which the model flags
release_date = {today}
last_review_date = {today}

# -- what people must write ------------------------------------------------------------------
review_interval_days = 365
summary = "TO COMPLETE: what the model predicts, for whom, in one or two sentences"
owner = "TO COMPLETE: the team or person responsible"
contact = "TO COMPLETE: an e-mail address or phone number"
intended_use = "TO COMPLETE: the clinical task and setting"
intended_users = "TO COMPLETE: who uses it"
target_population = "TO COMPLETE: the patients it is for"
out_of_scope_uses = ["TO COMPLETE: where it must not be used"]
known_failure_modes = ["TO COMPLETE: where it is known to fail"]
threshold_rationale = "TO COMPLETE: why the threshold is where it is"
# conformal_coverage = 0.9         # coverage of the prediction sets shown
# random_seed = 0                  # seed of the AUROC bootstrap interval
# model_type = "…"                 # default: read from the model, e.g. 'RandomForestClassifier
#                                  # in a scikit-learn Pipeline'

[outcome]
name = "TO COMPLETE: the outcome in clinical words"
definition = "TO COMPLETE: how the outcome was defined in the data"
time_window = "TO COMPLETE: over what time, e.g. within 30 days of admission"
patient_wording = "TO COMPLETE: completes 'About X out of 100 people like you …'"
positive_label = "TO COMPLETE: the outcome happening"
negative_label = "TO COMPLETE: the outcome not happening"

[training_data]
source = "TO COMPLETE: where the data came from"
citation = "TO COMPLETE: how to cite it"
licence = "TO COMPLETE: its licence or data agreement"
dates = "TO COMPLETE: the period it covers"
setting = "TO COMPLETE: hospital, country, wards"
population = "TO COMPLETE: who was in it"
inclusion_exclusion = "TO COMPLETE: who was included and excluded"
under_represented = "TO COMPLETE: who was missing or under-represented"
# split = "…"   (default: the sizes of the files passed to bundle create)

[calibration]
# method is read from the model (CalibratedClassifierCV: isotonic or sigmoid; else none).
fitted_on = "TO COMPLETE: which rows the calibration was fitted on"
rationale = "TO COMPLETE: why this calibration (or none) was chosen"

[validation]
dataset = "TO COMPLETE: where and when the test rows come from"
# method = "…"   (default: says every figure was computed by CaseLens on the test file)
# ece_bins = 10

# [monitoring]   (optional: the monitoring plan after go-live; defaults in docs/monitoring.md)
# period = "month"               # or "week"
# calibration_slope_low = 0.8    # alert when the slope's 95% interval lies wholly outside
# calibration_slope_high = 1.25
# auroc_drop = 0.05              # alert when the drop from the validated AUROC is surely above
# psi_threshold = 0.2            # prediction and input drift
# subgroup_auroc_drop = 0.10
# min_predictions = 100          # fewer in a period: shown, not judged
# min_outcomes = 200
# outcome_window_days = 30       # default: read from outcome.time_window

[source_attributes]
# The HTI-1 source attributes CaseLens cannot derive: write each, or
# "Not available — <the reason>". Derived from the fields above unless you write them:
# developer_name_and_contact, output_value_description, output_type, intended_use,
# intended_patient_population, intended_users, cautioned_out_of_scope_use,
# known_risks_and_limitations, training_inclusion_exclusion, demographic_input_features,
# demographic_representativeness. Computed (leave out): validity_internal_test,
# fairness_internal_test.
{unfilled}

"""
_TEMPLATE_FEATURES = """\
# -- the inputs (optional; one table per column) -----------------------------------------
# Kind, training range, categories and missing shares are computed from the training data.
# Labels default to the column name and are reported "to review". Hard limits are never
# guessed: give them here. sex, age, race/ethnicity and payer columns are subgroups.
# [features.age]
# label = "Age"
# patient_label = "Your age"
# unit = "years"
# hard_min = 18
# hard_max = 110
# subgroup_bins = [18, 45, 65, 80]
#
# meaning: how a 0/1 whole-number input is read (for no other input). Until it is stated,
# bundle create and check warn, and 1 is read as "has the condition". Write one of:
#   "yes_no"    1 = the patient has the condition (diabetes, smoking); a value reads
#               "1 (yes)" or "0 (no)".
#   "category"  0 and 1 are two groups (sex, a test result), named in every sentence by
#               category_descriptions ("1 (male)"), which must give words for "0" and "1".
# [features.diabetes]
# label = "Diabetes"
# meaning = "yes_no"
# [features.sex_male]
# label = "Sex"
# meaning = "category"
# category_descriptions = { "0" = "female", "1" = "male" }

# -- expected directions (optional; yes/no inputs only) ----------------------------------
# What common clinical knowledge expects a yes/no condition to do to this outcome's risk:
#   "raises"   having it is expected to raise the risk (a risk factor, e.g. diabetes);
#   "lowers"   having it is expected to lower the risk (e.g. a protective treatment);
#   "neither"  no expectation: never remarked on.
# A yes/no input not listed is taken as "raises". When the model moves a patient's estimate
# the other way, the clinician and patient texts say so plainly (in this model, having it
# goes with a lower estimate; that does not mean it is good for the patient).
# [expected_directions]
# diabetes = "raises"

# -- changeable inputs (optional; for "what would change it?") ---------------------------
# Which inputs care can change in practice, which way and within which bounds. CaseLens never
# guesses them: a model whose card states none offers no counterfactual and says why. One
# table per input (inputs left out are taken as not modifiable):
#   modifiable     true or false (age, sex, history: false, with only "why")
#   why            shown beside a counterfactual, e.g. "Age cannot be changed."
#   direction      "up", "down" or "either" (default); a category input takes "either"
#   lower, upper   clinically plausible bounds of a number input, inside its hard limits
#   to_categories  the categories a category input may change to (default: any)
#   cost_weight    how costly a change of one spread is next to other inputs (default 1,
#                  at most 100): a larger weight makes the search prefer other inputs
# [changeable_inputs.age]
# modifiable = false
# why = "Age cannot be changed."
# [changeable_inputs.systolic_bp]
# modifiable = true
# why = "Blood pressure can be lowered by medicines and lifestyle changes."
# direction = "down"
# lower = 110
# cost_weight = 1.0

# -- next steps (optional) ---------------------------------------------------------------
# The steps you, the model's owners, recommend on each side of the decision threshold
# (at or above it, below it), and optionally for narrower risk bands (shown in addition).
# CaseLens shows them beside the threshold as your words, never its own; without this
# section every report says "No next steps are stated for this model." At most 5 a list.
#   text          the clinician's wording (up to 300 characters)
#   source        where the step comes from: a protocol, a guideline (required)
#   link          a link to the source (https only; optional)
#   patient_text  the patient's wording, grade 6-8 (optional): only steps with it are shown
#                 to patients, never the clinician's text
# [[next_steps.at_or_above_threshold]]
# text = "Arrange a review by the cardiology team within 2 weeks."
# source = "Our chest pain pathway, version 3 (2025)"
# link = "https://intranet.example.org/chest-pain-pathway"
# patient_text = "Your care team may ask a heart doctor to see you soon."
# [[next_steps.below_threshold]]
# text = "Usual care; a result below the threshold does not rule the condition out."
# source = "Our chest pain pathway, version 3 (2025)"
# [[next_steps.bands]]
# label = "Very high"
# from_probability = 0.6     # the band is [from_probability, to_probability)
# to_probability = 1.0       # the top band includes 1
# [[next_steps.bands.steps]]
# text = "Discuss with the on-call cardiologist the same day."
# source = "Our chest pain pathway, version 3 (2025)"

# -- FHIR mapping (optional; not in this file) -----------------------------------------------
# Which values of a patient's FHIR record fill which input (codes, FHIRPath, UCUM units, a
# look-back window) lives in its own JSON file: `caselens bundle init card.toml --fhir-mapping
# fhir-mapping.json` writes an example, `bundle create --fhir-mapping fhir-mapping.json` merges
# it into the feature schema, and `bundle check` validates it (docs/fhir-mapping.md).
"""
#: HTI-1 attributes the template lists to write (the rest are derived or computed).
_UNFILLED_ATTRIBUTES = (
    "funding_source",
    "intended_decision_role",
    "training_data_relevance",
    "fairness_approach",
    "bias_management",
    "external_validation_data_source",
    "external_validation_party",
    "external_demographic_representativeness",
    "external_validation_process",
    "validity_external",
    "fairness_external",
    "outcome_evaluation_references",
    "validity_monitoring_process",
    "validity_local",
    "fairness_monitoring_process",
    "fairness_local",
    "update_process",
    "correction_frequency",
)


def card_template(today: dt.date | None = None) -> str:
    """The commented TOML card file ``caselens bundle init`` writes."""
    wording = {key: text for key, _, text in HTI1_SOURCE_ATTRIBUTES}
    unfilled = "\n".join(
        f'# {wording[key]}\n{key} = "{TO_COMPLETE_MARK}: {key.replace("_", " ")}"'
        for key in _UNFILLED_ATTRIBUTES
    )
    head = _TEMPLATE_HEAD.format(
        computed=", ".join(COMPUTED_CARD_FIELDS),
        today=(today or dt.date.today()).isoformat(),
        unfilled=unfilled,
    )
    return head + _TEMPLATE_FEATURES
