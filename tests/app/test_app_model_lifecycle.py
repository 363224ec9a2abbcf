"""Model status's versions and approvals through the real app (AppTest): the live version
and its approval for every role that opens the page, the forms only for model owners and
administrators, nothing preset on the approve form, and the door's words on a refusal."""

from __future__ import annotations

import pytest

from app_helpers import audit_entries, shown, signed_in

pytestmark = pytest.mark.usefixtures("app_env")

HEART = "heart-disease"


def test_a_reviewer_sees_the_live_version_and_who_approved_it_until_when_and_no_form():
    at = signed_in("rev.kim")
    at.switch_page("app_pages/model_status.py").run()
    assert not at.exception, at.exception
    text = shown(at.markdown)
    assert "Live version:" in text and "registered by owner.ng" in text
    assert "**Approved** by admin (admin) on" in text and "**until" in text
    assert not [b for b in at.button if b.key and "lifecycle_" in b.key]


def test_the_approve_form_presets_nothing_and_shows_the_doors_words_on_refusal():
    at = signed_in("admin")
    at.switch_page("app_pages/model_status.py").run()
    assert "**Approved** by admin (admin) on" in shown(at.markdown)
    prefix = f"lifecycle_{HEART}_approve"
    assert at.selectbox(key=f"{prefix}_version").value is None
    assert at.date_input(key=f"{prefix}_until").value is None
    assert at.checkbox(key=f"{prefix}_scope").value is False
    at.selectbox(key=f"{prefix}_version").select_index(0).run()
    assert "Intended use:" in shown(at.markdown)
    submit = next(b for b in at.button if b.key and b.key.startswith(f"FormSubmitter:{prefix}"))
    at = submit.click().run()
    assert not at.exception, at.exception
    # The demo admin approved the live version; approving it again is a renewal without a
    # date yet: the door names the field.
    assert "expires_on: choose the last day the approval holds" in shown(at.error)
    last = audit_entries()[-1]
    assert (last.action, last.actor_id) == ("access_refused", "admin")
    assert last.detail()["action"] == "approve_model_version"
