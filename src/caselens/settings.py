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
``CASELENS_ESTIMATE_FIRST`` the site's default for clinicians: ``on`` (default) hides the
                        model's result until the clinician saves their own estimate or
                        skips it (recorded); ``off`` shows the result at once
``CASELENS_ESTIMATE_FIRST_USERS`` per-user exceptions to the site default, e.g.
                        ``dr.lee=off,dr.ng=on`` (see docs/clinician-screen.md for why the
                        default is on)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from caselens.errors import CaseLensError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MODELS_DIR = PROJECT_ROOT / "sample_models"
ASSETS_DIR = PROJECT_ROOT / "assets"
#: Estimate-first is on for clinicians unless the site or the user's entry says otherwise:
#: a number seen before one's own judgement anchors it (docs/clinician-screen.md).
ESTIMATE_FIRST_DEFAULT = True
_SWITCH_WORDS = {"on": True, "1": True, "true": True, "yes": True}
_SWITCH_WORDS |= {"off": False, "0": False, "false": False, "no": False}
#: Longest per-user exceptions list read (a bounded operator setting).
MAX_ESTIMATE_FIRST_USERS_CHARS = 20_000


class SettingsError(CaseLensError):
    """An operator setting that cannot be read; the message names the variable."""


def _switch(variable: str, text: str) -> bool:
    value = _SWITCH_WORDS.get(text.strip().lower())
    if value is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise SettingsError(f"{variable}: expected on or off, got {shown!r}.")
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
            shown = entry if len(entry) <= 40 else entry[:40] + "…"
            raise SettingsError(f"{variable}: expected user=on or user=off, got {shown!r}.")
        users[user.strip()] = _switch(f"{variable} ({user.strip()})", value)
    return users


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

    #: The site's estimate-first default for clinicians, and per-user exceptions.
    estimate_first: bool = ESTIMATE_FIRST_DEFAULT
    estimate_first_users: Mapping[str, bool] = field(default_factory=dict)
    #: Why the estimate-first settings could not be read (None when they could): kept, not
    #: raised, so every other page still works and the Case page names the variable.
    estimate_first_error: str | None = None

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
            **_estimate_first_from_env(),
        )


def _estimate_first_from_env() -> dict[str, object]:
    """The estimate-first fields of :class:`Settings`, or the reason they cannot be read."""
    try:
        return {
            "estimate_first": _switch(
                "CASELENS_ESTIMATE_FIRST", os.environ.get("CASELENS_ESTIMATE_FIRST", "on")
            ),
            "estimate_first_users": parse_estimate_first_users(
                os.environ.get("CASELENS_ESTIMATE_FIRST_USERS", "")
            ),
        }
    except SettingsError as exc:
        return {"estimate_first_error": str(exc)}
