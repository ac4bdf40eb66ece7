"""Where the store lives: ``--db PATH``, else ``$FACTSYNC_DB``, else the user data dir."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir


def default_db_path() -> Path:
    env = os.environ.get("FACTSYNC_DB")
    if env:
        return Path(env)
    return Path(user_data_dir("factsync", appauthor=False)) / "factsync.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db) if db else default_db_path()
