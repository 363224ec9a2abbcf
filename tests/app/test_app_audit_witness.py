"""The app and the witness: the Audit trail page says the witness comparison in words, and
over a lost trail the app refuses to work rather than start a new, empty trail."""

from __future__ import annotations

import pytest

from app_helpers import open_app, shown, signed_in
from audit_fixtures import make_event
from caselens.audit import AuditTrailMissing, open_trail
from caselens.workflow.display import NOT_RECORDED_MESSAGE

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


def test_the_reviewer_sees_the_witness_comparison_in_words(app_env):
    signed_in("dr.lee")
    at = signed_in("rev.kim")
    at = at.button(key="audit_verify").click().run()
    assert any(s.value.startswith("Intact:") for s in at.success)
    said = shown(at.caption)
    assert "Witness (SQLite file " in said and "audit.witness.sqlite" in said
    assert "the trail holds the checkpointed entries unchanged" in said


def test_a_witness_that_cannot_be_read_leaves_the_trail_not_confirmed(app_env):
    signed_in("dr.lee")  # the trail's first entry: its checkpoint reached the witness
    for suffix in ("-wal", "-shm"):
        (app_env / f"audit.witness.sqlite{suffix}").unlink(missing_ok=True)
    (app_env / "audit.witness.sqlite").write_bytes(b"not SQLite at all " * 64)
    at = signed_in("rev.kim")
    at = at.button(key="audit_verify").click().run()
    assert not at.exception and not at.success
    said = shown(at.error)
    assert "Not confirmed: the chain of" in said and "could not be read" in said
