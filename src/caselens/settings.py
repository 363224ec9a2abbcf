"""Where CaseLens keeps its files, read once from the environment.

``CASELENS_DATA_DIR``   audit store, server key, accounts (default ``./.caselens-data``)
``CASELENS_APP_DB_URL`` the app database (accounts, sign-in back-off, model status) as a
                        SQLAlchemy URL, e.g. ``postgresql://caselens@db/caselens_app``, so that
                        several app servers share them (default: ``app.sqlite`` in the data
                        folder, owner-only). The audit trail has its own ``CASELENS_AUDIT_URL``,
                        read by ``caselens.audit.open_trail`` with its key, checkpoint file,
                        witness (``CASELENS_AUDIT_WITNESS``) and key registry
                        (``CASELENS_AUDIT_KEY_REGISTRY``); see docs/audit_model.md.
``CASELENS_MODELS_DIR`` folder of model bundles the app offers (default: the sample models)
``CASELENS_ALLOW_PICKLE`` set to ``1`` to let the operator load pickle/joblib model files
``CASELENS_LOCAL_USER``  the local user's display name when sign-in is off
``CASELENS_TRUSTED_PROXIES`` comma-separated addresses/networks of reverse proxies whose
                        ``Forwarded``/``X-Forwarded-For`` header names the client for the
                        sign-in throttle (default: none; the device cookie is used)
``CASELENS_SIGN_IN_KEY_FILE`` the key that signs the device and session cookies (default
                        ``sign_in.key`` in the data folder, created owner-only; servers that
                        share an app database share this file)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MODELS_DIR = PROJECT_ROOT / "sample_models"
ASSETS_DIR = PROJECT_ROOT / "assets"


@dataclass(frozen=True)
class Settings:
    """Operator settings for one process."""

    data_dir: Path
    models_dir: Path
    allow_pickle: bool
    local_user_id: str = "local-clinician"
    local_user_name: str = "Local clinician"
    #: The app database URL; None means ``<data_dir>/app.sqlite``.
    app_db_url: str | None = None
    #: Reverse proxies trusted to name the client (``CASELENS_TRUSTED_PROXIES``, as text).
    trusted_proxies: str = ""
    #: The sign-in key file; None means ``<data_dir>/sign_in.key``.
    sign_in_key_file: Path | None = None

    @property
    def sign_in_key_path(self) -> Path:
        """The sign-in key file in use."""
        return self.sign_in_key_file or self.data_dir / "sign_in.key"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from ``CASELENS_*`` environment variables."""
        return cls(
            data_dir=Path(os.environ.get("CASELENS_DATA_DIR", ".caselens-data")).resolve(),
            models_dir=Path(os.environ.get("CASELENS_MODELS_DIR", SAMPLE_MODELS_DIR)).resolve(),
            allow_pickle=os.environ.get("CASELENS_ALLOW_PICKLE", "") in {"1", "true", "yes"},
            local_user_name=os.environ.get("CASELENS_LOCAL_USER", "Local clinician"),
            app_db_url=os.environ.get("CASELENS_APP_DB_URL", "").strip() or None,
            trusted_proxies=os.environ.get("CASELENS_TRUSTED_PROXIES", "").strip(),
            sign_in_key_file=(
                Path(os.environ["CASELENS_SIGN_IN_KEY_FILE"]).resolve()
                if os.environ.get("CASELENS_SIGN_IN_KEY_FILE", "").strip()
                else None
            ),
        )
