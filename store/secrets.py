"""Secrets (school API key, subscription key) kept out of the SQLite file.

They live in ``<store>.secrets.json`` created with mode 0600; the Connection row holds only a
reference. The OS keyring is not used: servers running factsync from cron rarely have one unlocked,
and one plain 0600 file beside the store is easier for an admin to reason about and back up.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class SecretStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, db_path: Path) -> SecretStore:
        return cls(db_path.with_name(db_path.name + ".secrets.json"))

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.chmod(self.path, 0o600)

    def put(self, name: str, value: str) -> str:
        """Store ``value`` under ``name``; returns the reference to keep in the database."""
        data = self._read()
        data[name] = value
        self._write(data)
        return f"file:{name}"

    def get(self, ref: str | None) -> str | None:
        if not ref or not ref.startswith("file:"):
            return None
        return self._read().get(ref.removeprefix("file:"))

    def delete(self, ref: str) -> None:
        data = self._read()
        if data.pop(ref.removeprefix("file:"), None) is not None:
            self._write(data)
