"""The scheduled monitoring check: alerts recorded without anyone pressing a button.

A server runs one :class:`MonitoringScheduler` (a daemon thread). Every
``interval_s`` seconds — and at once when woken, e.g. by a Monitoring view that found a
crossing not yet recorded — it calls the check it was given (the workflow's
``scheduled_monitoring_check``: live data only, recorded as the system viewer
``system:monitor-scheduler``). The check is idempotent (an alert already recorded is not
recorded again), so a wake-up that races the timer costs a cached read and nothing else.
It never blocks a page: a page only sets an event. A failure is logged and retried on the
next round, never raised into a page. ``caselens monitor check`` does the same from cron.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from caselens.access.policy import Viewer

_log = logging.getLogger(__name__)

#: Who records an alert found by the scheduled check (the audit entry's actor).
SCHEDULER_VIEWER = Viewer("system:monitor-scheduler", "scheduled monitoring check", "system")
#: Seconds between two scheduled checks: periods are months or weeks, so ten minutes
#: leaves a new crossing unrecorded for minutes at most while costing one cached read per
#: model (a Monitoring view that sees an unrecorded crossing wakes the check at once).
MONITOR_CHECK_INTERVAL_S = 600.0


class MonitoringScheduler:
    """Runs ``check`` every ``interval_s`` seconds in a daemon thread (first run at start,
    after ``after`` has finished, e.g. the start-up warm-up of the same figures).

    Parameters
    ----------
    check : callable
        The check to run; its return value is kept as ``last_result``.
    interval_s : float
        Seconds between runs.
    after : threading.Thread, optional
        A thread to wait for before the first run (so two threads do not compute the same
        figures at once on start-up).
    """

    def __init__(
        self,
        check: Callable[[], Any],
        *,
        interval_s: float = MONITOR_CHECK_INTERVAL_S,
        after: threading.Thread | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._check = check
        self._interval_s = interval_s
        self._after = after
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.runs = 0
        self.last_result: Any = None
        self.last_error: str | None = None
        self._thread = threading.Thread(
            target=self._loop, name="caselens-monitoring-schedule", daemon=True
        )

    def start(self) -> MonitoringScheduler:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Run the check as soon as the thread is free (never waits for it)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the current run (if any) and wait up to ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread.is_alive()

    def _loop(self) -> None:
        if self._after is not None:
            self._after.join()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.last_result = self._check()
                self.last_error = None
            except Exception as exc:  # a background thread: log, and try again next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.warning("Scheduled monitoring check failed: %s", self.last_error)
            self.runs += 1
            self._wake.wait(self._interval_s)
