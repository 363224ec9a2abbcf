"""Benchmarks of the audit trail: durable appends, verification, replay at 100,000 entries, and
the Audit trail page's clicks at 1,000,000 entries."""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from caselens.audit.records import AuditEvent, format_time
from caselens.audit.store import AuditStore
from caselens.audit.verify import VerifyResult
from caselens.audit.witness import Witness

#: The sample report's 30 feature names (a fixed list so every sample is the same size).
_SAMPLE_FEATURES = (
    "age",
    "sex",
    "bmi",
    "sbp",
    "dbp",
    "hba1c",
    "ldl",
    "hdl",
    "egfr",
    "smoker",
    "prior_mi",
    "diabetes",
    "heart_rate",
    "chol",
    "trestbps",
    "thalach",
    "oldpeak",
    "ca",
    "thal",
    "cp",
    "fbs",
    "restecg",
    "exang",
    "slope",
    "los",
    "n_meds",
    "n_visits",
    "insulin",
    "a1c_result",
    "admission_type",
)


def sample_report(i: int = 0) -> dict[str, Any]:
    """A report shaped like a CaseReport, about 6 KB of canonical JSON."""
    rng = random.Random(i)
    features = [f"feature_{k:02d}_{name}" for k, name in enumerate(_SAMPLE_FEATURES)]
    contributions = [
        {
            "feature": f,
            "value": round(rng.uniform(0, 200), 3),
            "shap": round(rng.gauss(0, 0.05), 6),
            "lime": round(rng.gauss(0, 0.05), 6),
            "rank": k + 1,
            "direction": "raises" if k % 2 else "lowers",
        }
        for k, f in enumerate(features)
    ]
    return {
        "schema": "caselens.case_report.v1",
        "case_id": f"case-{i}",
        "model": {"id": "heart-gbm", "version": "1.4.0", "sha256": "ab" * 32},
        "probability": {
            "calibrated": round(rng.random(), 6),
            "baseline": 0.21,
            "method": "isotonic",
            "interval": [0.1, 0.3],
            "out_of_100": 17,
        },
        "contributions": contributions,
        "lime": {"r2": 0.81, "stability": 0.93, "seeds": [0, 1, 2, 3, 4], "kernel_width": 0.75},
        "disagreement": {"top_k": 5, "overlap": 0.6, "message": "SHAP and LIME agree on 3 of 5."},
        "calibration": {"intercept": 0.01, "slope": 0.97, "n_band": 412, "brier": 0.12},
        "text": {
            "clinician": "Risk of the outcome within 30 days is about 17 out of 100. " * 10,
            "patient": "Out of 100 people like you, about 17 may have this problem. " * 10,
            "grade": 6.8,
        },
        "versions": {
            "python": "3.11",
            "shap": "0.51.0",
            "lime": "0.2.0.1",
            "scikit-learn": "1.9.1",
            "numpy": "2.4.6",
        },
        "timings": {"shap_ms": 12.5, "lime_ms": 140.2},
        "created_at": "2026-11-25T12:00:00.000Z",
    }


def _event(i: int, report: dict[str, Any] | str) -> AuditEvent:
    return AuditEvent(
        actor_id=f"u{i % 40}",
        actor_name=f"Dr {i % 40}",
        actor_role="clinician",
        audience="clinician",
        action="viewed",
        patient_ref=f"P-{i % 5000:05d}",
        model_id="heart-gbm",
        model_version="1.4.0",
        model_sha256="ab" * 32,
        report=report,
        rendered_digest="cd" * 32,
        session_id=f"s{i % 300}",
    )


def bench_audit(
    tmpdir: str | os.PathLike[str],
    *,
    n_append: int = 500,
    n_total: int = 100_000,
    n_replay: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure the audit trail on SQLite files under ``tmpdir``.

    Parameters
    ----------
    tmpdir : path
        A scratch directory; it holds a few hundred MB at 100,000 entries while the benchmark
        runs, and the files are deleted at the end.
    n_append : int
        Durable appends timed, one entry per transaction (WAL, ``synchronous=FULL``).
    n_total : int
        Size of the trail verified and replayed from. It is built with ``append_many`` (5,000
        entries per transaction), which writes the same valid chain as ``append``.
    n_replay : int
        Random entries fetched by seq and parsed; the median time is reported.
    seed : int
        Seed for the random choices.

    Returns
    -------
    dict
        ``append_per_s``, ``verify_per_s``, ``replay_ms_at_100k`` (median, at ``n_total``),
        and the sizes used; ready for ``json.dumps``.
    """
    tmp = Path(tmpdir)
    key = os.urandom(32)
    report = sample_report(1)
    report_bytes = len(json.dumps(report, separators=(",", ":")).encode())
    append_s = _time_appends(tmp, key, report, n_append)
    path = tmp / "bench-100k.sqlite"
    build_s, verify_s, result = _build_and_verify(path, key, report, n_total)
    times = _time_replays(path, key, n_total, n_replay, seed)

    db_bytes = path.stat().st_size
    (tmp / "bench-append.checkpoints.jsonl").unlink(missing_ok=True)
    for created in tmp.glob("bench-*.sqlite*"):  # a few hundred MB: do not leave them behind
        created.unlink()
    return {
        "append_per_s": round(n_append / append_s, 1),
        "append_durability": "SQLite WAL, synchronous=FULL, one entry per transaction; a "
        "signed checkpoint to the checkpoint file and the witness every 100 entries",
        "verify_per_s": round(result.count / verify_s, 1),
        "verify_entries": result.count,
        "replay_ms_at_100k": round(statistics.median(times), 3),
        "replay_ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
        "replay_trail_entries": n_total,
        "build_per_s": round(n_total / build_s, 1),
        "build_method": "append_many, 5,000 entries per transaction, same chain as append",
        "report_bytes": report_bytes,
        "db_bytes": db_bytes,
    }


def _time_appends(tmp: Path, key: bytes, report: dict[str, Any], n_append: int) -> float:
    """Seconds for ``n_append`` durable appends, one entry per transaction."""
    # As the app appends: a signed checkpoint to the file and the witness every 100 entries.
    with AuditStore.open(
        tmp / "bench-append.sqlite",
        key=key,
        checkpoint_file=tmp / "bench-append.checkpoints.jsonl",
        witness=Witness.open(tmp / "bench-append.witness.sqlite"),
    ) as store:
        store.append(_event(0, report))  # warm-up: schema, page cache
        started = time.perf_counter()
        for i in range(n_append):
            store.append(_event(i, report))
        return time.perf_counter() - started


def _build_and_verify(
    path: Path, key: bytes, report: dict[str, Any], n_total: int
) -> tuple[float, float, VerifyResult]:
    """Build an ``n_total``-entry trail at ``path``; seconds to build, seconds to verify, and
    the verification (which must pass)."""
    with AuditStore.open(path, key=key) as store:
        started = time.perf_counter()
        chunk = 5000
        for start in range(0, n_total, chunk):
            store.append_many(_event(i, report) for i in range(start, min(start + chunk, n_total)))
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        result = store.verify()
        verify_s = time.perf_counter() - started
        if not result.ok:
            raise AssertionError(f"benchmark trail does not verify: {result.broken}")
    return build_s, verify_s, result


def _time_replays(path: Path, key: bytes, n_total: int, n_replay: int, seed: int) -> list[float]:
    """Milliseconds to fetch and parse each of ``n_replay`` random entries of the trail."""
    rng = random.Random(seed)
    with AuditStore.open(path, key=key, create=False) as store:
        store.get(1)  # warm-up: connection
        times = []
        for _ in range(n_replay):
            seq = rng.randint(1, n_total)
            started = time.perf_counter()
            payload = json.loads(store.get(seq).report_json or "null")
            times.append((time.perf_counter() - started) * 1000)
            assert payload["schema"] == "caselens.case_report.v1"
    return times


# -- the Audit trail page at scale --------------------------------------------------------

_PAGE_MODELS = (
    ("heart-disease", "1.4.0", "ab" * 32),
    ("readmission-30d", "2.1.0", "cd" * 32),
)
_PAGE_FEATURES = ("age", "sbp", "chol", "hba1c", "egfr", "bmi", "n_visits", "los", "thalach")
_N_PATIENTS = 5000
_N_CLINICIANS = 60
_N_REVIEWERS = 8
_N_ADMINS = 3
# (action, weight): roughly what a busy deployment writes; display entries carry a report.
_PAGE_ACTIONS = (
    ("viewed", 52),
    ("previewed", 8),
    ("patient_viewed", 7),
    ("sign_in", 10),
    ("signed_out", 7),
    ("feedback", 4),
    ("replayed", 3),
    ("access_refused", 2),
    ("sign_in_refused", 2),
    ("rerun", 1),
    ("verified", 1),
    ("exported", 1),
    ("user_unlocked", 1),
    ("model_suspended", 1),
)
_PAGE_TRAIL_START = "2025-01-01T00:00:00"
_PAGE_TRAIL_DAYS = 365
_PAGE_CHUNK = 1000
PAGE_TARGET_MS = 1000.0


def _small_report(rng: random.Random, model: tuple[str, str, str], patient: str) -> dict[str, Any]:
    """A small report (about 600 bytes): what a display entry stores at scale."""
    p = round(rng.random(), 4)
    return {
        "schema": "caselens.case_report.v1",
        "case_id": f"{patient}-{rng.randrange(10**6):06d}",
        "model": {"id": model[0], "version": model[1]},
        "probability": {"calibrated": p, "out_of_100": round(p * 100)},
        "contributions": [
            {"feature": f, "shap": round(rng.gauss(0, 0.05), 5), "rank": k + 1}
            for k, f in enumerate(rng.sample(_PAGE_FEATURES, 5))
        ],
        "text": {"clinician": f"Risk within 30 days is about {round(p * 100)} out of 100."},
    }


def _mixed_event(rng: random.Random) -> AuditEvent:
    """One realistic event: clinicians, patients, reviewers and admins; 5,000 patients; 2 models."""
    (action,) = rng.choices(
        [a for a, _ in _PAGE_ACTIONS], weights=[w for _, w in _PAGE_ACTIONS], k=1
    )
    patient = f"P-{rng.randrange(_N_PATIENTS):05d}"
    model = _PAGE_MODELS[rng.random() < 0.35]
    session = f"s{rng.randrange(20_000):05d}"
    clinician = rng.randrange(_N_CLINICIANS)
    reviewer = rng.randrange(_N_REVIEWERS)
    admin = rng.randrange(_N_ADMINS)
    who = {
        "clinician": (f"c{clinician:02d}", f"Dr Clinician {clinician}", "clinician"),
        "patient": (f"pt-{patient}", f"Patient {patient}", "patient"),
        "reviewer": (f"r{reviewer}", f"Reviewer {reviewer}", "reviewer"),
        "admin": (f"a{admin}", f"Admin {admin}", "admin"),
    }
    fields: dict[str, Any] = {"session_id": session}
    if action in ("viewed", "previewed", "feedback"):
        actor, audience = who["clinician"], "patient" if action == "previewed" else "clinician"
    elif action == "patient_viewed":
        actor, audience = who["patient"], "patient"
    elif action in ("replayed", "rerun", "verified", "exported"):
        actor, audience = who["reviewer"], "reviewer"
    elif action in ("user_unlocked", "model_suspended"):
        actor, audience = who["admin"], "admin"
    elif action == "sign_in_refused":
        actor, audience = (f"c{clinician:02d}", "(not signed in)", "anonymous"), "system"
        fields["detail"] = {"throttled": False, "known_account": True}
    else:  # sign_in, signed_out, access_refused: anyone, weighted towards clinicians
        (role,) = rng.choices(["clinician", "patient", "reviewer", "admin"], [80, 12, 6, 2])
        actor, audience = who[role], role
    if action in ("viewed", "previewed", "patient_viewed", "replayed", "rerun", "feedback"):
        fields.update(patient_ref=patient, model_id=model[0], model_version=model[1])
        fields.update(model_sha256=model[2])
    if action in ("viewed", "previewed", "patient_viewed", "replayed"):
        fields.update(report=_small_report(rng, model, patient), rendered_digest="ef" * 32)
    if action == "feedback":
        fields["detail"] = {"helpful": rng.random() < 0.7, "comment": "Matches my assessment."}
    elif action in ("replayed", "rerun"):
        fields["detail"] = {"seq": rng.randrange(1, 1_000_000)}
    elif action == "model_suspended":
        fields["detail"] = {"model_id": model[0], "reason": "calibration drift under review"}
    return AuditEvent(
        actor_id=actor[0],
        actor_name=actor[1],
        actor_role=actor[2],
        audience=audience,
        action=action,
        **fields,
    )


class _TrailClock:
    """Times for a trail built in ``n_chunks`` transactions spread over a year of use."""

    def __init__(self, n_chunks: int) -> None:
        self._start = datetime.fromisoformat(_PAGE_TRAIL_START).replace(tzinfo=UTC)
        self._step = timedelta(days=_PAGE_TRAIL_DAYS) / max(1, n_chunks)
        self._calls = 0

    def day(self, fraction: float) -> datetime:
        """Midnight UTC of the day ``fraction`` of the way through the year."""
        moment = self._start + timedelta(days=_PAGE_TRAIL_DAYS) * fraction
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def __call__(self) -> str:
        moment = self._start + self._step * self._calls
        self._calls += 1
        return format_time(moment)


def _peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _reset_peak_rss() -> bool:
    """Start a new peak-RSS window (Linux ``clear_refs``); False where it is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _timed(fn: Callable[[], Any], reps: int) -> tuple[dict[str, float], Any]:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}, value


def bench_audit_page(
    tmpdir: str | os.PathLike[str],
    *,
    n_entries: int = 1_000_000,
    reps: int = 5,
    page_size: int = 50,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time the Audit trail page's clicks on a SQLite trail of ``n_entries`` mixed entries.

    Each click is what ``Workflow.audit_page`` does — one ``page()`` and one ``count()`` with
    the reviewer's filters — except ``h_entry_problem``, the ``entry_problem(seq)`` check a
    replay makes before drawing: (a) the first page, (b) the next page by keyset, filters by
    (c) patient, (d) action, (e) actor, (f) a one-month date range, (g) a filter matching
    nothing, then (i) the role filter and (j) a three-month date range. The target is
    ≤ 1,000 ms per click.

    Parameters
    ----------
    tmpdir : path
        A scratch directory; at 1,000,000 entries it holds about 1 GB while the benchmark runs.
        The files are deleted at the end.
    n_entries : int
        Entries in the trail, written with ``append_many`` in 1,000-entry transactions whose
        times are spread over a year; about 5,000 patients, 2 models, clinicians, patients,
        reviewers and admins, and a small report on display entries.
    reps : int
        Repetitions of each click; ``p50_ms`` and ``max_ms`` are reported.
    page_size : int
        Entries per page (the app shows 50).
    seed : int
        Seed for the trail's contents.
    progress : callable, optional
        Called with a short line while the trail is built (the CLI prints it to stderr).

    Returns
    -------
    dict
        ``build_s``, ``build_per_s``, ``db_bytes``, ``clicks`` (name → ``p50_ms``, ``max_ms``,
        ``rows``, ``total``, ``filters``), ``slowest_click_ms``, ``within_target``,
        ``peak_rss_mb_build``, ``peak_rss_mb_before_clicks``, ``peak_rss_mb_after_clicks``;
        ready for ``json.dumps``.
    """
    tmp = Path(tmpdir)
    path = tmp / "bench-page.sqlite"
    key = os.urandom(32)
    rng = random.Random(seed)
    n_chunks = -(-n_entries // _PAGE_CHUNK)
    clock = _TrailClock(n_chunks)
    try:
        build_s = _build_page_trail(path, key, rng, clock, n_entries, progress)
        db_bytes = path.stat().st_size
        peak_build = _peak_rss_mb()
        clicks, reset, peak_before, peak_after = _time_clicks(
            path, key, clock, n_entries=n_entries, reps=reps, page_size=page_size
        )
    finally:
        for created in tmp.glob("bench-page.sqlite*"):  # about 1 GB at 1,000,000 entries
            created.unlink()
    slowest = max(c["max_ms"] for c in clicks.values())
    return {
        "benchmark": "audit_trail_page",
        "entries": n_entries,
        "build_s": round(build_s, 1),
        "build_per_s": round(n_entries / build_s, 1),
        "build_method": f"append_many, {_PAGE_CHUNK:,} entries per transaction, mixed events",
        "db_bytes": db_bytes,
        "page_size": page_size,
        "reps": reps,
        "clicks": clicks,
        "slowest_click_ms": slowest,
        "target_ms": PAGE_TARGET_MS,
        "within_target": slowest <= PAGE_TARGET_MS,
        "peak_rss_mb_build": peak_build,
        "peak_rss_mb_before_clicks": peak_before,
        "peak_rss_mb_after_clicks": peak_after,
        "peak_rss_window": "clicks only (peak reset after the build)" if reset else "whole process",
    }


def _build_page_trail(
    path: Path,
    key: bytes,
    rng: random.Random,
    clock: _TrailClock,
    n_entries: int,
    progress: Callable[[str], None] | None,
) -> float:
    """Write ``n_entries`` mixed entries in ``_PAGE_CHUNK``-entry transactions; the seconds."""
    with AuditStore.open(path, key=key, clock=clock) as store:
        started = time.perf_counter()
        for start in range(0, n_entries, _PAGE_CHUNK):
            size = min(_PAGE_CHUNK, n_entries - start)
            store.append_many([_mixed_event(rng) for _ in range(size)])
            if progress and (start // _PAGE_CHUNK) % 100 == 99:
                elapsed = time.perf_counter() - started
                progress(f"built {start + size:,} entries in {elapsed:.0f} s")
        return time.perf_counter() - started


def _time_clicks(
    path: Path, key: bytes, clock: _TrailClock, *, n_entries: int, reps: int, page_size: int
) -> tuple[dict[str, dict[str, Any]], bool, float, float]:
    """Each click's timings, whether the peak-RSS window was reset, and the peak RSS before and
    after the clicks."""
    # The clicks, on a freshly opened trail, as the app's server process would make them.
    with AuditStore.open(path, key=key, create=False) as store:
        newest = store.page(limit=page_size)  # warm-up: connection, schema check
        actor = next((e.actor_id for e in newest if e.actor_role == "clinician"), "c00")
        patient = next((e.patient_ref for e in newest if e.patient_ref), "P-00000")
        month = {"since": clock.day(0.40), "until": clock.day(0.40 + 31 / 365)}
        quarter = {"since": clock.day(0.25), "until": clock.day(0.25 + 91 / 365)}
        # A clinician never unlocks users: two indexed filters, nothing in common.
        nothing = {"actor_id": actor, "action": "user_unlocked"}
        reset = _reset_peak_rss()
        peak_before = _peak_rss_mb()

        def click(before_seq: int | None = None, **filters: Any) -> tuple[int, int, int | None]:
            rows = store.page(before_seq=before_seq, limit=page_size, **filters)
            total = store.count(**filters)
            return len(rows), total, rows[-1].seq if len(rows) == page_size else None

        clicks: dict[str, dict[str, Any]] = {}

        def measure(name: str, fn: Callable[[], Any], filters: dict[str, Any]) -> Any:
            figures, value = _timed(fn, reps)
            shown = {
                k: format_time(v) if isinstance(v, datetime) else v for k, v in filters.items()
            }
            if isinstance(value, tuple):
                figures.update(rows=value[0], total=value[1])
            clicks[name] = {**figures, "filters": shown}
            return value

        first = measure("a_first_page", click, {})
        measure("b_next_page", lambda: click(first[2]), {"before_seq": first[2]})
        measure("c_patient_ref", lambda: click(patient_ref=patient), {"patient_ref": patient})
        measure("d_action", lambda: click(action="viewed"), {"action": "viewed"})
        measure("e_actor_id", lambda: click(actor_id=actor), {"actor_id": actor})
        measure("f_date_range", lambda: click(**month), month)
        measure("g_matches_nothing", lambda: click(**nothing), nothing)
        seq = max(1, n_entries // 2)
        problem = measure("h_entry_problem", lambda: store.entry_problem(seq), {"seq": seq})
        if problem is not None:
            raise AssertionError(f"benchmark entry {seq} fails verification: {problem}")
        # Also on the page: the role filter, and a date range of three months.
        measure("i_role", lambda: click(role="patient"), {"role": "patient"})
        measure("j_date_range_3_months", lambda: click(**quarter), quarter)
        peak_after = _peak_rss_mb()
    return clicks, reset, peak_before, peak_after
