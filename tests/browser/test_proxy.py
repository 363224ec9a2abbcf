"""The documented deployment behind nginx (``deploy/nginx/caselens.conf``), started by the test:
every answer carries the security headers (a strict CSP Streamlit works under, no framing,
HSTS, nosniff), a real browser signs in and sees a report through it with no CSP violation,
a reload keeps the session, and the throttle gets the client's address from the proxy only.

nginx is Debian's package (``make system-deps`` installs it); without it these tests are
skipped, except under ``CI=true`` where they fail — as for Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit
from playwright.sync_api import expect

from caselens.access.browser_sessions import SESSION_COOKIE
from caselens.bench.app import (
    REPO_ROOT,
    AppServer,
    free_port,
    sign_in,
    wait_for_report,
)

from .helpers import ACTION_TIMEOUT_MS, DESKTOP, FIRST_REPORT_MS, title

pytestmark = pytest.mark.browser

SITE = REPO_ROOT / "deploy" / "nginx" / "caselens.conf"
SPOOFED = "203.0.113.9"  # what a client claims in its own X-Forwarded-For


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    message = "nginx not found: install Debian's nginx package (make system-deps does)."
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def site_config(listen: int, upstream: int) -> str:
    """The shipped site file with only its two ports changed."""
    text = SITE.read_text(encoding="utf-8")
    assert "listen 127.0.0.1:8080;" in text and "proxy_pass http://127.0.0.1:8501;" in text
    return text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};").replace(
        "proxy_pass http://127.0.0.1:8501;", f"proxy_pass http://127.0.0.1:{upstream};"
    )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[str, Path]]:
    """(proxy URL, app data folder): the app trusting the proxy on loopback, behind nginx."""
    nginx = _nginx()
    root = tmp_path_factory.mktemp("proxy")
    data = root / "data"
    data.mkdir()
    app = AppServer(
        data, log_file=root / "streamlit.log", env={"CASELENS_TRUSTED_PROXIES": "127.0.0.1,::1"}
    )
    listen = free_port()
    (root / "site.conf").write_text(site_config(listen, app.port), encoding="utf-8")
    temp = {name: root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    (root / "nginx.conf").write_text(
        f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {root}/site.conf;
}}
""",
        encoding="utf-8",
    )
    check = subprocess.run(
        [nginx, "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    proxy = subprocess.Popen(
        [nginx, "-p", str(root), "-c", str(root / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "nginx.out", "wb"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{listen}"
    try:
        app.start(timeout=120)
        _wait_for(f"{url}/_stcore/health")
        yield url, data
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        app.stop()


def _wait_for(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _headers(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.headers
    except urllib.error.HTTPError as error:  # an error answer carries them too
        return error.headers


@pytest.mark.parametrize(
    "path", ["/", "/case", "/_stcore/health", "/_caselens/session", "/nope.js"]
)
def test_every_answer_through_the_proxy_carries_the_security_headers(proxied, path):
    url, _ = proxied
    headers = _headers(url + path)
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "'unsafe-eval'" not in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script_src
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert len(headers.get_all("Content-Security-Policy")) == 1  # not doubled


def test_the_csp_allows_exactly_the_inline_script_of_the_installed_streamlit():
    index = Path(streamlit.__file__).parent / "static" / "index.html"
    inline = re.findall(r"<script>(.*?)</script>", index.read_text(encoding="utf-8"), re.S)
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    }
    allowed = set(re.findall(r"'sha256-[^']+'", SITE.read_text(encoding="utf-8")))
    assert hashes == allowed, "update the CSP hash in deploy/nginx/caselens.conf"


def test_a_browser_through_the_proxy_signs_in_sees_a_report_and_keeps_its_session(
    proxied, browser, screenshots
):
    url, data = proxied
    context = browser.new_context(
        viewport=DESKTOP,
        extra_http_headers={"X-Forwarded-For": SPOOFED},  # a client naming itself
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    violations: list[str] = []
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    try:
        sign_in(page, url, "dr.lee")
        expect(title(page, "Case")).to_be_visible()
        wait_for_report(page, timeout_ms=FIRST_REPORT_MS)  # charts, tables, the lot
        page.screenshot(path=str(screenshots / "through_nginx_case.png"))
        assert not violations, violations
        # The session cookie came through the proxy, and a reload keeps the session.
        deadline = time.monotonic() + 60
        while SESSION_COOKIE not in {c["name"] for c in context.cookies()}:
            assert time.monotonic() < deadline, "no session cookie through the proxy"
            page.wait_for_timeout(100)
        page.reload()
        expect(title(page, "Case")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert not violations, violations
    finally:
        context.close()
    # The throttle knew the client by the address the proxy saw, not the one it claimed.
    with sqlite3.connect(data / "app.sqlite") as conn:
        clients = {row[0] for row in conn.execute("SELECT client FROM sign_in_known_clients")}
    assert clients == {"addr:127.0.0.1"}
