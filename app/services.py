"""Long-lived resources: the server's :class:`caselens.runtime.Runtime`, held by
``st.cache_resource`` once per set of store settings, and the settings pages read.

Nothing here computes a result or opens a store itself: the runtime loads the bundles,
prepares the explainers (their one-off costs paid at start-up) and opens the stores.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from caselens.access import AccountStore, ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain import CaseExplainer
from caselens.model import BundleCatalogue
from caselens.runtime import Runtime, load_models
from caselens.settings import Settings
from caselens.workflow import Workflow


def settings() -> Settings:
    """The operator's settings as the environment holds them now (read on every call: a
    changed setting that needs no new store applies at once)."""
    return Settings.from_environment()


@st.cache_resource(show_spinner="Loading model bundles…")
def _catalogue(
    models_dir: str,
    allow_pickle: bool,
    demo: bool,
    trusted_keys: tuple[str, ...],
    revoked_keys: tuple[str, ...],
    require_signed: bool | None,
) -> BundleCatalogue:
    # Keyed by the models folder and the bundle trust settings alone: runtimes for other
    # data folders share it (loading takes seconds).
    return load_models(
        Settings(
            models_dir=Path(models_dir),
            allow_pickle=allow_pickle,
            demo=demo,
            trusted_bundle_keys=tuple(Path(k) for k in trusted_keys),
            revoked_bundle_keys=frozenset(revoked_keys),
            require_signed_bundles=require_signed,
        )
    )


def _catalogue_of(now: Settings) -> BundleCatalogue:
    return _catalogue(
        str(now.models_dir),
        now.allow_pickle,
        now.demo,
        tuple(str(k) for k in now.trusted_bundle_keys),
        tuple(sorted(now.revoked_bundle_keys)),
        now.require_signed_bundles,
    )


@st.cache_resource(show_spinner=False)
def _runtime(
    models_dir: str,
    allow_pickle: bool,
    data_dir: str,
    app_db_url: str | None,
    audit: tuple[tuple[str, str], ...],
    sign_in_key_file: str,
    demo: bool,
    bundle_trust: tuple[object, ...],
) -> Runtime:
    # The arguments are the cache key: the settings that choose which stores are opened
    # and which bundles are trusted.
    now = settings()
    return Runtime.from_settings(now, catalogue=_catalogue_of(now), reread=settings)


def runtime() -> Runtime:
    """This server's runtime (stores, catalogue, the one explainer cache, the workflow),
    built once per set of store settings."""
    now = settings()
    return _runtime(
        str(now.models_dir),
        now.allow_pickle,
        str(now.data_dir),
        now.app_db_url,
        tuple(sorted(now.audit_environment().items())),
        str(now.sign_in_key_path),
        now.demo,
        (
            now.trusted_bundle_keys,
            tuple(sorted(now.revoked_bundle_keys)),
            now.require_signed_bundles,
        ),
    )


def catalogue() -> BundleCatalogue:
    """Every bundle in the configured folder; a refused bundle is listed, not fatal."""
    return runtime().catalogue


def explainer(model_id: str) -> CaseExplainer:
    """The bundle's explainer, warmed up so the first clinician's click is fast."""
    with st.spinner("Preparing the explainer (one-off, at start-up)…"):
        return runtime().explainer(model_id)


def audit_store() -> AuditStore:
    """The audit trail (SQLite in the data folder, or ``CASELENS_AUDIT_URL``)."""
    return runtime().audit_store


def demo_mode() -> bool:
    """Demo mode (``CASELENS_DEMO=1``, set by ``make run``): demo accounts are seeded and
    listed on the sign-in screen."""
    return settings().demo


def sign_in_key() -> bytes:
    """The key that signs the browser cookies (``CASELENS_SIGN_IN_KEY_FILE``, else
    ``sign_in.key`` in the data folder, created owner-only)."""
    return runtime().sign_in_key


def accounts() -> AccountStore:
    """The account store; in demo mode the demo accounts exist."""
    return runtime().accounts


def model_statuses() -> ModelStatusStore:
    """Which models are suspended."""
    return runtime().model_statuses


def workflow() -> Workflow:
    """The engine's one door for every display and action (see ``caselens.workflow.door``)."""
    return runtime().workflow


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
    return settings().care_team_contact_for(language)


def patient_pages_refused() -> str | None:
    """Why patient pages may not open (no care-team contact outside demo mode), or None."""
    if demo_mode() or care_team_contact() is not None:
        return None
    return CARE_TEAM_CONTACT_MISSING
