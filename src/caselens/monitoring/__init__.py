"""Monitoring after go-live: what was actually shown, what happened next, and when to stop.

* :mod:`~caselens.monitoring.tables` — the monitoring tables, created on the audit store's
  database (SQLite by default, PostgreSQL by the same URL).
* :mod:`~caselens.monitoring.prediction_log` — one row per recorded display of a report,
  written in the same transaction as its audit entry, and its check against the trail.
* :mod:`~caselens.monitoring.outcomes` — outcomes imported from a CSV, all or nothing, each
  import recorded in the trail.
* :mod:`~caselens.monitoring.corrections` — an outcome already imported, corrected by its own
  recorded step (the newest correction counts).
* :mod:`~caselens.model.monitoring_plan` — the monitoring plan (thresholds, minimum n, outcome
  window) with its defaults.
* :mod:`~caselens.monitoring.figures` — drift, calibration, discrimination and subgroup
  figures for one model and one period, with their n and confidence intervals.
* :mod:`~caselens.monitoring.views` — the figures of each period, served from the cache when
  their data are unchanged (the view every screen and command reads).
* :mod:`~caselens.monitoring.figures_cache` — each period's figures cached under a
  fingerprint of their data (signed; derived data, never evidence).
* :mod:`~caselens.monitoring.period_rows` — the open period's rows kept in memory and
  extended by the rows added since.
* :mod:`~caselens.monitoring.warm_up` — the figures computed once in the background when a
  server starts.
* :mod:`~caselens.monitoring.subgroup_table` — subgroup figures people can act on: each
  with its interval, groups under the minimum n named without figures, intersections of two
  variables where n allows, and each variable's largest gap with its bootstrap interval.
* :mod:`~caselens.monitoring.clinician_use` — feedback, own estimates against the model's,
  and the limitations shown, per period.
* :mod:`~caselens.monitoring.alerts` — the plan's alerts, recorded in the trail.
* :mod:`~caselens.monitoring.governance_report` — a self-contained HTML report for
  governance meetings.
* :mod:`~caselens.monitoring.shadow_comparison` — the live version against a shadow
  candidate on the same patients (agreement, differences, AUROC and calibration side by side);
  :mod:`~caselens.monitoring.shadow_comparison_rows` words it as tables.
* :mod:`~caselens.monitoring.simulate` — simulated predictions and outcomes with injected
  shifts, always labelled simulated.
* :mod:`~caselens.monitoring.shadow_scorer` — a shadow candidate scored beside each live
  display in a background thread (bounded queue, drops and skips counted).
* :mod:`~caselens.monitoring.shadow_log` — its predictions, flagged never shown, written in
  batches of one ``shadow_scored`` entry each.

The design is in ``docs/monitoring.md``.
"""

from caselens._lazy import lazy_face

__all__ = [
    "INTERSECTION_MARK",
    "WORDS_LEGEND",
    "Alert",
    "AlertNotFound",
    "FiguresCache",
    "MonitoringScheduler",
    "OutcomeCorrectionError",
    "OutcomeImportError",
    "Period",
    "PeriodFigures",
    "ReferenceProfile",
    "ShadowComparison",
    "Shift",
    "SubgroupTable",
    "SubgroupTableError",
    "build_profile",
    "check",
    "comparison_sentence",
    "comparison_tables",
    "correct_outcomes",
    "gather_report",
    "import_outcomes",
    "iter_figures",
    "parse_period",
    "parse_shift",
    "raised_alerts",
    "render_governance_report",
    "simulate_months",
    "subgroup_table",
    "verify_prediction_log",
    "write_simulation",
]

_PARTS = {
    "INTERSECTION_MARK": "subgroup_table",
    "Alert": "alerts",
    "AlertNotFound": "alerts",
    "FiguresCache": "figures_cache",
    "MonitoringScheduler": "schedule",
    "OutcomeCorrectionError": "corrections",
    "OutcomeImportError": "outcomes",
    "Period": "figures",
    "PeriodFigures": "figures",
    "ReferenceProfile": "figures",
    "ShadowComparison": "shadow_comparison",
    "Shift": "simulate",
    "SubgroupTable": "subgroup_table",
    "SubgroupTableError": "subgroup_table",
    "WORDS_LEGEND": "subgroup_table",
    "build_profile": "figures",
    "check": "alerts",
    "comparison_sentence": "shadow_comparison_rows",
    "comparison_tables": "shadow_comparison_rows",
    "correct_outcomes": "corrections",
    "gather_report": "governance_report",
    "import_outcomes": "outcomes",
    "iter_figures": "views",
    "parse_period": "figures",
    "parse_shift": "simulate",
    "raised_alerts": "alerts",
    "render_governance_report": "governance_report",
    "simulate_months": "simulate",
    "subgroup_table": "subgroup_table",
    "verify_prediction_log": "prediction_log",
    "write_simulation": "simulate",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
