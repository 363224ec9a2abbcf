"""Replay and re-run of an audited display.

*Replay* rebuilds the ``CaseReport`` from the entry's stored JSON: rendering it with the same
functions the clinician page uses shows exactly what was shown. *Re-run* loads the very
model version (matched by SHA-256), recomputes from the stored inputs with the stored seeds
and settings, and compares: identical, within numerical tolerance (another CPU or BLAS build
changes the last bits of a float), or differs, naming each field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from caselens.audit import AuditEntry
from caselens.audit.replay_diff import ReportComparison, compare_reports
from caselens.errors import CaseLensError
from caselens.explain.cases import validate_inputs
from caselens.explain.report import VOLATILE_FIELDS, CaseExplainer, CaseReport
from caselens.model.bundle import ModelBundle
from caselens.model.catalogue import find_producer


@dataclass(frozen=True)
class Replay:
    """A past display, rebuilt: the report and the heading that says to whom it was shown."""

    entry: AuditEntry
    report: CaseReport
    heading: str


@dataclass(frozen=True)
class Rerun:
    """The result of recomputing a past report with the same model version and inputs.

    Attributes
    ----------
    available : bool
        False when the model version that produced the report is no longer loaded.
    message : str
        One sentence for the reviewer (states the tolerance where it applied).
    fresh : CaseReport or None
        The recomputed report.
    comparison : ReportComparison or None
        Identical, within tolerance, or differs (with the fields); None when unavailable.
    """

    available: bool
    message: str
    fresh: CaseReport | None
    comparison: ReportComparison | None

    @property
    def outcome(self) -> str:
        """``identical``, ``within_tolerance``, ``differs`` or ``unavailable``."""
        return self.comparison.outcome if self.comparison is not None else "unavailable"

    def record_detail(self) -> dict[str, Any]:
        """What the re-run audit entry stores: the outcome, tolerance and differences."""
        if self.comparison is None:
            return {"available": False, "outcome": "unavailable"}
        return {"available": True, **self.comparison.record_detail()}


def replay_entry(entry: AuditEntry) -> Replay:
    """Rebuild the report an entry recorded.

    Raises
    ------
    CaseLensError
        If the entry recorded no report (e.g. a sign-in) or its JSON is not a report.
    """
    if not entry.report_json:
        raise CaseLensError(f"Entry {entry.seq} ({entry.action}) recorded no report to replay.")
    try:
        report = CaseReport.from_json(entry.report_json)
    except ValueError as exc:
        raise CaseLensError(f"Entry {entry.seq}: the stored report cannot be read: {exc}") from exc
    when = entry.recorded_at.replace("T", " ").replace("Z", " UTC")
    heading = f"As shown to {entry.actor_name} ({entry.actor_role}) on {when}"
    return Replay(entry=entry, report=report, heading=heading)


def rerun_entry(entry: AuditEntry, bundles: Iterable[ModelBundle]) -> Rerun:
    """Recompute an entry's report with the same model version (by hash) and compare."""
    stored = replay_entry(entry).report
    match = find_producer(bundles, stored.model.sha256, stored.model.bundle_sha256)
    if match is None:
        return Rerun(
            False,
            f"The model version that produced this report ({stored.model.model_id}"
            f" {stored.model.version}, SHA-256 {stored.model.sha256[:16]}…) is no "
            "longer available, so the report cannot be recomputed.",
            None,
            None,
        )
    prov = stored.provenance
    explainer = CaseExplainer(
        match,
        seed=prov.seeds["background"],
        background_size=prov.background_size,
        lime_runs=prov.lime_runs,
        lime_samples=prov.lime_samples,
        top_k=prov.top_k,
    )
    case = validate_inputs(
        stored.case.values(), match.features, source=stored.case.source, case_id=stored.case.case_id
    )
    # A case read from the record keeps where its values came from: they are part of what
    # was shown, so the recomputed report carries the same ones.
    # A what-if or counterfactual case keeps where it came from and what changed.
    case = dataclasses.replace(
        case, record_sources=stored.case.record_sources, hypothetical=stored.case.hypothetical
    )
    created = dt.datetime.fromisoformat(stored.created_at.replace("Z", "+00:00"))
    fresh = explainer.explain(case, now=created)
    comparison = compare_reports(
        json.loads(stored.to_json()), json.loads(fresh.to_json()), ignore=VOLATILE_FIELDS
    )
    return Rerun(True, comparison.summary(), fresh, comparison)
