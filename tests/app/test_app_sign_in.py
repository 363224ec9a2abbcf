"""The sign-in page in the real app script (AppTest): a refusal keeps the demo-account list,
and a sign-in key readable by others stops the app with words naming the file."""

from __future__ import annotations

import os

import pytest

from app_helpers import open_app, shown, signed_in
from caselens.access.browser_sessions import load_sign_in_key

pytestmark = pytest.mark.usefixtures("app_env")


def test_a_wrong_password_keeps_the_demo_account_list():
    at = signed_in("dr.lee", password="not the password")
    assert "Sign-in failed" in shown(at.error)
    assert [e.label for e in at.expander] == ["Demo accounts (demo mode only)"]
    assert "rev.kim" in str(at.table[0].value)
    assert not at.title or at.title[0].value == "CaseLens"  # still the sign-in page


def test_a_sign_in_key_readable_by_others_is_named_not_a_traceback(app_env):
    key_file = app_env / "sign_in.key"
    load_sign_in_key(key_file)
    os.chmod(key_file, 0o644)
    at = open_app()
    assert not at.exception
    assert f"The sign-in key file {key_file} is readable by others: chmod 600 it." in shown(
        at.error
    )


def test_a_setting_that_cannot_be_read_is_named_not_a_traceback(monkeypatch):
    monkeypatch.setenv("CASELENS_MONITOR_CHECK_SECONDS", "every hour")
    at = open_app()
    assert not at.exception
    assert (
        "CaseLens cannot start until the operator corrects a setting: "
        "CASELENS_MONITOR_CHECK_SECONDS: expected seconds between 1 and 86400, or off, got "
        "'every hour'." in shown(at.error)
    )
    assert not at.text_input  # nothing else is drawn: no sign-in form on a broken setting
