"""The reviewer's "Verify a report file" upload (AppTest): a genuine export of a display in
this trail is said genuine, an altered one is named as altered; each check recorded once."""

from __future__ import annotations

import pytest

from app_helpers import audit_entries, shown, signed_in
from caselens.audit.signing_keys import load_signing_key
from caselens.explain import CaseReport
from caselens.export import sign_report_file
from report_files import report_html


def _signed_display(data_dir) -> bytes:
    """A clinician's display in the app's trail, exported as HTML signed by the app's key."""
    assert signed_in("dr.lee").metric  # drawn, so recorded
    entry = [e for e in audit_entries() if e.action == "viewed"][-1]
    report = CaseReport.from_json(entry.report_json)
    return sign_report_file(
        report_html(report, "clinician"),
        file_kind="html",
        audience="clinician",
        report=report,
        entry=entry,
        key=load_signing_key(data_dir / "signing.key.pem", create=True),
    )


@pytest.mark.parametrize("altered", [False, True])
def test_an_uploaded_report_file_gets_its_verdict_and_the_check_is_recorded(app_env, altered):
    data = _signed_display(app_env)
    if altered:
        data = data.replace(b"Estimated risk: ", b"Estimated risk: 1", 1)
    reviewer = signed_in("rev.kim")
    reviewer.file_uploader(key="audit_report_file").upload("report.html", data, "text/html")
    reviewer = reviewer.run()
    assert not reviewer.exception
    if altered:
        assert "report.html: Altered after it was signed: the visible text changed" in shown(
            reviewer.error
        )
    else:
        assert "report.html: Genuine: this HTML (clinician version)" in shown(reviewer.success)
    # another click on the page keeps the verdict and does not check (or record) it again
    reviewer = reviewer.button(key="audit_verify").click().run()
    checks = [e for e in audit_entries() if e.action == "report_verified"]
    assert len(checks) == 1 and checks[0].actor_id == "rev.kim"
    assert checks[0].detail()["verdict"] == ("altered" if altered else "genuine")
    assert "this check is in the trail" in shown(reviewer.caption)
