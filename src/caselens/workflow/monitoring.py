"""Monitoring: a model's figures, alerts and governance report, checked by a person or on
schedule."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from caselens.audit import AuditError
from caselens.errors import CaseLensError
from caselens.workflow._door_base import NOT_RECORDED, DoorBase
from caselens.workflow.errors import NotRecorded, WorkflowError
from caselens.workflow.records import (
    ClinicianUse,
    ExportFile,
    MonitoringCheck,
    MonitoringView,
    UserSession,
)

# Named as before the door was split, so log filters set on it keep working.
_log = logging.getLogger("caselens.workflow.door")


class MonitoringMixin(DoorBase):
    """The door's monitoring methods: figures, alerts and the governance report."""

    def monitoring_view(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> MonitoringView:
        """A model's monitoring figures per period, its raised alerts and what to watch.

        Read from the prediction log and outcomes of that model (aggregates per period,
        never the whole trail). ``run_id`` shows a simulated run instead of what was shown
        to people; the view then says it is simulated. Opening it is recorded once per
        session, model and source.
        """
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import evaluate, in_listing_order, raised_alerts
        from caselens.monitoring.figures import simulated_runs
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
            engine = ready_engine(self._audit)
            figures = tuple(
                iter_figures(
                    engine,
                    bundle,
                    plan,
                    simulated=run_id is not None,
                    run_id=run_id,
                    cache=FiguresCache.for_store(self._audit),
                )
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        found: list[Any] = []
        watches: list[Any] = []
        for period in figures:
            crossing, watch = evaluate(period, plan)
            found += crossing
            watches += watch
        key = (viewer.user_id, session.session_id, f"monitoring:{model_id}:{run_id}", "", "")
        if key not in session.recorded:
            self._record(
                session,
                "monitoring_viewed",
                audience=viewer.role,
                detail={"model_id": model_id, "simulated_run": run_id},
            )
            session.recorded.add(key)
        alerts = tuple(in_listing_order(raised_alerts(self._audit, model_id, run_id=run_id)))
        recorded = {a.alert_id for a in alerts}
        pending = tuple(in_listing_order(a for a in found if a.alert_id not in recorded))
        if pending and run_id is None and self._scheduler is not None:
            self._scheduler.wake()  # records them in the background; this view never waits
        return MonitoringView(
            model_id=model_id,
            plan=plan,
            figures=figures,
            alerts=alerts,
            watches=tuple(watches),
            simulated_runs=tuple(simulated_runs(engine, model_id)),
            suspended=self._statuses.get(model_id).suspended,
            pending=pending,
        )

    def warm_up_monitoring(self) -> Any:
        """Start computing every model's live monitoring figures in the background (at server
        start), so the first Monitoring view does not read the open period whole. Records
        nothing; returns the thread."""
        from caselens.monitoring.warm_up import start_monitoring_warm_up

        return start_monitoring_warm_up(self._audit, self.catalogue.bundles)

    def monitoring_runs(self, session: UserSession, model_id: str) -> tuple[str, ...]:
        """The simulated runs logged for a model (to choose one on the Monitoring page)."""
        from caselens.monitoring.figures import simulated_runs
        from caselens.monitoring.tables import ready_engine

        self._require(session, "view_monitoring")
        self.bundle(model_id)
        return tuple(simulated_runs(ready_engine(self._audit), model_id))

    def clinician_use(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> ClinicianUse:
        """How clinicians used a model per period: feedback, own estimates against the
        model's (the automation-bias record) and the limitations shown. A simulated run
        has no feedback (nobody saw it); its limitations are those simulated."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.clinician_use import feedback_by_period, limitations_by_period
        from caselens.monitoring.tables import ready_engine

        self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle)
            engine = ready_engine(self._audit)
            feedback = (
                ()
                if run_id is not None
                else tuple(
                    feedback_by_period(
                        engine, model_id, period=plan.period, confidence=plan.confidence
                    )
                )
            )
            limitations = limitations_by_period(
                engine, model_id, period=plan.period, simulated=run_id is not None, run_id=run_id
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        return ClinicianUse(model_id, feedback, tuple(limitations))

    def monitoring_report(
        self,
        session: UserSession,
        model_id: str,
        *,
        run_id: str | None = None,
        first: str | None = None,
        last: str | None = None,
        plan_file: Path | None = None,
    ) -> ExportFile:
        """The governance report (self-contained HTML) for periods ``first``..``last``:
        checked, recorded as ``exported``, then built (``plan_file``: a monitoring plan JSON
        overriding the bundle's, as ``caselens monitor report --plan`` gives)."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.governance_report import (
            gather_report,
            render_governance_report,
            report_file_name,
            report_record,
        )

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            content = gather_report(
                self._audit,
                bundle,
                plan_for(bundle, plan_file),
                generated_by=f"{viewer.name} ({viewer.role})",
                run_id=run_id,
                first=first,
                last=last,
            )
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        # The live version against a shadow candidate, when one has rows (.shadow_comparison).
        content = self._with_shadow_comparison(content, run_id)  # type: ignore[attr-defined]
        detail = report_record(content)
        entry = self._record(session, "exported", audience=viewer.role, detail=detail)
        data = render_governance_report(content).encode("utf-8")
        return ExportFile(
            report_file_name(content),
            "text/html",
            data,
            len(content.figures),
            seq=entry.seq,
            detail=detail,
        )

    def check_monitoring(
        self, session: UserSession, model_id: str, *, run_id: str | None = None
    ) -> tuple[str, ...]:
        """Judge every period against the plan now; new alerts are recorded (alert_raised)
        with this viewer as the one who checked. Returns the ids newly raised."""
        return self.judge_monitoring(session, model_id, run_id=run_id).result.newly_raised

    def judge_monitoring(
        self,
        session: UserSession,
        model_id: str,
        *,
        run_id: str | None = None,
        period: str | None = None,
        plan_file: Path | None = None,
    ) -> MonitoringCheck:
        """Judge the periods against the plan now (``period``: only that one; ``plan_file``:
        a plan JSON overriding the bundle's); new alerts are recorded (alert_raised) with this
        viewer as the one who checked. Returns every open alert and watch, and the periods
        judged."""
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import check
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        viewer = self._require(session, "view_monitoring")
        bundle = self.bundle(model_id)
        try:
            plan = plan_for(bundle, plan_file)
            figures = list(
                iter_figures(
                    ready_engine(self._audit),
                    bundle,
                    plan,
                    simulated=run_id is not None,
                    run_id=run_id,
                    only=period,
                    # Served from the cache only under an unchanged fingerprint: the
                    # figures judged are those a fresh computation gives.
                    cache=FiguresCache.for_store(self._audit),
                )
            )
            with self._alert_lock:  # the scheduled check may be recording the same alert
                result = check(self._audit, figures, plan, actor=viewer)
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
        return MonitoringCheck(model_id, result, len(figures))

    def scheduled_monitoring_check(self) -> dict[str, tuple[str, ...]]:
        """Judge every offered model's live figures and record the alerts not yet recorded,
        as the system viewer ``system:monitor-scheduler`` (no person, no click).

        Live data only: a simulated run is never judged here, and no check ever suspends a
        model (suspension is an admin's recorded action). Idempotent: an alert already
        recorded is not recorded again. A model whose figures cannot be computed is logged
        and left for the next round. Returns the alert ids newly recorded, per model.
        """
        from caselens.model.monitoring_plan import plan_for
        from caselens.monitoring.alerts import check
        from caselens.monitoring.figures_cache import FiguresCache
        from caselens.monitoring.schedule import SCHEDULER_VIEWER
        from caselens.monitoring.tables import ready_engine
        from caselens.monitoring.views import iter_figures

        self.scheduled_expiry_check()  # type: ignore[attr-defined]  # approvals that ran out
        engine = ready_engine(self._audit)
        cache = FiguresCache.for_store(self._audit)
        raised: dict[str, tuple[str, ...]] = {}
        for model_id, bundle in self.catalogue.bundles.items():
            try:
                plan = plan_for(bundle)
                figures = list(iter_figures(engine, bundle, plan, cache=cache))
                with self._alert_lock:
                    result = check(self._audit, figures, plan, actor=SCHEDULER_VIEWER)
            except (CaseLensError, AuditError, OSError) as exc:
                _log.warning("Scheduled monitoring check of %s skipped: %s", model_id, exc)
                continue
            raised[model_id] = result.newly_raised
        return raised

    def start_monitoring_schedule(
        self, *, interval_s: float | None = None, after: Any = None
    ) -> Any:
        """Start the scheduled monitoring check in a background thread (once per workflow):
        :meth:`scheduled_monitoring_check` now and every ``interval_s`` seconds, and at once
        when a Monitoring view finds a crossing not yet recorded. Returns the scheduler."""
        from caselens.monitoring.schedule import MONITOR_CHECK_INTERVAL_S, MonitoringScheduler

        if self._scheduler is None:
            self._scheduler = MonitoringScheduler(
                self.scheduled_monitoring_check,
                interval_s=interval_s or MONITOR_CHECK_INTERVAL_S,
                after=after,
            ).start()
        return self._scheduler

    def open_alerts(self, session: UserSession) -> dict[str, tuple[Any, ...]]:
        """The monitoring alerts recorded on what was shown (not simulated), per offered
        model, newest period first: what Model status lists beside "Active"."""
        from caselens.monitoring.alerts import in_listing_order, raised_alerts

        self._require(session, "view_model_status")
        try:
            return {
                model_id: tuple(in_listing_order(raised_alerts(self._audit, model_id)))
                for model_id in self.catalogue.bundles
            }
        except (AuditError, OSError) as exc:
            raise WorkflowError(f"The monitoring alerts could not be read: {exc}") from exc

    def import_outcomes(
        self,
        session: UserSession,
        data: bytes,
        *,
        source_name: str,
        known_models: Iterable[str] | None = None,
    ) -> Any:
        """Import an outcome CSV (what happened to patients): checked by the policy, every
        row checked, then written with its ``outcomes_imported`` entry in one transaction,
        this viewer as the one who imported. ``known_models``: the model ids rows may name
        (default: the offered models)."""
        from caselens.monitoring.outcomes import import_outcomes

        viewer = self._require(session, "import_outcomes")
        models = list(self.catalogue.bundles) if known_models is None else list(known_models)
        try:
            return import_outcomes(
                self._audit, data, source_name=source_name, known_models=models, actor=viewer
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc

    def correct_outcomes(
        self,
        session: UserSession,
        data: bytes,
        *,
        reason: str,
        source_name: str,
        known_models: Iterable[str] | None = None,
    ) -> Any:
        """Correct outcomes already imported, with the reason: checked by the policy (as an
        import), every row checked, then written with its entry in one transaction."""
        from caselens.monitoring.corrections import correct_outcomes

        viewer = self._require(session, "import_outcomes")
        models = list(self.catalogue.bundles) if known_models is None else list(known_models)
        try:
            return correct_outcomes(
                self._audit,
                data,
                reason=reason,
                source_name=source_name,
                known_models=models,
                actor=viewer,
            )
        except (AuditError, OSError) as exc:
            raise NotRecorded(NOT_RECORDED) from exc
        except CaseLensError as exc:
            raise WorkflowError(str(exc)) from exc
