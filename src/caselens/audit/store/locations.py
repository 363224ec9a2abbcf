"""Where the trail and its key live by default: the environment, else the data directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from caselens.settings import environment

URL_ENV = "CASELENS_AUDIT_URL"
DATA_DIR_ENV = "CASELENS_DATA_DIR"
DEFAULT_DATA_DIR = ".caselens-data"
KEY_FILE_ENV = "CASELENS_AUDIT_KEY_FILE"


def default_location(env: Mapping[str, str] | None = None) -> str:
    """Where the trail lives: ``CASELENS_AUDIT_URL``, else ``$CASELENS_DATA_DIR/audit.sqlite``.

    Examples
    --------
    >>> default_location({"CASELENS_DATA_DIR": "/d"})
    '/d/audit.sqlite'
    """
    env = environment() if env is None else env
    if env.get(URL_ENV):
        return env[URL_ENV]
    return str(Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "audit.sqlite")


def default_key_file(env: Mapping[str, str] | None = None) -> Path:
    """``CASELENS_AUDIT_KEY_FILE``, else ``$CASELENS_DATA_DIR/audit.key`` (data dir default
    ``./.caselens-data``)."""
    env = environment() if env is None else env
    if env.get(KEY_FILE_ENV):
        return Path(env[KEY_FILE_ENV])
    return Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "audit.key"
