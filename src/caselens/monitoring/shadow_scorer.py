"""Scoring a shadow candidate beside the live version, off the clinician's click path.

When a live display is recorded, the workflow's door hands the report and its entry to
:meth:`ShadowScorer.offer`, which only puts them on a bounded queue (no model call, no
database): the click returns at once. One daemon thread per workflow takes each job and
scores the candidate on the same case:

1. the case values, as the live model took them, are validated against the **candidate's**
   feature schema (:func:`caselens.explain.cases.validate_inputs`, only the candidate's
   inputs): a value the candidate refuses or a required input it lacks means the case is
   not scored, counted by reason (the refusal's code, e.g. ``missing_required``);
2. the candidate's calibrated probability is
   :func:`caselens.explain.attribution.case_probability` of the candidate's model on that
   one row (what :meth:`CaseExplainer.probability` and the candidate's own report compute);
   its threshold is the candidate card's. Nothing else of a report is built: the
   candidate's explainer and confidence model (seconds of CPU for a large calibration
   split) would compete with the clicks of a small server, and nobody reads them;
3. rows gather per (model, live version, candidate version) and are written as one batch
   (:func:`caselens.monitoring.shadow_log.write_shadow_batch`: one ``shadow_scored`` entry
   and its rows in one transaction).

Bounds (module constants):

- the queue holds :data:`SHADOW_QUEUE_SIZE` displays; a display offered when it is full is
  dropped and COUNTED, and the count is recorded in the next batch's entry of that model;
- a batch is written every :data:`SHADOW_BATCH_ROWS` rows, or every
  :data:`SHADOW_FLUSH_SECONDS` seconds when anything (a row, a skip, a drop) is waiting,
  and when the scorer stops (``Workflow.stop_shadow_scoring``, called by ``Runtime.close``,
  and at interpreter exit);
- on stop the worker keeps scoring what is queued for at most :data:`SHADOW_STOP_SECONDS`
  seconds; what remains is counted as dropped in the last batch;
- each live report id is scored once per candidate: the ids are remembered (the last
  :data:`MAX_REMEMBERED_REPORTS`), and a batch leaves out a computation another server has
  already logged (its deterministic report id);
- a batch that cannot be written is kept and retried at the next flush, at most
  :data:`MAX_PENDING_ROWS` rows per model (older rows beyond are counted as dropped).

A server killed hard (SIGKILL, power loss) loses the rows not yet written: at most one
batch's worth or one flush period per model. The displays themselves are in the trail.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from caselens.errors import CaseValidationError
from caselens.explain.attribution import case_probability
from caselens.explain.cases import validate_inputs
from caselens.explain.report import CaseReport
from caselens.model.bundle import ModelBundle
from caselens.monitoring.prediction_log import bounded_inputs
from caselens.monitoring.shadow_log import ShadowBatch, ShadowRow, shadow_report_id

_log = logging.getLogger(__name__)

#: Displays waiting to be scored at most. One score costs a few to tens of milliseconds
#: (one model call on one row), so a full queue is well under a minute of work; beyond it
#: the server is busier than the candidate's comparison is worth, and displays are dropped
#: (and counted) rather than held in memory.
SHADOW_QUEUE_SIZE = 1000
#: Rows per ``shadow_scored`` entry at most (a batch is one short transaction).
SHADOW_BATCH_ROWS = 50
#: Seconds a scored row (or a count of skips or drops) waits at most before it is written.
SHADOW_FLUSH_SECONDS = 60.0
#: Seconds the worker keeps scoring what is queued once asked to stop.
SHADOW_STOP_SECONDS = 10.0
#: Live report ids remembered, so that a report displayed again is not scored again.
MAX_REMEMBERED_REPORTS = 100_000
#: Rows kept per model while the trail cannot take a batch; older ones are counted dropped.
MAX_PENDING_ROWS = SHADOW_QUEUE_SIZE
#: Longest the worker sleeps before it looks at a stop or flush request again.
_POLL_S = 0.25
#: The skip reason when the candidate's model fails on a case.
MODEL_ERROR = "model_error"


@dataclass(frozen=True)
class ShadowJob:
    """One live display to score the candidate beside.

    Attributes
    ----------
    report : CaseReport
        The live report displayed.
    entry_seq : int
        Its display entry.
    recorded_at : str
        The display entry's time (ISO 8601 UTC).
    candidate : ModelBundle
        The shadow version, as loaded on this server.
    """

    report: CaseReport
    entry_seq: int
    recorded_at: str
    candidate: ModelBundle


def score_case(
    candidate: ModelBundle, report: CaseReport, *, entry_seq: int, recorded_at: str
) -> ShadowRow | str:
    """The candidate's prediction on the case of ``report``, or the reason it is not scored.

    Parameters
    ----------
    candidate : ModelBundle
        The shadow version.
    report : CaseReport
        The live report whose case is scored.
    entry_seq, recorded_at
        The live display's entry and time.

    Returns
    -------
    ShadowRow or str
        The row, or the reason: the first refusal's code when the candidate's schema
        refuses the case (``missing_required``, ``outside_limits``, ``unknown_category`` …),
        :data:`MODEL_ERROR` when its model fails.
    """
    values = report.case.values()
    # Only the candidate's inputs: one the candidate no longer takes is not a refusal.
    data = {name: values.get(name) for name in candidate.features.names}
    try:
        case = validate_inputs(
            data, candidate.features, source=report.case.source, case_id=report.case.case_id
        )
    except CaseValidationError as exc:
        return str(exc.problems[0].code) if exc.problems else "refused"
    try:
        probability = case_probability(candidate.model, candidate.features, case.to_frame())
    except Exception as exc:  # the candidate's failure is counted, never the live display's
        _log.info("shadow candidate %s failed on a case: %s", candidate.model_id, exc)
        return MODEL_ERROR
    return ShadowRow(
        report_id=shadow_report_id(candidate.bundle_sha256, report.report_id),
        paired_report_id=report.report_id,
        paired_entry_seq=entry_seq,
        patient_ref=report.case.case_id,
        recorded_at=recorded_at,
        probability=probability,
        threshold=float(candidate.card.decision_threshold),
        conformal_set=None,  # not computed: it needs the candidate's confidence model
        inputs_json=bounded_inputs(case.values),
    )


@dataclass
class _Group:
    """What waits to be written for one (model, live version, candidate version)."""

    model_id: str
    live_sha: str | None
    candidate: ModelBundle
    rows: list[ShadowRow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    dropped: int = 0

    def batch(self, size: int) -> ShadowBatch:
        return ShadowBatch(
            model_id=self.model_id,
            live_bundle_sha256=self.live_sha,
            candidate_bundle_sha256=self.candidate.bundle_sha256,
            candidate_version=self.candidate.version,
            candidate_model_sha256=self.candidate.model_sha256,
            rows=tuple(self.rows[:size]),
            skipped=dict(self.skipped),
            dropped=self.dropped,
        )


@dataclass(frozen=True)
class ScorerCounts:
    """What the scorer has done since it started (for tests, benchmarks and logs)."""

    offered: int
    queued: int
    scored: int
    skipped: int
    dropped: int
    batches: int
    rows_written: int
    failed_writes: int
    running: bool


class ShadowScorer:
    """Scores shadow candidates in one daemon thread, fed by a bounded queue (module doc).

    Parameters
    ----------
    write : callable
        ``write(batch)`` records one :class:`ShadowBatch` (the workflow's door passes
        :func:`~caselens.monitoring.shadow_log.write_shadow_batch` with its store and its
        system viewer); raising keeps the batch for the next flush.
    score : callable
        ``score(candidate, report, entry_seq=…, recorded_at=…)``: :func:`score_case`
        unless told.
    queue_size, batch_rows, flush_s, stop_s
        The bounds (module constants by default).
    """

    def __init__(
        self,
        write: Callable[[ShadowBatch], Any],
        *,
        score: Callable[..., ShadowRow | str] = score_case,
        queue_size: int = SHADOW_QUEUE_SIZE,
        batch_rows: int = SHADOW_BATCH_ROWS,
        flush_s: float = SHADOW_FLUSH_SECONDS,
        stop_s: float = SHADOW_STOP_SECONDS,
    ) -> None:
        if queue_size < 1 or batch_rows < 1 or flush_s <= 0 or stop_s < 0:
            raise ValueError("queue_size and batch_rows must be at least 1, flush_s positive")
        self._write = write
        self._score_case = score
        self._batch_rows = batch_rows
        self._flush_s = flush_s
        self._stop_s = stop_s
        self._queue: queue.Queue[ShadowJob] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str | None, str], _Group] = {}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._stop = threading.Event()
        self._flush_now = threading.Event()
        self._flushed = threading.Condition(self._lock)
        self._flush_rounds = 0
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()

    # -- the click side: never waits, never computes ------------------------------------

    def offer(self, job: ShadowJob) -> bool:
        """Queue one display for scoring (at once; starts the worker on first use).

        Returns False when it is not queued: already offered for this candidate, the
        scorer stopped, or the queue full (then the drop is counted for the next batch).
        """
        key = (job.candidate.bundle_sha256, job.report.report_id)
        with self._lock:
            if self._stop.is_set() or key in self._seen:
                return False
            self._counts["offered"] += 1
            self._start_locked()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self._group_locked(job).dropped += 1
                self._counts["dropped"] += 1
                return False
            self._seen[key] = None
            while len(self._seen) > MAX_REMEMBERED_REPORTS:
                self._seen.popitem(last=False)
            self._counts["queued"] += 1
        return True

    def _group_locked(self, job: ShadowJob) -> _Group:
        model = job.report.model
        key = (model.model_id, model.bundle_sha256, job.candidate.bundle_sha256)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(model.model_id, model.bundle_sha256, job.candidate)
        return group

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="caselens-shadow-scorer", daemon=True
            )
            self._thread.start()
            _ALIVE.add(self)

    # -- control -----------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Write what waits now (every model), and wait up to ``timeout`` seconds for the
        worker to have done so; True if it did. The queue is scored first."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return self._thread is None
            target = self._flush_rounds + 1
            self._flush_now.set()
            return self._flushed.wait_for(lambda: self._flush_rounds >= target, timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Stop: score what is queued (at most ``stop_s`` seconds; the rest is counted as
        dropped), write the last batches, end the thread. Offers after this are refused."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        self._flush_now.set()
        if thread is not None:
            thread.join(self._stop_s + 30.0 if timeout is None else timeout)
        _ALIVE.discard(self)

    def counts(self) -> ScorerCounts:
        """What the scorer has done so far."""
        with self._lock:
            c = self._counts
            running = self._thread is not None and self._thread.is_alive()
            return ScorerCounts(
                offered=c["offered"],
                queued=c["queued"],
                scored=c["scored"],
                skipped=c["skipped"],
                dropped=c["dropped"],
                batches=c["batches"],
                rows_written=c["rows_written"],
                failed_writes=c["failed_writes"],
                running=running,
            )

    # -- the worker --------------------------------------------------------------------

    def _loop(self) -> None:
        last_flush = time.monotonic()
        stop_deadline: float | None = None
        while True:
            if self._stop.is_set() and stop_deadline is None:
                stop_deadline = time.monotonic() + self._stop_s
            if stop_deadline is not None and time.monotonic() >= stop_deadline:
                self._drop_queued()
                break
            wait = max(0.0, min(_POLL_S, self._flush_s - (time.monotonic() - last_flush)))
            try:
                job = self._queue.get(timeout=wait if not self._flush_now.is_set() else 0.0)
            except queue.Empty:
                job = None
            if job is not None:
                self._score(job)
                continue  # score what is queued before a requested flush or the stop
            if self._stop.is_set():
                break  # the queue is empty
            if self._flush_now.is_set() or time.monotonic() - last_flush >= self._flush_s:
                self._flush_all()
                last_flush = time.monotonic()
                self._flush_done()
        self._flush_all()
        self._flush_done()

    def _score(self, job: ShadowJob) -> None:
        try:
            result = self._score_case(
                job.candidate, job.report, entry_seq=job.entry_seq, recorded_at=job.recorded_at
            )
        except Exception as exc:  # never the worker's end
            _log.warning("shadow candidate %s not scored: %s", job.candidate.model_id, exc)
            result = MODEL_ERROR
        full = None
        with self._lock:
            group = self._group_locked(job)
            if isinstance(result, ShadowRow):
                group.rows.append(result)
                self._counts["scored"] += 1
                if len(group.rows) >= self._batch_rows:
                    full = group
            else:
                group.skipped[result] += 1
                self._counts["skipped"] += 1
        if full is not None:
            self._flush_group(full)

    def _drop_queued(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                self._group_locked(job).dropped += 1
                self._counts["dropped"] += 1

    def _flush_all(self) -> None:
        with self._lock:
            groups = list(self._groups.values())
        for group in groups:
            # A group may hold more than one batch (rows kept after a failed write).
            while self._flush_group(group):
                with self._lock:
                    if not group.rows:
                        break

    def _flush_group(self, group: _Group) -> bool:
        """Write one batch of ``group``; True if written (or nothing to write)."""
        with self._lock:
            batch = group.batch(self._batch_rows)
        if batch.empty:
            return True
        try:
            self._write(batch)
        except Exception as exc:  # the trail refused: keep it for the next flush
            _log.warning("shadow batch of %s not recorded: %s", group.model_id, exc)
            with self._lock:
                self._counts["failed_writes"] += 1
                extra = len(group.rows) - MAX_PENDING_ROWS
                if extra > 0:
                    del group.rows[:extra]
                    group.dropped += extra
                    self._counts["dropped"] += extra
            return False
        with self._lock:
            del group.rows[: len(batch.rows)]
            for reason, n in batch.skipped.items():
                group.skipped[reason] -= n
            group.skipped = +group.skipped  # drop the zero counts
            group.dropped -= batch.dropped
            self._counts["batches"] += 1
            self._counts["rows_written"] += len(batch.rows)
        return True

    def _flush_done(self) -> None:
        with self._lock:
            self._flush_now.clear()
            self._flush_rounds += 1
            self._flushed.notify_all()


#: Scorers with a running thread, stopped (and flushed) when the interpreter exits.
_ALIVE: weakref.WeakSet[ShadowScorer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - runs at interpreter exit
    for scorer in list(_ALIVE):
        scorer.stop(timeout=SHADOW_STOP_SECONDS + 5.0)
