"""The app benchmark with a shadow candidate: does scoring it slow the clinician's click?

``bench_app_shadow()`` runs ONE app server (demo mode) on a models folder holding the two
samples and, for each, a candidate version (a copy of the bundle with its decision
threshold moved by :data:`THRESHOLD_STEP`: the same model, another version id). After the
server has seeded the samples' first versions, the candidates are registered in the app
database; then the clinician's click-to-report time (:func:`caselens.bench.app.timed_click`,
stamped in the page) is measured in rounds that alternate **without** a shadow (the
candidates in state ``candidate``) and **with** one (state ``shadow``: every display queues
the candidate's score for the server's background scorer). Each round signs in afresh (a
new browser context, so no report of an earlier round is reused), warms up each model on two
cases outside the timed set, pauses :data:`SETTLE_S` seconds (the candidate's explainer is
built in the background on its first job), then times the first ``cases_per_model`` demo
patients of each model.

It prints, for each condition, p50 and p95 over every timed click, the ratio of the p95s,
and the shadow rows the server wrote (read from its trail once its periodic flush has
written every shadow display: a server stopped by SIGTERM does not write what still waits),
beside the number expected (every distinct report displayed in the "with" rounds,
warm-ups included: report ids are reproducible, so a later round's same case is the same
report, scored once). An
untimed round first pays the server's one-off costs; the rounds then alternate ABBA.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from caselens.bench.app import (
    HEART,
    READMISSION,
    AppServer,
    _percentile,
    choose_option,
    expected_probabilities,
    launch_chromium,
    model_label,
    open_options,
    sign_in,
    timed_click,
    wait_for_report,
)
from caselens.monitoring.shadow_scorer import SHADOW_FLUSH_SECONDS

#: How far each candidate's threshold moves from its live version's (a real card change).
THRESHOLD_STEP = 0.05
#: Seconds to wait after a round's warm-up before its timed clicks (same in both conditions).
SETTLE_S = 2.0
#: The state of the candidates in each condition.
CONDITIONS = {"without": "candidate", "with": "shadow"}


def candidate_folder(source: Path, folder: Path, *, step: float = THRESHOLD_STEP) -> Path:
    """A copy of the bundle ``source`` with its decision threshold moved by ``step`` and its
    card version marked, unsigned (the copy is not what the publisher signed)."""
    shutil.copytree(source, folder)
    (folder / "signature.json").unlink(missing_ok=True)
    card_file = folder / "card.json"
    card = json.loads(card_file.read_text())
    threshold = round(float(card["decision_threshold"]) + step, 4)
    card["decision_threshold"] = threshold
    card["validation"]["threshold_used"] = threshold
    card["version"] = f"{card['version']}-shadow"
    card_file.write_text(json.dumps(card, indent=2))
    return folder


def _models_folder(workdir: Path, models: tuple[str, ...]) -> tuple[Path, dict[str, Any]]:
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    folder = workdir / "models"
    folder.mkdir()
    shutil.copy(SAMPLE_MODELS_DIR / "demo-publisher.pub.pem", folder)
    candidates = {}
    for model in models:
        shutil.copytree(SAMPLE_MODELS_DIR / model, folder / model)
        # Sorted after the sample's folder: the sample is the first (live) version.
        path = candidate_folder(SAMPLE_MODELS_DIR / model, folder / f"{model}-shadow")
        candidates[model] = load_bundle(path)
    return folder, candidates


def _round(
    browser: Any, url: str, models: tuple[str, ...], expected: dict, cases_per_model: int
) -> list[float]:
    """One signed-in session: each model warmed up on two cases, then timed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        sign_in(page, url, "dr.lee")
        times: list[float] = []
        for model in models:
            options = list(expected[model])
            if model != models[0]:
                choose_option(page, "Model", model_label(model))
            wait_for_report(page, expected[model][options[0]], timeout_ms=180_000)
            choose_option(page, "Demo patient", options[-1])
            wait_for_report(page, expected[model][options[-1]], timeout_ms=120_000)
            time.sleep(SETTLE_S)
            shown = expected[model][options[-1]]
            for option in options[1 : cases_per_model + 1]:
                if expected[model][option] == shown:
                    raise RuntimeError(f"{option} shows the same value as the case before it")
                shown = expected[model][option]
                open_options(page, "Demo patient")
                choice = page.get_by_role("option", name=option, exact=True)
                choice.wait_for()
                times.append(timed_click(page, choice, expected[model][option]))
                wait_for_report(page, expected[model][option])
        return times
    finally:
        context.close()


def _summary(times: list[float]) -> dict[str, Any]:
    return {
        "case_report_p50_s": round(statistics.median(times), 3),
        "case_report_p95_s": round(_percentile(times, 95), 3),
        "cases": len(times),
    }


def _shadow_rows(data_dir: Path) -> tuple[int, int]:
    """(shadow rows, shadow_scored entries) in the server's trail."""
    import sqlite3

    trail = data_dir / "audit.sqlite"
    with sqlite3.connect(trail) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM monitoring_prediction WHERE never_shown"
        ).fetchone()[0]
        batches = conn.execute(
            "SELECT count(*) FROM audit_entry WHERE action = 'shadow_scored'"
        ).fetchone()[0]
    return int(rows), int(batches)


def bench_app_shadow(cases_per_model: int = 4, rounds: int = 2) -> dict[str, Any]:
    """Click-to-report p50/p95 without and with a shadow candidate, in one server run.

    Returns ``{"benchmark": "app-shadow", "without": {...}, "with": {...},
    "p95_ratio", "p50_ratio", "shadow_rows", "shadow_batches", "rounds"}``; times in
    seconds. ``rounds`` rounds of each condition, alternating (without first).
    """
    from playwright.sync_api import sync_playwright

    from caselens.access.app_database import open_app_database
    from caselens.lifecycle.store import LifecycleStore

    models = (HEART, READMISSION)
    expected = {model: expected_probabilities(model) for model in models}
    workdir = Path(tempfile.mkdtemp(prefix="caselens-bench-shadow-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    try:
        folder, candidates = _models_folder(workdir, models)
        times: dict[str, list[float]] = {name: [] for name in CONDITIONS}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            server = AppServer(
                data_dir,
                log_file=workdir / "streamlit.log",
                env={"CASELENS_MODELS_DIR": str(folder)},
            )
            try:
                server.start()
                # An untimed round first: it builds the server's workflow (which seeds the
                # samples' first versions; the candidates are registered after it) and pays
                # every one-off cost of the server, so neither condition carries them.
                _round(browser, server.url, models, expected, cases_per_model)
                store = LifecycleStore(open_app_database(data_dir))
                for model, candidate in candidates.items():
                    store.register(
                        model_id=model,
                        bundle_sha256=candidate.bundle_sha256,
                        card_version=candidate.version,
                        registered_by="owner.ng",
                        change_reason="Benchmark candidate: the threshold moved.",
                        folder=candidate.path.name,
                    )
                for number in range(rounds):
                    # ABBA: without, with, with, without … so a drift over the run weighs
                    # on both conditions alike.
                    order = list(CONDITIONS.items())
                    for name, state in order if number % 2 == 0 else order[::-1]:
                        for model, candidate in candidates.items():
                            store.set_state(model, candidate.bundle_sha256, state, by="owner.ng")
                        time.sleep(1.5)  # the server's view of the versions lasts a second
                        times[name] += _round(
                            browser, server.url, models, expected, cases_per_model
                        )
                store.engine.dispose()
                # The server writes a batch every SHADOW_FLUSH_SECONDS; a stopped server
                # (SIGTERM) does not write what waits. Wait for every shadow display: each
                # distinct report once (a round shows the same reports as the one before).
                expected_rows = len(models) * (cases_per_model + 2)
                deadline = time.monotonic() + SHADOW_FLUSH_SECONDS + 15
                while _shadow_rows(data_dir)[0] < expected_rows and time.monotonic() < deadline:
                    time.sleep(2)
            finally:
                server.stop()  # the server's last shadow batch is written as it exits
                browser.close()
        rows, batches = _shadow_rows(data_dir)
        without, with_shadow = _summary(times["without"]), _summary(times["with"])
        return {
            "benchmark": "app-shadow",
            "without": without,
            "with": with_shadow,
            "p50_ratio": round(with_shadow["case_report_p50_s"] / without["case_report_p50_s"], 3),
            "p95_ratio": round(with_shadow["case_report_p95_s"] / without["case_report_p95_s"], 3),
            "shadow_rows": rows,
            "shadow_rows_expected": len(models) * (cases_per_model + 2),
            "shadow_batches": batches,
            "rounds": rounds,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(bench_app_shadow()))
