"""The operator's CASELENS_SMART_* settings as the engine's SmartLaunchConfig: none, whole, or
refused with the variable or file named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caselens.fhir import LAUNCH_PATH, SmartLaunchError, smart_config_from_settings
from caselens.fhir.smart_launch import DEFAULT_SCOPES
from caselens.runtime import Runtime
from caselens.settings import Settings

EHR = "https://ehr.example.org/fhir"


def _env(tmp_path: Path, users: object = None) -> dict[str, str]:
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps(users if users is not None else {"Practitioner/123": "dr.lee"}),
        encoding="utf-8",
    )
    return {
        "CASELENS_APP_URL": "https://caselens.example.org/",
        "CASELENS_SMART_CLIENT_ID": "caselens",
        "CASELENS_SMART_ISSUER": EHR + "/",
        "CASELENS_SMART_AUTHORIZE_URL": "https://ehr.example.org/auth",
        "CASELENS_SMART_TOKEN_URL": "https://ehr.example.org/token",
        "CASELENS_SMART_JWKS_FILE": str(tmp_path / "ehr.jwks"),
        "CASELENS_SMART_USERS_FILE": str(users_file),
    }


def test_no_smart_variable_is_no_smart_sign_in():
    assert smart_config_from_settings(Settings.from_environment({})) is None


def test_whole_settings_are_one_ehr_with_the_apps_launch_path(tmp_path):
    config = smart_config_from_settings(Settings.from_environment(_env(tmp_path)))
    assert config.redirect_uri == "https://caselens.example.org" + LAUNCH_PATH
    assert config.issuer == EHR and config.scopes == DEFAULT_SCOPES
    assert dict(config.fhir_user_roles) == {"Practitioner/123": "dr.lee"}
    narrower = {**_env(tmp_path), "CASELENS_SMART_SCOPES": "launch openid fhirUser"}
    assert smart_config_from_settings(Settings.from_environment(narrower)).scopes == (
        "launch",
        "openid",
        "fhirUser",
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"CASELENS_SMART_TOKEN_URL": ""}, "set CASELENS_SMART_TOKEN_URL as well"),
        ({"CASELENS_APP_URL": ""}, "CASELENS_APP_URL is unset"),
        ({"CASELENS_SMART_SCOPES": "launch patient/*.rs"}, "not narrow read scopes"),
        ({"CASELENS_SMART_SCOPES": "patient/Observation.write"}, "not narrow read scopes"),
        ({"CASELENS_SMART_AUTHORIZE_URL": "http://ehr.example.org/auth"}, "must be an https"),
        ({"CASELENS_SMART_USERS_FILE": "/no/such/users.json"}, "cannot be read"),
    ],
)
def test_settings_that_cannot_be_used_name_what_is_wrong(tmp_path, change, words):
    env = {**_env(tmp_path), **change}
    with pytest.raises(SmartLaunchError, match=words):
        smart_config_from_settings(Settings.from_environment(env))


@pytest.mark.parametrize(
    ("users", "words"),
    [
        (["Practitioner/123"], "expected a JSON object"),
        ({"Patient/1": "dr.lee"}, "'Patient/1' is not a fhirUser reference"),
        ({"Practitioner/123": "<b>x</b>"}, "not a CaseLens user name"),
        ({"Practitioner/123": 7}, "not a CaseLens user name"),
    ],
)
def test_a_users_file_that_is_not_fhir_user_to_user_name_is_refused(tmp_path, users, words):
    with pytest.raises(SmartLaunchError, match=f"CASELENS_SMART_USERS_FILE .*{words}"):
        smart_config_from_settings(Settings.from_environment(_env(tmp_path, users)))


def test_unusable_settings_leave_password_sign_in_and_say_why(tmp_path):
    env = {**_env(tmp_path), "CASELENS_SMART_TOKEN_URL": "", "CASELENS_DATA_DIR": str(tmp_path)}
    runtime = Runtime.from_settings(Settings.from_environment(env), background=False)
    try:
        workflow = runtime.workflow
        assert not workflow.smart_sign_in_available
        assert "CASELENS_SMART_TOKEN_URL" in workflow.smart_problem
    finally:
        runtime.close()
