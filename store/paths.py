"""Where the store lives: ``--db PATH``, else ``$FACTSYNC_DB``, else the user data dir.

Only the default location is created (mode 0700): a path given on purpose whose folder does not
exist is a typo, and silently creating a new empty store there would hide the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

from store.errors import StoreError


def default_db_path() -> Path:
    env = os.environ.get("FACTSYNC_DB")
    if env:
        return Path(env)
    return Path(user_data_dir("factsync", appauthor=False)) / "factsync.db"


def _default_location() -> Path:
    return Path(user_data_dir("factsync", appauthor=False)) / "factsync.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    """The store file to open; its folder exists afterwards (raises StoreError otherwise)."""
    path = Path(db).expanduser() if db else default_db_path()
    if path == _default_location():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise StoreError(
            f"The folder {path.parent} of the store {path} does not exist: create it first, or "
            "give another --db (only the default location is created). Nothing was changed."
        )
    return path
