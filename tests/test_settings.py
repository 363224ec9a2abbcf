"""One Settings reads every CASELENS_* variable: defaults, every variable, bad values, README."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caselens.settings import (
    MAX_CARE_TEAM_CONTACT_CHARS,
    MAX_SETTING_CHARS,
    PROJECT_ROOT,
    SAMPLE_MODELS_DIR,
    VARIABLES,
    Settings,
    SettingsError,
    environment,
    read_variable,
    settings_table,
)

ROOT = Path(__file__).resolve().parents[1]

# One value for every variable, and the field value it must give (the test fails if a
# variable is added to VARIABLES without a line here).
EVERY = {
    "CASELENS_DATA_DIR": ("/srv/caselens/data", Path("/srv/caselens/data")),
    "CASELENS_MODELS_DIR": ("/srv/caselens/models", Path("/srv/caselens/models")),
    "CASELENS_AUDIT_URL": ("postgresql://audit@db/trail", "postgresql://audit@db/trail"),
    "CASELENS_APP_DB_URL": ("postgresql://app@db/app", "postgresql://app@db/app"),
    "CASELENS_AUDIT_KEY": ("ab" * 32, "ab" * 32),
    "CASELENS_AUDIT_KEY_FILE": ("/keys/audit.key", Path("/keys/audit.key")),
    "CASELENS_SIGNING_KEY_FILE": ("/keys/signing.key.pem", Path("/keys/signing.key.pem")),
    "CASELENS_AUDIT_CHECKPOINTS": ("/logs/cp.jsonl", Path("/logs/cp.jsonl")),
    "CASELENS_AUDIT_WITNESS": ("postgresql://w@other/w", "postgresql://w@other/w"),
    "CASELENS_AUDIT_KEY_REGISTRY": ("/etc/caselens/keys", Path("/etc/caselens/keys")),
    "CASELENS_ALLOW_PICKLE": ("yes", True),
    "CASELENS_TRUSTED_BUNDLE_KEYS": (
        "/etc/caselens/publishers, /keys/vendor.pub.pem",
        (Path("/etc/caselens/publishers"), Path("/keys/vendor.pub.pem")),
    ),
    "CASELENS_REVOKED_BUNDLE_KEYS": ("0123456789ABCDEF", frozenset({"0123456789abcdef"})),
    "CASELENS_REQUIRE_SIGNED_BUNDLES": ("off", False),
    "CASELENS_TRUSTED_TYPES_FILE": ("/etc/caselens/types.toml", Path("/etc/caselens/types.toml")),
    "CASELENS_DEMO": ("1", True),
    "CASELENS_CARE_TEAM_CONTACT": ("Ward 4, 0123 456 789", "Ward 4, 0123 456 789"),
    "CASELENS_TRUSTED_PROXIES": ("127.0.0.1,::1", "127.0.0.1,::1"),
    "CASELENS_SIGN_IN_KEY_FILE": ("/keys/sign_in.key", Path("/keys/sign_in.key")),
    "CASELENS_ESTIMATE_FIRST": ("off", False),
    "CASELENS_ESTIMATE_FIRST_USERS": ("dr.lee=on", {"dr.lee": True}),
    "CASELENS_MONITOR_CHECK_SECONDS": ("90", 90.0),
    "CASELENS_FHIR_URL": ("https://ehr.example.org/fhir", "https://ehr.example.org/fhir"),
    "CASELENS_FHIR_CLIENT_ID": ("caselens", "caselens"),
    "CASELENS_FHIR_TOKEN_URL": ("https://ehr.example.org/token", "https://ehr.example.org/token"),
    "CASELENS_FHIR_PRIVATE_KEY_FILE": ("/keys/fhir.pem", Path("/keys/fhir.pem")),
    "CASELENS_FHIR_KEY_ID": ("key-1", "key-1"),
    "CASELENS_CDS_URL": ("https://cds.example.org", "https://cds.example.org"),
    "CASELENS_CDS_ISSUERS": ("/etc/caselens/ehrs.json", Path("/etc/caselens/ehrs.json")),
    "CASELENS_APP_URL": ("https://caselens.example.org", "https://caselens.example.org"),
    "CASELENS_SMART_CLIENT_ID": ("caselens", "caselens"),
    "CASELENS_SMART_ISSUER": ("https://ehr.example.org/fhir", "https://ehr.example.org/fhir"),
    "CASELENS_SMART_AUTHORIZE_URL": (
        "https://ehr.example.org/auth",
        "https://ehr.example.org/auth",
    ),
    "CASELENS_SMART_TOKEN_URL": ("https://ehr.example.org/token", "https://ehr.example.org/token"),
    "CASELENS_SMART_JWKS_FILE": ("/etc/caselens/ehr.jwks", Path("/etc/caselens/ehr.jwks")),
    "CASELENS_SMART_USERS_FILE": ("/etc/caselens/users.json", Path("/etc/caselens/users.json")),
    "CASELENS_SMART_ID_TOKEN_ISSUER": ("https://ehr.example.org", "https://ehr.example.org"),
    "CASELENS_SMART_SCOPES": ("launch openid", "launch openid"),
    "CASELENS_CHROMIUM": ("/opt/chromium", Path("/opt/chromium")),
    "CASELENS_BENCH_VERBOSE": ("on", True),
    "CASELENS_FHIR_TOKEN_FILE": ("/etc/caselens/fhir.token", Path("/etc/caselens/fhir.token")),
}


def test_every_variable_fills_its_own_field():
    assert set(EVERY) == {v.name for v in VARIABLES}
    settings = Settings.from_environment({name: text for name, (text, _) in EVERY.items()})
    by_name = {v.name: v.field for v in VARIABLES}
    for name, (_, expected) in EVERY.items():
        assert getattr(settings, by_name[name]) == expected, name
    assert settings.estimate_first_error is None
    assert settings.sign_in_key_path == Path("/keys/sign_in.key")
    assert "ab" * 32 not in repr(settings)  # the audit key is a secret


def test_defaults_when_nothing_is_set():
    settings = Settings.from_environment({})
    assert settings.data_dir == (Path.cwd() / ".caselens-data").resolve()
    assert settings.models_dir == SAMPLE_MODELS_DIR
    assert settings.allow_pickle is False and settings.demo is False
    assert settings.app_db_url is None and settings.audit_url is None
    assert settings.sign_in_key_path == settings.data_dir / "sign_in.key"
    assert settings.estimate_first is True and dict(settings.estimate_first_users) == {}
    assert settings.monitor_check is None
    assert settings.care_team_contact_for("es") is None
    assert settings.chromium == Path("/usr/bin/chromium")
    assert settings.audit_environment() == {"CASELENS_DATA_DIR": str(settings.data_dir)}
    # Empty or blank values are unset, not "".
    assert Settings.from_environment({"CASELENS_APP_DB_URL": "  "}).app_db_url is None


def test_only_caselens_variables_are_read():
    assert environment({"HOME": "/root", "CASELENS_DEMO": "1"}) == {"CASELENS_DEMO": "1"}
    assert Settings.from_environment({"DEMO": "1"}).demo is False


def test_the_audit_settings_reach_the_audit_readers():
    settings = Settings.from_environment(
        {name: EVERY[name][0] for name in EVERY if name.startswith("CASELENS_AUDIT_")}
        | {"CASELENS_DATA_DIR": "/d"}
    )
    assert settings.audit_environment() == {
        "CASELENS_DATA_DIR": "/d",
        "CASELENS_AUDIT_URL": "postgresql://audit@db/trail",
        "CASELENS_AUDIT_KEY": "ab" * 32,
        "CASELENS_AUDIT_KEY_FILE": "/keys/audit.key",
        "CASELENS_AUDIT_CHECKPOINTS": "/logs/cp.jsonl",
        "CASELENS_AUDIT_WITNESS": "postgresql://w@other/w",
        "CASELENS_AUDIT_KEY_REGISTRY": "/etc/caselens/keys",
    }


def test_care_team_contact_by_language_falls_back_to_the_general_one():
    settings = Settings.from_environment(
        {
            "CASELENS_CARE_TEAM_CONTACT": "Call 111",
            "CASELENS_CARE_TEAM_CONTACT_ES": " Llame al 222 ",
            "CASELENS_CARE_TEAM_CONTACT_FR": "",
        }
    )
    assert settings.care_team_contact_for("es") == "Llame al 222"
    assert settings.care_team_contact_for("fr") == "Call 111"
    assert settings.care_team_contact_for("en") == "Call 111"
    long = Settings.from_environment({"CASELENS_CARE_TEAM_CONTACT": "x" * 2_000})
    assert long.care_team_contact == "x" * MAX_CARE_TEAM_CONTACT_CHARS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CASELENS_ALLOW_PICKLE", "sometimes", r"^CASELENS_ALLOW_PICKLE: expected on or off"),
        ("CASELENS_DEMO", "2", r"^CASELENS_DEMO: expected on or off, got '2'"),
        ("CASELENS_REVOKED_BUNDLE_KEYS", "abc", r"^CASELENS_REVOKED_BUNDLE_KEYS: expected key"),
        ("CASELENS_REQUIRE_SIGNED_BUNDLES", "maybe", r"^CASELENS_REQUIRE_SIGNED_BUNDLES: expected"),
        ("CASELENS_BENCH_VERBOSE", "loud", r"^CASELENS_BENCH_VERBOSE: expected on or off"),
        ("CASELENS_MONITOR_CHECK_SECONDS", "soon", r"^CASELENS_MONITOR_CHECK_SECONDS: expected"),
        ("CASELENS_MONITOR_CHECK_SECONDS", "0", r"between 1 and 86400, or off, got '0'"),
        ("CASELENS_MONITOR_CHECK_SECONDS", "86401", r"between 1 and 86400"),
        ("CASELENS_MONITOR_CHECK_SECONDS", "nan", r"between 1 and 86400"),
        ("CASELENS_DATA_DIR", "d" * (MAX_SETTING_CHARS + 1), r"^CASELENS_DATA_DIR: longer than"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_expected(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment({name: value})
    with pytest.raises(SettingsError, match=message):
        read_variable(name, {name: value})


def test_a_long_bad_value_is_shortened_in_the_message():
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"CASELENS_DEMO": "y" * 500})
    assert "y" * 41 not in str(raised.value) and "…" in str(raised.value)


def test_monitor_check_off_and_switch_words_in_any_case():
    assert Settings.from_environment({"CASELENS_MONITOR_CHECK_SECONDS": "OFF"}).monitor_check == (
        "off"
    )
    for word, value in (("TRUE", True), ("On", True), ("no", False), ("0", False)):
        assert Settings.from_environment({"CASELENS_ALLOW_PICKLE": word}).allow_pickle is value


def test_a_bad_estimate_first_value_is_kept_for_the_case_page_not_raised():
    settings = Settings.from_environment(
        {"CASELENS_ESTIMATE_FIRST_USERS": "dr.lee=maybe", "CASELENS_DEMO": "1"}
    )
    assert settings.demo is True  # every other setting is read
    assert not settings.estimate_first_for("rev.kim", "reviewer")
    with pytest.raises(SettingsError, match=r"^CASELENS_ESTIMATE_FIRST_USERS \(dr.lee\)"):
        settings.estimate_first_for("dr.lee", "clinician")


@given(st.floats(min_value=1, max_value=86_400))
def test_any_seconds_in_range_read_back(seconds):
    text = repr(seconds)
    assert Settings.from_environment({"CASELENS_MONITOR_CHECK_SECONDS": text}).monitor_check == (
        seconds
    )


@given(st.text(max_size=60))
def test_any_switch_text_is_read_or_refused_by_name(text):
    try:
        value = Settings.from_environment({"CASELENS_DEMO": text}).demo
    except SettingsError as exc:
        assert str(exc).startswith("CASELENS_DEMO: expected on or off")
    else:
        assert value is (text.strip().lower() in {"on", "1", "true", "yes"})


def test_signed_bundles_are_required_outside_demo_mode_unless_the_operator_says_otherwise():
    assert Settings().signed_bundles_required is True
    assert Settings(demo=True).signed_bundles_required is False
    required = {"CASELENS_DEMO": "1", "CASELENS_REQUIRE_SIGNED_BUNDLES": "on"}
    assert Settings.from_environment(required).signed_bundles_required is True
    waived = {"CASELENS_REQUIRE_SIGNED_BUNDLES": "off"}
    assert Settings.from_environment(waived).signed_bundles_required is False


def test_every_field_but_the_derived_ones_has_a_variable():
    filled = {v.field for v in VARIABLES}
    derived = {"estimate_first_error", "care_team_contacts"}
    assert {f.name for f in fields(Settings)} == filled | derived
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)
    assert all(v.name.startswith("CASELENS_") and v.meaning for v in VARIABLES)


def test_readme_settings_table_is_generated_from_the_variables():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    assert settings_table() in section
    listed = re.findall(r"^\| `(CASELENS_[A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert listed == [v.name for v in VARIABLES]


def test_only_settings_reads_the_process_environment():
    # Allowed: settings.py itself, and a benchmark passing its environment on to a child
    # process (marked on its line).
    pending = ()
    found = []
    for path in [*(PROJECT_ROOT / "src").rglob("*.py"), *(PROJECT_ROOT / "app").rglob("*.py")]:
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if relative == "src/caselens/settings.py" or relative.startswith(pending):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"os\.environ|getenv", line) and "the child's environment" not in line:
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []
