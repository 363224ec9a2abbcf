"""Helpers for the AppTest suites: run the real app script against a temporary data folder."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from caselens.accounts import DEMO_PASSWORD
from caselens.audit import AuditStore, default_key_file, default_location, load_key

APP_DIR = Path(__file__).resolve().parents[1] / "app"
APP = str(APP_DIR / "streamlit_app.py")
sys.path.insert(0, str(APP_DIR))

from components.text import unliteral  # noqa: E402  (the app's folder, added just above)


def open_app(*, timeout: float = 180) -> AppTest:
    """The app, run once: the sign-in page."""
    return AppTest.from_file(APP, default_timeout=timeout).run()


def signed_in(user_id: str, *, password: str = DEMO_PASSWORD, timeout: float = 180) -> AppTest:
    """The app after signing in as a (demo) user; lands on that role's first page."""
    at = open_app(timeout=timeout)
    at.text_input(key="sign_in_user").input(user_id)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def audit_entries() -> list:
    """Every entry in the trail the app is writing to (per the current environment)."""
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        return store.entries()


def shown(elements: Iterable) -> str:
    """The text of Markdown elements (markdown, caption, error, warning, info…) as a reader
    sees it: the app writes data through ``components.text.literal``, whose escapes are
    resolved here. Our own formatting (``**``, ``- ``) is left as it is."""
    return " ".join(unliteral(e.value) for e in elements)
