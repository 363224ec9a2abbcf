"""``caselens serve-cds`` refuses to start on a setting it cannot use, saying which."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from caselens.cli.main import main


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "CASELENS_CDS_URL: required"),
        ({"CASELENS_CDS_URL": "cds.example.org"}, "expected an http(s) URL"),
        (
            {"CASELENS_CDS_URL": "https://cds.example.org", "CASELENS_APP_URL": "ftp://x"},
            "CASELENS_APP_URL: expected an http(s) URL",
        ),
        (
            {
                "CASELENS_CDS_URL": "https://cds.example.org",
                "CASELENS_CDS_ISSUERS": "/nowhere.json",
            },
            "CDS issuers file /nowhere.json: cannot be read",
        ),
    ],
)
def test_a_setting_serve_cds_cannot_use_stops_it_with_its_name(tmp_path, env, expected):
    clean = {"CASELENS_DATA_DIR": str(tmp_path), "CASELENS_CDS_URL": "", "CASELENS_APP_URL": ""}
    result = CliRunner().invoke(main, ["serve-cds", "--port", "1"], env=clean | env)
    assert result.exit_code != 0
    assert expected in result.output and "Traceback" not in result.output
