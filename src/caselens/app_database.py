"""The app database (accounts, model status): an SQLite file in the data folder."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine

APP_DATABASE_FILE = "app.sqlite"


def open_app_database(data_dir: str | Path) -> Engine:
    """An engine on ``<data_dir>/app.sqlite``, created with owner-only permissions."""
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    file = folder / APP_DATABASE_FILE
    if not file.exists():
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))
    return create_engine(f"sqlite:///{file}")
