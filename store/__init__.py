"""The factsync store: peewee models on SQLite, migrations, and secrets kept outside the database."""

from store.db import Store, open_store
from store.errors import StoreError

__all__ = ["Store", "StoreError", "open_store"]
