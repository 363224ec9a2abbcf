"""Sessions and sign-in in a real browser: a reload keeps the user signed in (a signed,
HttpOnly session cookie), sign-out ends it for good, one browser's guesses do not block
another's sign-in, unknown addresses land on the role's page, refusals name pages by title
with a way back, and a wrong password keeps the demo-account list.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from caselens.access.browser_sessions import DEVICE_COOKIE, SESSION_COOKIE
from caselens.access.sign_in_throttle import FREE_ATTEMPTS
from caselens.bench.app import sign_in

from .helpers import title

pytestmark = pytest.mark.browser


def cookie(page: Page, name: str, timeout_s: float = 60.0) -> dict | None:
    """The browser context's cookie ``name`` once it is there (the session cookie arrives
    by a request the page makes right after sign-in), else None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for found in page.context.cookies():
            if found["name"] == name:
                return found
        page.wait_for_timeout(100)
    return None


def sign_in_form(page: Page) -> Any:
    return page.get_by_role("button", name="Sign in", exact=True)


def test_a_reload_keeps_the_user_signed_in_and_is_recorded(signed_in, audit_entries):
    page = signed_in("rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    session = cookie(page, SESSION_COOKIE)
    assert session is not None, "no session cookie after sign-in"
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # not readable by script
    page.reload()
    expect(title(page, "Audit trail")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(sign_in_form(page)).to_have_count(0)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    resumed = audit_entries(action="session_resumed")
    assert any(e.actor_id == "rev.kim" for e in resumed)


def test_sign_out_ends_the_session_for_good_even_for_a_copied_cookie(signed_in, new_page, app_url):
    page = signed_in("dr.lee")
    expect(title(page, "Case")).to_be_visible()
    session = cookie(page, SESSION_COOKIE)
    assert session is not None
    page.get_by_role("button", name="Sign out").click()
    expect(sign_in_form(page)).to_be_visible()
    page.reload()
    expect(sign_in_form(page)).to_be_visible()
    # A copy of the cookie taken before sign-out opens nothing in another browser.
    other = new_page()
    other.context.add_cookies([{k: session[k] for k in ("name", "value", "domain", "path")}])
    other.goto(app_url)
    expect(sign_in_form(other)).to_be_visible()
    expect(other.get_by_role("button", name="Sign out")).to_have_count(0)


def test_one_browser_guessing_names_does_not_block_another_browser(
    new_page, app_url, audit_entries
):
    stranger = new_page()
    stranger.goto(app_url)
    expect(sign_in_form(stranger)).to_be_visible()
    assert cookie(stranger, DEVICE_COOKIE) is not None  # each browser has its own identity
    name = stranger.get_by_role("textbox", name="User name", exact=True)
    password = stranger.get_by_role("textbox", name="Password", exact=True)
    refusal = stranger.get_by_text("Sign-in failed", exact=False)
    refused_before = len(audit_entries(action="sign_in_refused"))
    for i in range(FREE_ATTEMPTS["client"] + 1):
        name.fill(f"made.up{i}")
        password.fill("a wrong guess")
        sign_in_form(stranger).click()
        _wait_until(lambda i=i: len(audit_entries(action="sign_in_refused")) > refused_before + i)
    expect(refusal).to_be_visible()
    throttled = audit_entries(action="sign_in_refused")[-1]
    assert throttled.detail()["throttled"]  # the guessing browser itself is backing off
    # Before the fix every browser on this host shared one bucket: the owner was refused.
    owner = new_page()
    sign_in(owner, app_url, "dr.lee")
    expect(title(owner, "Case")).to_be_visible()


def _wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_an_unknown_address_lands_on_the_roles_page(signed_in, app_url):
    page = signed_in("rev.kim")
    expect(title(page, "Audit trail")).to_be_visible()
    assert cookie(page, SESSION_COOKIE) is not None  # the session resumes from its cookie
    page.goto(f"{app_url}/no_such_page")
    expect(title(page, "Audit trail")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_a_page_address_when_signed_out_shows_the_sign_in_form_then_the_roles_page(
    new_page, app_url
):
    page = new_page()
    page.goto(f"{app_url}/audit_trail")
    expect(sign_in_form(page)).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.get_by_role("textbox", name="User name", exact=True).fill("pat.h03")
    page.get_by_role("textbox", name="Password", exact=True).fill("caselens-demo")
    sign_in_form(page).click()
    # A patient who signs in at a reviewer's address lands on their own page, not a refusal.
    expect(title(page, "My result")).to_be_visible()
    expect(page.get_by_text("Not allowed")).to_have_count(0)


def test_a_refusal_names_the_page_by_title_and_a_patient_has_a_way_back(
    signed_in, app_url, screenshots
):
    page = signed_in("pat.h03")
    expect(title(page, "My result")).to_be_visible()
    page.goto(f"{app_url}/audit_trail")
    expect(page.get_by_text("A patient may not open the Audit trail page.")).to_be_visible()
    back = page.get_by_role("link", name="Go to My result")
    expect(back).to_be_visible()
    page.screenshot(path=str(screenshots / "patient_refused_with_way_back.png"))
    back.click()
    expect(title(page, "My result")).to_be_visible()


def test_a_wrong_password_keeps_the_demo_account_list(new_page, app_url, screenshots):
    page = new_page()
    page.goto(app_url)
    expect(sign_in_form(page)).to_be_visible()
    page.get_by_role("textbox", name="User name", exact=True).fill("dr.lee")
    page.get_by_role("textbox", name="Password", exact=True).fill("not the password")
    sign_in_form(page).click()
    expect(page.get_by_text("Sign-in failed", exact=False)).to_be_visible()
    expect(page.get_by_text("Demo accounts (demo mode only)")).to_be_visible()
    expect(page.get_by_text("rev.kim", exact=True)).to_be_visible()
    page.screenshot(path=str(screenshots / "sign_in_wrong_password.png"))
