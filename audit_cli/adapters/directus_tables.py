"""The tables a Directus import reads (adapters/directus.py), the same from a Directus SQLite database as from a
folder of JSON exports of them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import AuditError

ACTIVITY, REVISIONS, COMMENTS, VERSIONS, USERS = (
    "directus_activity", "directus_revisions", "directus_comments", "directus_versions", "directus_users")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HINT = "give a Directus SQLite database, or a folder with directus_activity.json and directus_revisions.json"



def _open(path: Path) -> _Database | _Folder:
    if path.is_dir():
        return _Folder(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise AuditError(f"cannot read {path}: {exc.strerror}: {_HINT}") from None
    if magic != _SQLITE_MAGIC:
        raise AuditError(f"{path} is not an SQLite database: {_HINT}")
    return _Database(path)


class _Database:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self.tables = {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read {path} ({exc}): {_HINT}") from None
        for name in (ACTIVITY, REVISIONS):
            if name not in self.tables:
                raise AuditError(f"{path} has no {name} table, so it is not a Directus database: {_HINT}")

    def where(self, table: str, row: dict[str, Any]) -> str:
        return f"{self.path} {table} id {row.get('id')}"

    def close(self) -> None:
        self.conn.close()

    def rows(self, table: str, order: tuple[str, ...] = ("id",)) -> Iterator[dict[str, Any]]:
        if table not in self.tables:
            return
        cursor = self.conn.execute(f'SELECT * FROM "{table}" ORDER BY {", ".join(order)}')
        names = [d[0] for d in cursor.description]
        for values in cursor:
            yield dict(zip(names, values))

    def schema(self, collection: str) -> tuple[tuple[str, bool] | None, set[str]]:
        """The table's single-column primary key (name, is integer) and its columns declared json."""
        if collection not in self.tables:
            return None, set()
        columns = self.conn.execute(f'PRAGMA table_info("{collection}")').fetchall()
        keys = [(name, "INT" in (kind or "").upper()) for _, name, kind, _, _, pk in columns if pk]
        return (keys[0] if len(keys) == 1 else None), {name for _, name, kind, *_ in columns
                                                        if (kind or "").lower() == "json"}


class _Folder:
    def __init__(self, path: Path):
        self.path = path
        self.tables = {p.stem for p in path.glob("directus_*.json")}
        for name in (ACTIVITY, REVISIONS):
            if name not in self.tables:
                raise AuditError(f"{path} has no {name}.json: {_HINT}")
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def where(self, table: str, row: dict[str, Any]) -> str:
        return f"{self.path / (table + '.json')} id {row.get('id')}"

    def close(self) -> None:
        self._cache.clear()

    def _load(self, table: str) -> list[dict[str, Any]]:
        if table not in self._cache:
            file = self.path / f"{table}.json"
            try:
                value = json.loads(file.read_bytes())
            except OSError as exc:
                raise AuditError(f"cannot read {file}: {exc.strerror}") from None
            except ValueError as exc:
                raise AuditError(f"{file} is not valid JSON ({exc}): give the table as a JSON array of rows") from None
            if isinstance(value, dict) and isinstance(value.get("data"), list):
                value = value["data"]
            if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
                raise AuditError(f"{file} is not a JSON array of rows (objects): give the table as [{{...}}, ...]")
            self._cache[table] = value
        return self._cache[table]

    def rows(self, table: str, order: tuple[str, ...] = ("id",)) -> Iterator[dict[str, Any]]:
        if table not in self.tables:
            return iter(())
        return iter(sorted(self._load(table), key=lambda row: tuple(_sort_key(row.get(name)) for name in order)))

    def schema(self, collection: str) -> tuple[tuple[str, bool] | None, set[str]]:
        return None, set()  # JSON exports carry no DDL: both are inferred from the revisions


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return 0, value
    if isinstance(value, str) and value.isdigit():
        return 0, int(value)
    return 1, str(value)


# ---------------------------------------------------------------------------------------------------------------
# The reader: a survey of the whole source, then one pass in activity order
