"""CaseLens: a hospital's own risk model, explained for one patient, and every display recorded.

The pipeline, one step per subpackage::

    model/       load_bundle(folder)                  → ModelBundle (model, card, schema, data)
    explain/     validate_inputs(values, schema)      → Case
                 explainer_for(bundle).explain(case)  → CaseReport (calibrated probability and
                                                        its interval, SHAP and LIME,
                                                        limitations, narrative)
    workflow/    Workflow.show_report(session, …)     → the report, checked and recorded first
    audit/       AuditStore: the tamper-evident trail the door writes to; replay renders the
                 same report again
    monitoring/  figures, alerts, outcomes: whether the model still works on today's patients

One process's wiring: ``Runtime.from_settings(Settings.from_environment())`` (``runtime.py``)
opens the stores, loads the catalogue and gives ``.workflow``, all from one ``Settings``.

Around it: ``access/`` (who may see what), ``authoring/`` (building bundles from data),
``cli/`` (the ``caselens`` command), ``bench/`` (speed and memory figures; nothing at run
time imports it). ``docs/`` and the README describe each part.

Used as a library (the names load lazily, so ``import caselens`` is instant):

>>> import caselens
>>> bundle = caselens.load_bundle(caselens.SAMPLE_MODELS_DIR / "heart-disease")
>>> demo = bundle.demo_cases[0]
>>> case = caselens.validate_inputs(demo.inputs, bundle.features, case_id=demo.case_id)
>>> report = caselens.explainer_for(bundle).explain(case)
>>> 0.0 <= report.probability <= 1.0 and len(report.report_id) == 64
True
"""

from caselens._lazy import lazy_face

__all__ = [
    "SAMPLE_MODELS_DIR",
    "AuditStore",
    "BundleError",
    "CardError",
    "Case",
    "CaseExplainer",
    "CaseLensError",
    "CaseReport",
    "CaseValidationError",
    "ModelBundle",
    "Runtime",
    "Settings",
    "UserSession",
    "Workflow",
    "case_from_upload",
    "explainer_for",
    "load_bundle",
    "validate_inputs",
]

_PARTS = {
    "SAMPLE_MODELS_DIR": "settings",
    "Settings": "settings",
    "Runtime": "runtime",
    "AuditStore": "audit",
    "BundleError": "errors",
    "CardError": "errors",
    "CaseLensError": "errors",
    "CaseValidationError": "errors",
    "Case": "explain",
    "CaseExplainer": "explain",
    "CaseReport": "explain",
    "case_from_upload": "explain",
    "explainer_for": "explain",
    "validate_inputs": "explain",
    "ModelBundle": "model",
    "load_bundle": "model",
    "UserSession": "workflow",
    "Workflow": "workflow",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
