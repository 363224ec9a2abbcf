"""Subgroup figures people can act on (issue 27, item 4), through the door: the table of a
model version's measured validation (Model facts) and of one monitoring period (Monitoring),
each checked, recorded once per session with the seed and minimum n it was computed with,
then returned (:class:`caselens.monitoring.SubgroupTable`)."""

from __future__ import annotations

from typing import Any

from caselens.errors import CaseLensError
from caselens.model.bundle import ModelBundle
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession

#: The audit action of a subgroup table shown (one entry per session, model version and
#: source; the detail names the seed and minimum n, so the gaps' intervals reproduce).
SUBGROUP_FIGURES_VIEWED = "subgroup_figures_viewed"


class SubgroupFiguresMixin(DoorBase):
    """The door's methods for subgroup tables."""

    def _subgroup_version(self, model_id: str, bundle_sha256: str | None) -> ModelBundle:
        if bundle_sha256 is None:
            return self.bundle(model_id)
        self.bundle(model_id)
        found = self._all_versions.version(model_id, bundle_sha256)
        if found is None:
            raise WorkflowError(
                f"Version {bundle_sha256[:12]} of {model_id} is not loaded on this server: "
                "expected the SHA-256 of one of its bundle folders (see the version history)."
            )
        return found

    def _record_subgroup_view(
        self, session: UserSession, table: Any, detail: dict[str, Any]
    ) -> None:
        viewer = self._viewer(session)
        key = (
            viewer.user_id,
            session.session_id,
            "subgroups:" + ":".join(str(detail[k]) for k in sorted(detail)),
            "",
            "",
        )
        if key in session.recorded:
            return
        shown = sum(r.suppressed is None for r in table.rows)
        self._record(
            session,
            SUBGROUP_FIGURES_VIEWED,
            audience=viewer.role,
            detail=detail
            | {
                "min_n": table.min_n,
                "seed": table.seed,
                "resamples": table.n_boot,
                "groups_shown": shown,
                "groups_suppressed": len(table.rows) - shown,
                "intersections_left_out": len(table.left_out),
            },
        )
        session.recorded.add(key)

    def validation_subgroups(
        self, session: UserSession, model_id: str, *, bundle_sha256: str | None = None
    ) -> Any:
        """The subgroup table of a version's measured validation (its reference data): every
        group's figures with intervals, groups under 10 patients named without figures,
        intersections where every group has 10, each variable's largest gap with its
        bootstrap interval. The live version unless ``bundle_sha256`` names another loaded
        one. Checked (``view_model_facts``), recorded once per session and version as
        ``subgroup_figures_viewed``, then returned."""
        from caselens.monitoring.subgroup_views import reference_subgroup_table

        self._require(session, "view_model_facts")
        bundle = self._subgroup_version(model_id, bundle_sha256)
        try:
            table = reference_subgroup_table(bundle)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record_subgroup_view(
            session,
            table,
            {
                "model_id": model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "source": "validation",
            },
        )
        return table

    def monitoring_subgroups(
        self, session: UserSession, model_id: str, period: str, *, run_id: str | None = None
    ) -> Any:
        """The subgroup table of one monitoring period (``"2026-11"``), from that period's
        predictions whose outcome is linked (``run_id``: a simulated run instead of what was
        shown to people). Checked (``view_monitoring``), recorded once per session, period
        and source as ``subgroup_figures_viewed``, then returned."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.figures import parse_period
        from caselens.monitoring.subgroup_views import period_subgroup_table
        from caselens.monitoring.tables import ready_engine

        self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        try:
            parse_period(period, plan.period)
        except ValueError as exc:
            raise WorkflowError(
                f"Period: expected a {plan.period} such as "
                f"{'2026-W05' if plan.period == 'week' else '2026-11'}, got {period!r}."
            ) from exc
        try:
            table = period_subgroup_table(
                ready_engine(self._audit), bundle, plan, period, run_id=run_id
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        self._record_subgroup_view(
            session,
            table,
            {
                "model_id": model_id,
                "bundle_sha256": bundle.bundle_sha256,
                "source": "monitoring",
                "period": period,
                "simulated_run": run_id,
            },
        )
        return table
