"""Every operator setting, read from the environment in this one place.

Each ``CASELENS_*`` variable is one :class:`Variable` in :data:`VARIABLES` — its name, the
:class:`Settings` field it fills, its default and its one-line meaning — and README's
"Settings" table is generated from the same table (``python -m caselens.settings``; a test
keeps them equal). :meth:`Settings.from_environment` reads them all; other modules take the
values as arguments (``caselens.runtime`` hands them on). A value that cannot be read raises
:class:`SettingsError` naming the variable and what is expected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from caselens.errors import CaseLensError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MODELS_DIR = PROJECT_ROOT / "sample_models"
ASSETS_DIR = PROJECT_ROOT / "assets"
#: The data folder when ``CASELENS_DATA_DIR`` is unset (relative to the working directory).
DEFAULT_DATA_DIR = ".caselens-data"
#: Estimate-first is on for clinicians unless the site or the user's entry says otherwise:
#: a number seen before one's own judgement anchors it (docs/clinician-screen.md).
ESTIMATE_FIRST_DEFAULT = True
_SWITCH_WORDS = {"on": True, "1": True, "true": True, "yes": True}
_SWITCH_WORDS |= {"off": False, "0": False, "false": False, "no": False}
#: Longest per-user exceptions list read (a bounded operator setting).
MAX_ESTIMATE_FIRST_USERS_CHARS = 20_000
#: Longest value of any other setting read (paths, URLs, names): bounded operator input.
MAX_SETTING_CHARS = 4_096
#: Longest care-team contact shown (a phone number, an address, opening hours).
MAX_CARE_TEAM_CONTACT_CHARS = 500
#: The scheduled monitoring check's bounds, in seconds: at most once a second, at least daily.
MONITOR_CHECK_SECONDS_RANGE = (1.0, 86_400.0)
#: Length of a signing key id (16 hex digits of SHA-256 over the raw public key).
KEY_ID_CHARS = 16
#: The demo publisher's public key that signs the sample bundles (trusted in demo mode only:
#: its private key is committed, so anyone can sign with it).
DEMO_PUBLISHER_KEY = SAMPLE_MODELS_DIR / "demo-publisher.pub.pem"
#: The prefix of every CaseLens variable; only these are read.
PREFIX = "CASELENS_"
#: Per-language care-team contacts: ``CASELENS_CARE_TEAM_CONTACT_ES`` and so on.
CARE_TEAM_CONTACT_VARIABLE = "CASELENS_CARE_TEAM_CONTACT"


class SettingsError(CaseLensError):
    """An operator setting that cannot be read; the message names the variable."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _switch(variable: str, text: str) -> bool:
    value = _SWITCH_WORDS.get(text.strip().lower())
    if value is None:
        raise SettingsError(f"{variable}: expected on or off, got {_shown(text)}.")
    return value


def parse_estimate_first_users(text: str) -> dict[str, bool]:
    """``"dr.lee=off, dr.ng=on"`` → ``{"dr.lee": False, "dr.ng": True}``.

    Raises
    ------
    SettingsError
        Naming ``CASELENS_ESTIMATE_FIRST_USERS`` and the entry that is not ``user=on|off``.
    """
    variable = "CASELENS_ESTIMATE_FIRST_USERS"
    if len(text) > MAX_ESTIMATE_FIRST_USERS_CHARS:
        raise SettingsError(
            f"{variable}: longer than {MAX_ESTIMATE_FIRST_USERS_CHARS:,} characters."
        )
    users: dict[str, bool] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        user, sep, value = entry.partition("=")
        if not sep or not user.strip():
            raise SettingsError(f"{variable}: expected user=on or user=off, got {_shown(entry)}.")
        users[user.strip()] = _switch(f"{variable} ({user.strip()})", value)
    return users


def _text(variable: str, text: str) -> str:
    return text


def _path(variable: str, text: str) -> Path:
    return Path(text)


def _resolved_path(variable: str, text: str) -> Path:
    return Path(text).resolve()


def _monitor_check(variable: str, text: str) -> float | Literal["off"]:
    low, high = MONITOR_CHECK_SECONDS_RANGE
    if text.lower() == "off":
        return "off"
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # also refuses nan and inf
        raise SettingsError(
            f"{variable}: expected seconds between {low:g} and {high:g}, or off, got "
            f"{_shown(text)}."
        )
    return seconds


def _paths(variable: str, text: str) -> tuple[Path, ...]:
    """A comma-separated list of paths (files or folders)."""
    return tuple(Path(part.strip()) for part in text.split(",") if part.strip())


def _key_ids(variable: str, text: str) -> frozenset[str]:
    """A comma-separated list of signing key ids (16 hex digits each)."""
    ids = [part.strip().lower() for part in text.split(",") if part.strip()]
    for key_id in ids:
        if len(key_id) != KEY_ID_CHARS or any(c not in "0123456789abcdef" for c in key_id):
            raise SettingsError(
                f"{variable}: expected key ids of {KEY_ID_CHARS} hex digits separated by "
                f"commas, got {_shown(key_id)}."
            )
    return frozenset(ids)


def _contact(variable: str, text: str) -> str:
    return text[:MAX_CARE_TEAM_CONTACT_CHARS]


@dataclass(frozen=True)
class Variable:
    """One ``CASELENS_*`` environment variable: the field it fills, how it is read, and
    the default and meaning README's Settings table shows."""

    name: str
    field: str
    #: ``(variable name, stripped text) → value``; raises SettingsError for a bad value.
    parse: Callable[[str, str], Any]
    #: The default as README shows it (the field's own default is the value used).
    default: str
    meaning: str
    #: Read with no bound on length (the per-user list has its own bound).
    unbounded: bool = False


# One row per variable; the README table is generated from these rows (a long table).
VARIABLES: tuple[Variable, ...] = (
    Variable("CASELENS_DATA_DIR", "data_dir", _resolved_path, "`./.caselens-data`",
             "audit store and server key"),
    Variable("CASELENS_MODELS_DIR", "models_dir", _resolved_path, "`sample_models/`",
             "folder of bundles the app offers"),
    Variable("CASELENS_AUDIT_URL", "audit_url", _text, "SQLite file in the data dir",
             "e.g. `postgresql+psycopg://user@host/db`"),
    Variable("CASELENS_APP_DB_URL", "app_db_url", _text, "`app.sqlite` in the data dir",
             "accounts, sign-in throttle and model status; share one database between app "
             "servers"),
    Variable("CASELENS_AUDIT_KEY", "audit_key", _text, "generated into `audit.key` (mode 0600)",
             "hex HMAC key, kept outside the database"),
    Variable("CASELENS_AUDIT_KEY_FILE", "audit_key_file", _path, "`$CASELENS_DATA_DIR/audit.key`",
             "where the key file is (retired keys sit beside it)"),
    Variable("CASELENS_AUDIT_CHECKPOINTS", "audit_checkpoints", _path,
             "`$CASELENS_DATA_DIR/audit.checkpoints.jsonl`",
             "signed checkpoints, outside the database"),
    Variable("CASELENS_AUDIT_WITNESS", "audit_witness", _text,
             "`$CASELENS_DATA_DIR/audit.witness.sqlite`",
             "the witness: a SQLite path, or a `postgresql://role@host/db` URL whose role may "
             "only INSERT/SELECT (`caselens audit witness-sql`)"),
    Variable("CASELENS_AUDIT_KEY_REGISTRY", "audit_key_registry", _path,
             "none (then no key rotation is valid)",
             "the operator's key registry file (`KEY_ID from ENTRY` lines), kept outside the "
             "data folder"),
    Variable("CASELENS_SIGNING_KEY_FILE", "signing_key_file", _path,
             "`$CASELENS_DATA_DIR/signing.key.pem` (created in demo mode)",
             "the Ed25519 private key (PKCS#8 PEM, mode 0600) that signs files leaving "
             "CaseLens; retired public keys sit beside it"),
    Variable("CASELENS_TRUSTED_BUNDLE_KEYS", "trusted_bundle_keys", _paths,
             "none (in demo mode: the demo publisher key)",
             "publisher public keys (Ed25519 PEM) whose signed bundles load: files or folders of "
             "`*.pem`, separated by commas ([bundle signing](docs/bundle-signing.md))"),
    Variable("CASELENS_REVOKED_BUNDLE_KEYS", "revoked_bundle_keys", _key_ids, "none",
             "publisher key ids (16 hex digits, comma-separated) refused whatever they signed"),
    Variable("CASELENS_REQUIRE_SIGNED_BUNDLES", "require_signed_bundles", _switch,
             "on outside demo mode, off in demo mode",
             "refuse a bundle that is unsigned, changed after signing, or signed by a key not "
             "trusted or revoked"),
    Variable("CASELENS_ALLOW_PICKLE", "allow_pickle", _switch, "off",
             "allow pickle/joblib model files (trusted files only)"),
    Variable("CASELENS_TRUSTED_TYPES_FILE", "trusted_types_file", _path,
             "none (the built-in list only)",
             "the operator's file of extra names a model file may use (README: what a bundle "
             "may contain)"),
    Variable("CASELENS_DEMO", "demo", _switch, "off (`make run` sets 1)",
             "seed demo accounts and list them on the sign-in page"),
    Variable(CARE_TEAM_CONTACT_VARIABLE, "care_team_contact", _contact,
             "none: patient pages refused outside demo mode",
             "how patients reach their care team (phone, hours); `CASELENS_CARE_TEAM_CONTACT_ES` "
             "/ `_FR` for patients reading that language"),
    Variable("CASELENS_TRUSTED_PROXIES", "trusted_proxies", _text, "none",
             "comma-separated addresses or networks (e.g. `127.0.0.1,::1`) of reverse proxies "
             "whose `Forwarded`/`X-Forwarded-For` names the client for the sign-in throttle; "
             "from anyone else those headers are ignored"),
    Variable("CASELENS_SIGN_IN_KEY_FILE", "sign_in_key_file", _resolved_path,
             "`$CASELENS_DATA_DIR/sign_in.key` (created, mode 0600)",
             "key that signs the device and session cookies; servers sharing an app database "
             "share this file"),
    Variable("CASELENS_ESTIMATE_FIRST", "estimate_first", _switch, "`on`",
             "clinicians record their own estimate (or skip it, recorded) before the report is "
             "shown ([why](docs/clinician-screen.md))"),
    Variable("CASELENS_ESTIMATE_FIRST_USERS", "estimate_first_users",
             lambda _name, text: parse_estimate_first_users(text), "empty",
             "per-user exceptions, e.g. `dr.lee=off,dr.ng=on`", unbounded=True),
    Variable("CASELENS_MONITOR_CHECK_SECONDS", "monitor_check", _monitor_check,
             "600 (the engine's ten minutes)",
             "seconds (1 to 86400) between the app's scheduled monitoring checks, or `off` "
             "where `caselens monitor check` runs from cron"),
    Variable("CASELENS_FHIR_URL", "fhir_url", _text,
             "none (no record fetch; results are downloaded only)",
             "the FHIR R4 server (its base URL) a case's record is read from and results are "
             "sent to as a transaction (https; plain http only to this machine) "
             "([FHIR results](docs/fhir-results.md))"),
    Variable("CASELENS_FHIR_TOKEN_FILE", "fhir_token_file", _resolved_path, "none (no token sent)",
             "file holding the bearer token for that server (one line; read at each use, "
             "never logged)"),
    Variable("CASELENS_FHIR_CLIENT_ID", "fhir_client_id", _text, "none",
             "SMART Backend Services: CaseLens's client id at the server's authorization "
             "server (with the next three, instead of a token)"),
    Variable("CASELENS_FHIR_TOKEN_URL", "fhir_token_url", _text, "none",
             "SMART Backend Services: the token endpoint"),
    Variable("CASELENS_FHIR_PRIVATE_KEY_FILE", "fhir_private_key_file", _path, "none",
             "SMART Backend Services: the PEM private key (RSA → RS384, EC P-384 → ES384) that "
             "signs the client assertion"),
    Variable("CASELENS_FHIR_KEY_ID", "fhir_key_id", _text, "none",
             "SMART Backend Services: the key's `kid` in the JWKS registered with the server"),
    Variable("CASELENS_CDS_URL", "cds_url", _text, "none (`serve-cds` refuses to start)",
             "the CDS Hooks service's public base URL, e.g. `https://cds.example.org`: a JWT's "
             "`aud` must be this URL + `/cds-services/<id>` ([CDS Hooks](docs/cds-hooks.md))"),
    Variable("CASELENS_CDS_ISSUERS", "cds_issuers_file", _resolved_path,
             "none (every call is refused with 401)",
             "JSON file of the EHRs trusted to call the CDS service: each issuer (`iss`) and "
             "its JWKS file"),
    Variable("CASELENS_APP_URL", "app_url", _text, "none (cards carry no links)",
             "the app's public URL, for a CDS card's links to the report and Model facts; with "
             "SMART, the EHR's launch URL is it + `/_caselens/launch`, the redirect URI + "
             "`/launch`"),
    Variable("CASELENS_SMART_CLIENT_ID", "smart_client_id", _text,
             "none (no sign-in with the EHR)",
             "SMART App Launch: CaseLens's client id at the EHR; with the next four (and "
             "`CASELENS_APP_URL`) the sign-in page offers \"Sign in with the EHR\" "
             "([SMART launch](docs/smart-launch.md))"),
    Variable("CASELENS_SMART_ISSUER", "smart_issuer", _text, "none",
             "SMART App Launch: the EHR's FHIR base URL (the launch's `iss`, the `aud` asked "
             "for, and where the launched patient's record is read with the clinician's token)"),
    Variable("CASELENS_SMART_AUTHORIZE_URL", "smart_authorize_url", _text, "none",
             "SMART App Launch: the EHR's authorize endpoint"),
    Variable("CASELENS_SMART_TOKEN_URL", "smart_token_url", _text, "none",
             "SMART App Launch: the EHR's token endpoint"),
    Variable("CASELENS_SMART_JWKS_FILE", "smart_jwks_file", _resolved_path, "none",
             "SMART App Launch: JWKS file of the keys the EHR signs id_tokens with (never "
             "fetched from a URL the token names)"),
    Variable("CASELENS_SMART_USERS_FILE", "smart_users_file", _resolved_path, "none",
             "SMART App Launch: JSON object mapping the id_token's `fhirUser` "
             "(`Practitioner/123`) to a CaseLens clinician's user name"),
    Variable("CASELENS_SMART_ID_TOKEN_ISSUER", "smart_id_token_issuer", _text,
             "`CASELENS_SMART_ISSUER`",
             "SMART App Launch: the `iss` of the EHR's id_tokens, when it is not the FHIR base"),
    Variable("CASELENS_SMART_SCOPES", "smart_scopes", _text,
             "`launch openid fhirUser` + `patient/<type>.rs` for Patient, Observation, "
             "Condition, Encounter, MedicationRequest",
             "SMART App Launch: the scopes asked for, space-separated (read scopes only: a "
             "write or `*` scope is refused)"),
    Variable("CASELENS_CHROMIUM", "chromium", _path, "`/usr/bin/chromium`",
             "the Chromium the browser tests and `caselens bench app` drive"),
    Variable("CASELENS_BENCH_VERBOSE", "bench_verbose", _switch, "off",
             "`caselens bench app` prints each timed click"),
)  # fmt: skip
_BY_NAME = {v.name: v for v in VARIABLES}
#: The estimate-first variables: a bad value is kept as an error for the Case page, not
#: raised, so every other page still works (see Settings.estimate_first_error).
_DEFERRED = ("CASELENS_ESTIMATE_FIRST", "CASELENS_ESTIMATE_FIRST_USERS")


def environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``CASELENS_*`` variables of ``env`` (default: this process's environment).

    This is the one place CaseLens reads the process environment; a module that still takes
    an environment mapping for its defaults gets it from here.
    """
    source = os.environ if env is None else env
    return {k: v for k, v in source.items() if k.startswith(PREFIX)}


def read_variable(name: str, env: Mapping[str, str] | None = None) -> Any:
    """One variable's value as :class:`Settings` reads it, or None when it is unset or empty.

    Raises
    ------
    SettingsError
        Naming the variable, when its value is not what is expected.
    """
    variable = _BY_NAME[name]
    raw = environment(env).get(name, "").strip()
    if not raw:
        return None
    if len(raw) > MAX_SETTING_CHARS and not variable.unbounded:
        raise SettingsError(f"{name}: longer than {MAX_SETTING_CHARS:,} characters.")
    return variable.parse(name, raw)


def _care_team_contacts(env: Mapping[str, str]) -> dict[str, str]:
    """``CASELENS_CARE_TEAM_CONTACT_<LANG>`` → ``{"es": ...}`` (set, non-empty ones)."""
    stem = CARE_TEAM_CONTACT_VARIABLE + "_"
    contacts = {}
    for name, value in env.items():
        language = name.removeprefix(stem)
        if name.startswith(stem) and language.isalpha() and value.strip():
            contacts[language.lower()] = value.strip()[:MAX_CARE_TEAM_CONTACT_CHARS]
    return contacts


@dataclass(frozen=True)
class Settings:
    """Operator settings for one process (see :data:`VARIABLES` for each field's variable)."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).resolve())
    models_dir: Path = SAMPLE_MODELS_DIR
    allow_pickle: bool = False
    #: The app database URL; None means ``<data_dir>/app.sqlite``.
    app_db_url: str | None = None
    #: Reverse proxies trusted to name the client (``CASELENS_TRUSTED_PROXIES``, as text).
    trusted_proxies: str = ""
    #: The sign-in key file; None means ``<data_dir>/sign_in.key``.
    sign_in_key_file: Path | None = None
    #: The site's estimate-first default for clinicians, and per-user exceptions.
    estimate_first: bool = ESTIMATE_FIRST_DEFAULT
    estimate_first_users: Mapping[str, bool] = field(default_factory=dict)
    #: Why the estimate-first settings could not be read (None when they could): kept, not
    #: raised, so every other page still works and the Case page names the variable.
    estimate_first_error: str | None = None
    #: The audit trail's database URL; None means ``<data_dir>/audit.sqlite``.
    audit_url: str | None = None
    #: The audit key as hex (a secret: never shown); None means the key file.
    audit_key: str | None = field(default=None, repr=False)
    audit_key_file: Path | None = None
    audit_checkpoints: Path | None = None
    audit_witness: str | None = None
    audit_key_registry: Path | None = None
    #: The Ed25519 signing key file; None means ``<data_dir>/signing.key.pem``.
    signing_key_file: Path | None = None
    trusted_types_file: Path | None = None
    #: Trusted bundle publisher keys: PEM files or folders of them.
    trusted_bundle_keys: tuple[Path, ...] = ()
    #: Publisher key ids refused whatever they signed.
    revoked_bundle_keys: frozenset[str] = frozenset()
    #: Whether bundles must be signed by a trusted key; None: on outside demo mode.
    require_signed_bundles: bool | None = None
    demo: bool = False
    #: How patients reach their care team; None outside demo mode refuses patient pages.
    care_team_contact: str | None = None
    #: Per-language contacts (``CASELENS_CARE_TEAM_CONTACT_ES`` → ``{"es": ...}``).
    care_team_contacts: Mapping[str, str] = field(default_factory=dict)
    #: Seconds between scheduled monitoring checks, ``"off"``, or None for the engine's own.
    monitor_check: float | Literal["off"] | None = None
    #: The CDS Hooks service's public base URL (the JWT audience's stem); None: not served.
    cds_url: str | None = None
    #: The file of EHR issuers trusted by the CDS service and their JWKS files.
    cds_issuers_file: Path | None = None
    #: The app's public URL, for links on CDS cards; None: cards carry no links.
    app_url: str | None = None
    chromium: Path = Path("/usr/bin/chromium")
    bench_verbose: bool = False
    #: The FHIR server a record is read from and results are sent to, and how CaseLens signs
    #: in to it (caselens.fhir.server_fetch.access_from_settings).
    fhir_url: str | None = None
    fhir_token_file: Path | None = None
    fhir_client_id: str | None = None
    fhir_token_url: str | None = None
    fhir_private_key_file: Path | None = None
    fhir_key_id: str | None = None
    #: SMART App Launch with one EHR (caselens.fhir.smart_settings.smart_config_from_settings);
    #: the redirect URI is ``app_url`` + ``/launch``.
    smart_client_id: str | None = None
    smart_issuer: str | None = None
    smart_authorize_url: str | None = None
    smart_token_url: str | None = None
    smart_jwks_file: Path | None = None
    smart_users_file: Path | None = None
    smart_id_token_issuer: str | None = None
    smart_scopes: str | None = None

    @property
    def signed_bundles_required(self) -> bool:
        """Whether a bundle must be signed by a trusted key to load: the operator's setting,
        else on outside demo mode (docs/bundle-signing.md says why)."""
        if self.require_signed_bundles is not None:
            return self.require_signed_bundles
        return not self.demo

    @property
    def sign_in_key_path(self) -> Path:
        """The sign-in key file in use."""
        return self.sign_in_key_file or self.data_dir / "sign_in.key"

    def estimate_first_for(self, user_id: str, role: str) -> bool:
        """Whether this user must record their own estimate (or skip it) before the model's
        result is shown: clinicians only; the user's exception, else the site default.

        Raises
        ------
        SettingsError
            For a clinician, when the estimate-first settings could not be read (the
            message names the variable and what is expected).
        """
        if role != "clinician":
            return False
        if self.estimate_first_error is not None:
            raise SettingsError(self.estimate_first_error)
        return self.estimate_first_users.get(user_id, self.estimate_first)

    def care_team_contact_for(self, language: str = "en") -> str | None:
        """How patients reading ``language`` reach their care team: that language's contact,
        else the general one; None when neither is set."""
        return self.care_team_contacts.get(language.lower()) or self.care_team_contact

    def audit_environment(self) -> dict[str, str]:
        """These settings as the audit trail's readers take them (``caselens.audit``'s
        ``open_trail(env=...)``, ``default_location``, ``default_key_file``)."""
        values = {"CASELENS_DATA_DIR": str(self.data_dir)}
        for variable in VARIABLES:
            if variable.name.startswith("CASELENS_AUDIT_"):
                value = getattr(self, variable.field)
                if value is not None:
                    values[variable.name] = str(value)
        return values

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every ``CASELENS_*`` variable of ``env`` (default: the process environment).

        Unset or empty variables keep their defaults.

        Raises
        ------
        SettingsError
            Naming the first variable whose value is not what is expected (the
            estimate-first variables are kept in :attr:`estimate_first_error` instead).
        """
        env = environment(env)
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            if variable.name in _DEFERRED:
                continue
            value = read_variable(variable.name, env)
            if value is not None:
                values[variable.field] = value
        try:
            for name in _DEFERRED:
                value = read_variable(name, env)
                if value is not None:
                    values[_BY_NAME[name].field] = value
        except SettingsError as exc:
            values.pop("estimate_first", None)
            values["estimate_first_error"] = str(exc)
        return cls(care_team_contacts=_care_team_contacts(env), **values)

    @classmethod
    def from_env(cls) -> Settings:
        """The process environment's settings (the older name of :meth:`from_environment`)."""
        return cls.from_environment()


def settings_table() -> str:
    """README's "Settings" table (Markdown), one row per :data:`VARIABLES` entry."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(rows) + "\n"


def _fields_without_variable() -> set[str]:
    """Settings fields no variable fills (derived or fixed): for the consistency test."""
    return {f.name for f in fields(Settings)} - {v.field for v in VARIABLES}


if __name__ == "__main__":  # python -m caselens.settings: print README's Settings table
    sys.stdout.write(settings_table())
