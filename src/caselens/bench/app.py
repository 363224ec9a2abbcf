"""The app benchmark: start-up and per-case report time, measured in a real browser.

``bench_app()`` starts its own Streamlit server (a temporary data folder, demo mode) and a
headless Debian Chromium driven by Playwright, and measures what a clinician waits for:

* ``startup_s`` — from launching ``streamlit run`` to the sign-in page visible in the
  browser (its "Sign in" button shown);
* ``case_report_p50_s`` / ``case_report_p95_s`` — after a warm-up (two cases of each sample
  model, outside the timed set), from the click on a patient in the open "Demo patient"
  list to that patient's report drawn: the probability metric showing the new patient's
  value (computed beforehand from the model) and the SHAP chart of that script run present
  (not a stale one).
  Ten cases are timed: five of each sample model (H-01…H-05, R-01…R-05).

  Both ends are stamped in the page, on the browser's own clock: the click is the
  ``pointerdown`` event's time stamp; "drawn" is the first animation frame in which the
  report is in the page (checked on every frame, ``polling="raf"``). Playwright's
  ``expect`` is not used for the timed wait: it polls with growing pauses (up to 500 ms
  between checks), which put up to half a second of waiting into each time measured.
* ``case_report_wall_p50_s`` / ``..._p95_s`` — the same clicks timed from the benchmark's
  side: from Playwright's ``click()`` call (its actionability checks included) to the wait
  returning.

The helpers here (server, browser, sign-in, choosing an option) are also used by the
browser tests in ``tests/browser``. Playwright is a test dependency, imported only when used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from caselens.settings import Settings, read_variable

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_SCRIPT = REPO_ROOT / "app" / "serve.py"
#: Debian's Chromium; Playwright never downloads a browser here.
CHROMIUM = str(read_variable("CASELENS_CHROMIUM") or Settings().chromium)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEMO_PASSWORD = "caselens-demo"
#: The probability metric's label (``confidence.headline_label``): "Chance of …" for a
#: calibrated model, "Model score for … (not calibrated)" for one that is not.
PROBABILITY_LABEL = re.compile(r"(Chance of|Model score for) \w")
SHAP_TITLE = "SHAP: from the average patient to this patient"
HEART = "heart-disease"
READMISSION = "readmission-30d"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_bin() -> str:
    """The ``streamlit`` executable beside this Python (the project's venv)."""
    beside = Path(sys.executable).parent / "streamlit"
    return str(beside) if beside.exists() else "streamlit"


class AppServer:
    """``streamlit run app/serve.py`` (the app and its cookie routes) on a free local port, in
    demo mode.

    ``start()`` returns once ``/_stcore/health`` answers ``ok``; ``stop()`` terminates the
    process (and kills it if it does not end).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        #: Settings for this server on top of the defaults (e.g. a models folder, a shared
        #: audit database): by default a server writes its own trail in its data folder.
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def launch(self) -> None:
        """Start the process without waiting for it."""
        env = dict(os.environ)  # the child's environment, passed on (not a setting read here)
        for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_MODELS_DIR"):
            env.pop(name, None)
        env.update(
            {
                "CASELENS_DATA_DIR": str(self.data_dir),
                "CASELENS_DEMO": "1",
                "PYTHONUNBUFFERED": "1",
                # Timings and most browser tests measure the report itself; the estimate
                # step before it (on by default for clinicians) is tested on its own server.
                "CASELENS_ESTIMATE_FIRST": "off",
            }
        )
        env.update(self.env)
        self._log = open(self.log_file, "wb") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                streamlit_bin(),
                "run",
                str(APP_SCRIPT.relative_to(REPO_ROOT)),
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(self.port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Poll the health endpoint until it says ``ok``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with code {self.process.returncode}{self._log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp,
            ):
                if resp.read().decode().strip() == "ok":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_file and self.log_file.exists():
            return "\n" + self.log_file.read_text(errors="replace")[-3000:]
        return ""

    def start(self, timeout: float = 60.0) -> AppServer:
        self.launch()
        self.wait_healthy(timeout)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
            self._log = None


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian Chromium (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def sign_in(
    page: Any,
    base_url: str,
    user_id: str,
    *,
    password: str = DEMO_PASSWORD,
    timeout_ms: float = 60_000,
) -> None:
    """Open the app and sign in; returns once the sign-in form has gone."""
    from playwright.sync_api import expect

    page.goto(base_url)
    button = page.get_by_role("button", name="Sign in", exact=True)
    expect(button).to_be_visible(timeout=timeout_ms)
    page.get_by_role("textbox", name="User name", exact=True).fill(user_id)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    button.click()
    expect(button).to_have_count(0, timeout=timeout_ms)


def open_options(page: Any, label: str, *, timeout_ms: float = 60_000) -> None:
    """Open the option list of the Streamlit selectbox labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.get_by_role("combobox").click(timeout=timeout_ms)


def choose_option(page: Any, label: str, option: str, *, timeout_ms: float = 60_000) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label``."""
    open_options(page, label, timeout_ms=timeout_ms)
    page.get_by_role("option", name=option, exact=True).click(timeout=timeout_ms)


def probability_value(page: Any) -> Any:
    """The locator of the calibrated-probability metric's value."""
    metric = page.get_by_test_id("stMetric").filter(has_text=PROBABILITY_LABEL)
    return metric.get_by_test_id("stMetricValue")


def model_label(model_id: str) -> str:
    """The "Model" option of a sample bundle on the Case page."""
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    bundle = load_bundle(SAMPLE_MODELS_DIR / model_id)
    return f"{bundle.card.name} ({bundle.model_id} {bundle.version})"


def demo_options(model_id: str) -> list[str]:
    """The "Demo patient" options of a sample bundle, in order."""
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    bundle = load_bundle(SAMPLE_MODELS_DIR / model_id)
    return [f"{d.case_id} — {d.title}" for d in bundle.demo_cases]


def expected_probabilities(model_id: str) -> dict[str, str]:
    """The probability text each demo patient's report shows (``"6.7%"``), by option label,
    computed from the bundle's model directly (cheap: one prediction per case)."""
    from caselens.explain.cases import validate_inputs
    from caselens.model.bundle import load_bundle
    from caselens.settings import SAMPLE_MODELS_DIR

    bundle = load_bundle(SAMPLE_MODELS_DIR / model_id)
    out = {}
    for demo in bundle.demo_cases:
        case = validate_inputs(demo.inputs, bundle.features, source="demo", case_id=demo.case_id)
        frame = case.to_frame()[bundle.features.names]
        p = float(bundle.model.predict_proba(frame)[0, 1])
        out[f"{demo.case_id} — {demo.title}"] = f"{100 * p:.1f}%"
    return out


def shap_chart(page: Any) -> Any:
    """The SHAP waterfall chart, drawn by the current script run (not a stale one)."""
    return page.locator('[data-testid="stElementContainer"][data-stale="false"]').filter(
        has=page.locator(".js-plotly-plot", has_text=SHAP_TITLE)
    )


def wait_for_report(page: Any, expected: str | None = None, *, timeout_ms: float = 60_000) -> str:
    """Wait until the probability metric shows ``expected`` (any value if None) and the SHAP
    chart of the current run is drawn; return the value shown."""
    from playwright.sync_api import expect

    value = probability_value(page)
    if expected is not None:
        expect(value).to_have_text(expected, timeout=timeout_ms)
    expect(value).to_be_visible(timeout=timeout_ms)
    expect(shap_chart(page)).to_have_count(1, timeout=timeout_ms)
    return value.inner_text().strip()


# Stamps the next pointerdown (the clinician's click) with the event's own time stamp.
_STAMP_CLICK_JS = """() => {
    window.__caselensClickAt = null;
    document.addEventListener(
        "pointerdown",
        (event) => { window.__caselensClickAt = event.timeStamp; },
        { capture: true, once: true },
    );
}"""

# What wait_for_report checks, in the page: exactly one probability metric, showing the
# expected value and visible, and exactly one SHAP chart of the current run (not stale).
# Returns the time (performance.now()) of the first frame in which all of it holds.
_REPORT_DRAWN_JS = """([expected, labelPattern, shapTitle]) => {
    const norm = (text) => (text || "").replace(/\\s+/g, " ").trim();
    const label = new RegExp(labelPattern);
    const metrics = [...document.querySelectorAll('[data-testid="stMetric"]')]
        .filter((m) => label.test(norm(m.textContent)));
    const values = metrics.flatMap(
        (m) => [...m.querySelectorAll('[data-testid="stMetricValue"]')]);
    if (values.length !== 1 || norm(values[0].textContent) !== expected) return false;
    if (values[0].getClientRects().length === 0) return false;
    const charts = [
        ...document.querySelectorAll('[data-testid="stElementContainer"][data-stale="false"]'),
    ].filter((c) => [...c.querySelectorAll(".js-plotly-plot")].some(
        (plot) => norm(plot.textContent).includes(shapTitle)));
    if (charts.length !== 1) return false;
    return performance.now();
}"""


def timed_click(page: Any, choice: Any, expected: str, *, timeout_ms: float = 60_000) -> float:
    """Click ``choice`` and wait until the report showing ``expected`` is drawn; return the
    seconds from the click (its ``pointerdown``) to the first frame with the report, both
    stamped in the page (see the module doc)."""
    page.evaluate(_STAMP_CLICK_JS)
    choice.click()
    drawn_at = page.wait_for_function(
        _REPORT_DRAWN_JS,
        arg=[expected, PROBABILITY_LABEL.pattern, SHAP_TITLE],
        polling="raf",
        timeout=timeout_ms,
    ).json_value()
    click_at = page.evaluate("() => window.__caselensClickAt")
    if click_at is None:
        raise RuntimeError("the click was not seen by the page")
    return (float(drawn_at) - float(click_at)) / 1000


@contextlib.contextmanager
def _server_and_browser(data_dir: Path) -> Iterator[tuple[AppServer, Any, float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        server = AppServer(data_dir, log_file=data_dir.parent / "streamlit.log")
        try:
            start = time.perf_counter()
            server.launch()
            server.wait_healthy()
            yield server, browser, start
        finally:
            server.stop()
            browser.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def bench_app(cases_per_model: int = 5) -> dict[str, Any]:
    """Measure app start-up and per-case report time in a real browser (see module doc).

    Returns ``{"benchmark": "app", "startup_s", "case_report_p50_s", "case_report_p95_s",
    "case_report_wall_p50_s", "case_report_wall_p95_s", "cases"}``; times in seconds.
    """
    from playwright.sync_api import expect

    models = (HEART, READMISSION)
    expected = {model: expected_probabilities(model) for model in models}
    workdir = Path(tempfile.mkdtemp(prefix="caselens-bench-app-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    try:
        with _server_and_browser(data_dir) as (server, browser, start):
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(server.url)
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
            startup_s = time.perf_counter() - start

            sign_in(page, server.url, "dr.lee")
            times: list[float] = []
            wall: list[float] = []
            for model in models:
                options = list(expected[model])
                if model != models[0]:
                    choose_option(page, "Model", model_label(model))
                # Warm-up, not timed: the model's first report (its first demo patient) pays
                # the one-off explainer preparation; then one more case outside the timed set.
                wait_for_report(page, expected[model][options[0]], timeout_ms=180_000)
                choose_option(page, "Demo patient", options[-1])
                wait_for_report(page, expected[model][options[-1]], timeout_ms=120_000)
                # Timed: the first cases in order. Each must show a value other than the one
                # before it, or the wait could be satisfied by the previous report.
                shown = expected[model][options[-1]]
                for option in options[:cases_per_model]:
                    if expected[model][option] == shown:
                        raise RuntimeError(
                            f"{option} shows the same value as the case before "
                            f"it ({shown}); reorder the benchmark cases"
                        )
                    shown = expected[model][option]
                    open_options(page, "Demo patient")
                    choice = page.get_by_role("option", name=option, exact=True)
                    choice.wait_for()
                    t0 = time.perf_counter()
                    times.append(timed_click(page, choice, expected[model][option]))
                    wall.append(time.perf_counter() - t0)
                    # The same report as the browser tests see it (a check, not timed).
                    wait_for_report(page, expected[model][option])
                    if read_variable("CASELENS_BENCH_VERBOSE"):
                        print(
                            f"{option}: {times[-1]:.3f} s (wall {wall[-1]:.3f} s)",
                            file=sys.stderr,
                        )
        return {
            "benchmark": "app",
            "startup_s": round(startup_s, 3),
            "case_report_p50_s": round(statistics.median(times), 3),
            "case_report_p95_s": round(_percentile(times, 95), 3),
            "case_report_wall_p50_s": round(statistics.median(wall), 3),
            "case_report_wall_p95_s": round(_percentile(wall, 95), 3),
            "cases": len(times),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_app()))
