"""Long-lived resources, cached once per server process (``st.cache_resource``).

Nothing here computes a result: it loads bundles, builds the engine's explainers (paying
their one-off costs at start-up) and opens the audit store.
"""

from __future__ import annotations

import os

import streamlit as st

from caselens.access import (
    AccountStore,
    ModelStatusStore,
    load_sign_in_key,
    open_app_database,
    seed_demo_accounts,
)
from caselens.audit import AuditStore, default_key_file, default_location, open_trail
from caselens.explain import CaseExplainer
from caselens.long_lived import freeze_long_lived
from caselens.model import BundleCatalogue, load_catalogue
from caselens.settings import Settings
from caselens.workflow import Workflow


@st.cache_resource(show_spinner="Loading model bundles…")
def catalogue() -> BundleCatalogue:
    """Load every bundle in the configured folder; a refused bundle is listed, not fatal."""
    settings = Settings.from_env()
    try:
        loaded = load_catalogue(settings.models_dir, allow_pickle=settings.allow_pickle)
    except Exception as exc:  # e.g. an unreadable models folder: list it, keep the app up
        return BundleCatalogue(bundles={}, refused={settings.models_dir.name: f"{exc}"})
    freeze_long_lived()  # later garbage collections skip the bundles (see caselens.long_lived)
    return loaded


@st.cache_resource(show_spinner="Preparing the explainer (one-off, at start-up)…")
def explainer(model_id: str) -> CaseExplainer:
    """The bundle's explainer, warmed up so the first clinician's click is fast."""
    built = CaseExplainer(catalogue().bundles[model_id])
    built.warm_up()
    freeze_long_lived()
    return built


@st.cache_resource(show_spinner=False)
def _open_store(location: str, key_file: str) -> AuditStore:
    # The arguments are the cache key; open_trail reads the same environment. It refuses a
    # trail whose key is missing rather than minting a new one.
    return open_trail()


def audit_store() -> AuditStore:
    """The audit trail (SQLite in the data folder, or ``CASELENS_AUDIT_URL``), opened once
    per location."""
    return _open_store(default_location(), str(default_key_file()))


@st.cache_resource(show_spinner=False)
def _open_app_database(data_dir: str, url: str | None):
    return open_app_database(data_dir, url)


def _app_database():
    """The app database (``CASELENS_APP_DB_URL``, else ``app.sqlite`` in the data folder),
    opened once per location."""
    settings = Settings.from_env()
    return _open_app_database(str(settings.data_dir), settings.app_db_url)


def demo_mode() -> bool:
    """Demo mode (``CASELENS_DEMO=1``, set by ``make run``): demo accounts are seeded and
    listed on the sign-in screen."""
    return os.environ.get("CASELENS_DEMO", "") in {"1", "true", "yes"}


@st.cache_resource(show_spinner=False)
def _sign_in_key(key_file: str) -> bytes:
    return load_sign_in_key(key_file)


def sign_in_key() -> bytes:
    """The key that signs the browser cookies (``CASELENS_SIGN_IN_KEY_FILE``, else
    ``sign_in.key`` in the data folder, created owner-only)."""
    return _sign_in_key(str(Settings.from_env().sign_in_key_path))


def accounts() -> AccountStore:
    """The account store; in demo mode the demo accounts exist."""
    store = AccountStore(_app_database(), key=sign_in_key())
    if demo_mode():
        seed_demo_accounts(store)
    return store


def model_statuses() -> ModelStatusStore:
    """Which models are suspended."""
    return ModelStatusStore(_app_database())


def workflow() -> Workflow:
    """The engine's one door for every display and action (see ``caselens.workflow.door``)."""
    settings = Settings.from_env()
    return _workflow(
        default_location(), str(default_key_file()), str(settings.data_dir), settings.app_db_url
    )


@st.cache_resource(show_spinner=False)
def _workflow(location: str, key_file: str, data_dir: str, app_db_url: str | None) -> Workflow:
    built = Workflow(
        audit=audit_store(),
        accounts=accounts(),
        statuses=model_statuses(),
        catalogue=catalogue(),
        explainer=explainer,
        audit_key=audit_store().signing_key,
        # Read on every call, so a changed site or user setting needs no restart.
        estimate_first=lambda user_id, role: Settings.from_env().estimate_first_for(user_id, role),
    )
    freeze_long_lived()
    warming = built.warm_up_monitoring()  # in the background: the first view is then fast
    # Alerts are recorded without a click: a background check of every model's live data,
    # started once the warm-up has computed the same figures (never blocks a page).
    schedule = monitor_schedule()
    if schedule != "off":
        built.start_monitoring_schedule(interval_s=schedule, after=warming)
    return built


def monitor_schedule() -> float | str | None:
    """The scheduled monitoring check (``CASELENS_MONITOR_CHECK_SECONDS``): seconds between
    checks (1 to 86400), ``off`` where only ``caselens monitor check`` from cron records
    alerts, or None (unset or not a number in range) for the engine's ten minutes."""
    raw = os.environ.get("CASELENS_MONITOR_CHECK_SECONDS", "").strip().lower()
    if raw == "off":
        return "off"
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 1 <= value <= 86_400 else None


#: Longest care-team contact shown (a phone number, an address, opening hours).
MAX_CARE_TEAM_CONTACT_CHARS = 500
#: Shown instead of a patient page when no contact is set outside demo mode.
CARE_TEAM_CONTACT_MISSING = (
    "The patient page is not available: no care-team contact is set. The operator must set "
    "CASELENS_CARE_TEAM_CONTACT (how patients reach their care team, e.g. a phone number and "
    "hours) before patients can use CaseLens."
)


def care_team_contact(language: str = "en") -> str | None:
    """How patients reach their care team: ``CASELENS_CARE_TEAM_CONTACT_<LANG>`` (e.g.
    ``_ES``) for a patient reading that language, else ``CASELENS_CARE_TEAM_CONTACT``; None
    when neither is set (then only demo mode may show a patient page, saying so)."""
    for name in (f"CASELENS_CARE_TEAM_CONTACT_{language.upper()}", "CASELENS_CARE_TEAM_CONTACT"):
        value = os.environ.get(name, "").strip()
        if value:
            return value[:MAX_CARE_TEAM_CONTACT_CHARS]
    return None


def patient_pages_refused() -> str | None:
    """Why patient pages may not open (no care-team contact outside demo mode), or None."""
    if demo_mode() or care_team_contact() is not None:
        return None
    return CARE_TEAM_CONTACT_MISSING
