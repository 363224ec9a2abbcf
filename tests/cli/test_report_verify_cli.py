"""``caselens report verify FILE``: through the door as an operator, recorded, and its exit
status says the verdict (0 only for a genuine file)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from caselens.access.policy import Viewer
from caselens.audit import open_trail
from caselens.audit.signing_keys import SigningKey, load_signing_key
from caselens.cli.main import main
from caselens.explain.cases import validate_inputs
from caselens.explain.report import explainer_for
from caselens.export import sign_report_file
from caselens.workflow import record_display
from report_files import report_html


@pytest.fixture
def signed_file(tmp_path, monkeypatch, heart_bundle):
    """A data folder whose trail holds one clinician display, and a file signed over it by
    the folder's signing key."""
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    for name in ("CASELENS_AUDIT_KEY", "CASELENS_AUDIT_URL", "CASELENS_APP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CASELENS_SIGNING_KEY_FILE", raising=False)
    demo = heart_bundle.demo_cases[0]
    case = validate_inputs(demo.inputs, heart_bundle.features, source="demo", case_id=demo.case_id)
    report = explainer_for(heart_bundle).explain(case)
    with open_trail() as trail:
        entry = record_display(
            trail, report, Viewer("dr.lee", "Dr. Ana Lee", "clinician"), audience="clinician"
        )
    key = load_signing_key(tmp_path / "signing.key.pem", create=True)

    def sign(key_used: SigningKey = key) -> bytes:
        return sign_report_file(
            report_html(report, "clinician"),
            file_kind="html",
            audience="clinician",
            report=report,
            entry=entry,
            key=key_used,
        )

    return tmp_path, entry, sign


def _verify(path):
    return CliRunner().invoke(main, ["report", "verify", str(path)])


def test_a_genuine_file_exits_0_and_the_check_is_recorded(signed_file):
    folder, entry, sign = signed_file
    path = folder / "report.html"
    path.write_bytes(sign())
    result = _verify(path)
    assert result.exit_code == 0, result.output
    assert "Genuine" in result.output and f"entry #{entry.seq} of this trail" in result.output
    with open_trail(create=False) as trail:
        record = trail.entries()[-1]
    assert record.action == "report_verified" and record.actor_role == "reviewer"
    detail = json.loads(record.detail_json)
    assert detail["verdict"] == "genuine" and detail["file_name"] == "report.html"


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ("text", 3, "visible text"),
        ("key", 4, "not a report key of this CaseLens"),
        ("unsigned", 3, "never signed"),
    ],
)
def test_other_verdicts_exit_non_zero_with_their_sentence(signed_file, change, code, words):
    folder, _, sign = signed_file
    data = sign(SigningKey.generate()) if change == "key" else sign()
    if change == "text":
        data = data.replace(b"version)</h1>", b"versioN)</h1>", 1)
    if change == "unsigned":
        data = data[: data.rindex(b"\n", 0, -1) + 1]
    path = folder / "report.html"
    path.write_bytes(data)
    result = _verify(path)
    assert result.exit_code == code, result.output
    assert words in result.output


def test_a_missing_file_is_a_usage_error(signed_file):
    folder, _, _ = signed_file
    result = _verify(folder / "nothing.html")
    assert result.exit_code == 2 and "does not exist" in result.output
