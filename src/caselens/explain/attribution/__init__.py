"""SHAP and LIME for one case, per clinical variable, and how far the two agree.

The raw model inputs *are* the clinical variables (the bundle's pipeline does its own encoding),
so both explainers work on the raw DataFrame columns and no one-hot column ever leaks out.

SHAP (:mod:`.shapley`, :mod:`.shap_explanation`)
    Interventional Shapley values of the *calibrated* probability, estimated by antithetic
    permutation sampling over a fixed-seed background sample (Štrumbelj & Kononenko). Each
    background row is paired with one random variable order and its reverse; along each order
    the variables are switched from the background row to the patient's value one by one, and
    every switch's change in probability is credited to that variable. Every chain starts at the
    background row's probability and ends at the patient's, so the contributions add up exactly
    (telescoping) to the probability minus the baseline (the mean background probability). All
    coalitions go to the model in ONE ``predict_proba`` call. shap's own explainers are not used:
    TreeExplainer does not take calibrated wrappers or scikit-learn native categorical support,
    and PermutationExplainer calls the model once per permutation with every background row for
    every coalition, which does not fit the latency budget (and pays a numba compile); the shap
    version is still recorded. For a calibrated logistic regression the exact contributions in
    log-odds of the uncalibrated model are given as well (:mod:`.log_odds`).

LIME (:mod:`.lime_explanation`, :mod:`.lime_result`)
    ``lime.lime_tabular.LimeTabularExplainer`` on integer-coded categoricals, run with several
    seeds; the result carries its local fidelity (R²) and its stability across seeds.

Agreement
    :func:`caselens.explain.attribution.agreement.compare_explanations`.

The package, one job per module: :mod:`.results` (the frozen records a report holds),
:mod:`.background` (the sample explained against), :mod:`.attributor` (everything for one case
in one model call, :func:`explain_attributions`, :func:`warm_up`), :mod:`.model_usage` (how the
model was asked); private modules hold the typed columns, LIME's encoding, setup and ridge fits,
and the per-variable table.
"""

from caselens._lazy import lazy_face

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "BACKGROUND_SIZE",
    "LIME_RUNS",
    "LIME_SAMPLES",
    "LOW_FIDELITY_R2",
    "SHAP_METHOD",
    "TOP_K",
    "UNSTABLE_JACCARD",
    "Attributions",
    "Attributor",
    "CaseAttribution",
    "ExplainerAgreement",
    "LimeExplanation",
    "ModelUsage",
    "OneRowTransform",
    "ShapExplanation",
    "ShapleyEstimate",
    "ShapleyPlan",
    "VariableContribution",
    "VariableWeight",
    "build_shap_explanation",
    "case_probability",
    "check_additivity",
    "compare_explanations",
    "explain_attributions",
    "explain_lime",
    "explain_shap",
    "logistic_log_odds",
    "mean_pairwise_jaccard",
    "permutation_shapley",
    "select_background",
    "top_k_indices",
    "warm_up",
]

_PARTS = {
    "ADDITIVITY_TOLERANCE": "shap_explanation",
    "BACKGROUND_SIZE": "background",
    "LIME_RUNS": "lime_explanation",
    "LIME_SAMPLES": "lime_explanation",
    "LOW_FIDELITY_R2": "lime_result",
    "SHAP_METHOD": "shap_explanation",
    "TOP_K": "agreement",
    "UNSTABLE_JACCARD": "lime_result",
    "Attributions": "results",
    "Attributor": "attributor",
    "CaseAttribution": "attributor",
    "ExplainerAgreement": "agreement",
    "LimeExplanation": "results",
    "ModelUsage": "model_usage",
    "OneRowTransform": "one_row_transform",
    "ShapExplanation": "results",
    "ShapleyEstimate": "shapley",
    "ShapleyPlan": "shapley",
    "VariableContribution": "results",
    "VariableWeight": "results",
    "build_shap_explanation": "shap_explanation",
    "case_probability": "attributor",
    "check_additivity": "shap_explanation",
    "compare_explanations": "agreement",
    "explain_attributions": "attributor",
    "explain_lime": "lime_explanation",
    "explain_shap": "shap_explanation",
    "logistic_log_odds": "log_odds",
    "mean_pairwise_jaccard": "agreement",
    "permutation_shapley": "shapley",
    "select_background": "background",
    "top_k_indices": "agreement",
    "warm_up": "attributor",
    # Private helpers other modules imported from the one-file module before the split; new
    # code imports them from their own modules.
    "_CountingPredict": "model_usage",
    "_LimeEncoding": "_lime_encoding",
    "_LimeSetup": "_lime_setup",
    "_LogOdds": "log_odds",
    "_case_columns": "_frames",
    "_columns": "_frames",
    "_frame": "_frames",
    "_frame_columns": "_frames",
    "_in_order": "_frames",
    "_model_threads": "_runtime",
    "_solve_positive": "_weighted_ridge",
    "_unwrap_logistic": "log_odds",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
