"""The app over a lost audit trail: it refuses to work rather than start a new, empty trail."""

from __future__ import annotations

import pytest

from app_helpers import open_app, shown
from audit_fixtures import make_event
from caselens.audit import AuditTrailMissing, open_trail
from caselens.display import NOT_RECORDED_MESSAGE

pytestmark = pytest.mark.usefixtures("app_env")


def test_the_app_refuses_to_start_a_new_trail_over_a_deleted_one(app_env, capfd):
    with open_trail() as trail:  # the trail this server kept: one entry is enough
        trail.append(make_event(0))
    for suffix in ("", "-wal", "-shm"):
        (app_env / f"audit.sqlite{suffix}").unlink(missing_ok=True)
    at = open_app()  # refused already on the sign-in page, before anyone signs in
    assert not at.exception
    assert not at.text_input  # no sign-in form under the refusal
    said = shown(at.error)
    assert NOT_RECORDED_MESSAGE in said and AuditTrailMissing.for_users in said
    assert str(app_env) not in said  # no server paths on a screen anyone may see
    assert not (app_env / "audit.sqlite").exists()  # no new, empty trail
    log = capfd.readouterr().err
    assert "CaseLens refuses to start" in log and "restore the trail's database" in log
