"""Warming the monitoring figures when a server starts, so the first Monitoring view is fast.

After a restart the figures of closed periods are still in the figures cache (in the audit
database), but the open period's rows are not in memory: the first view would read that
period whole (seconds at 80,000 predictions a month). :func:`start_monitoring_warm_up`
computes each model's live figures once in a background thread at start-up — filling the
figures cache and keeping the open period's rows — so that a reviewer who opens the page
afterwards only pays for the rows added since. It reads and caches derived data only: it
records nothing and shows nothing, and a failure is logged, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from caselens.audit import AuditStore
from caselens.model.bundle import ModelBundle

_log = logging.getLogger(__name__)


def warm_monitoring(
    store: AuditStore, bundles: Mapping[str, ModelBundle], *, run_id: str | None = None
) -> dict[str, int]:
    """Compute each model's live monitoring figures once (or, with ``run_id``, those of
    that simulated run: the benchmark's case), through the figures cache.

    Returns the number of periods warmed per model (a model that failed is logged and
    left out).
    """
    from caselens.model.monitoring_plan import plan_for
    from caselens.monitoring.figures_cache import FiguresCache
    from caselens.monitoring.tables import ready_engine
    from caselens.monitoring.views import iter_figures

    engine = ready_engine(store)
    cache = FiguresCache.for_store(store)
    warmed: dict[str, int] = {}
    for model_id, bundle in bundles.items():
        try:
            figures = iter_figures(
                engine,
                bundle,
                plan_for(bundle),
                simulated=run_id is not None,
                run_id=run_id,
                cache=cache,
            )
            warmed[model_id] = sum(1 for _ in figures)
        except Exception as exc:  # best effort in the background: the view computes anyway
            _log.warning("Monitoring warm-up of %s skipped: %s", model_id, exc)
    return warmed


def start_monitoring_warm_up(
    store: AuditStore, bundles: Mapping[str, ModelBundle]
) -> threading.Thread:
    """Run :func:`warm_monitoring` in a daemon thread; the monitoring tables are created
    first, in the caller's thread, so the warm-up never races another creator."""
    from caselens.monitoring.tables import ready_engine

    ready_engine(store)
    thread = threading.Thread(
        target=warm_monitoring,
        args=(store, dict(bundles)),
        name="caselens-monitoring-warm-up",
        daemon=True,
    )
    thread.start()
    return thread
