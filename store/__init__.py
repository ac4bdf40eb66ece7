"""The factsync store: peewee models on SQLite, migrations, and secrets kept outside the database."""

from store.db import Store, open_store

__all__ = ["Store", "open_store"]
