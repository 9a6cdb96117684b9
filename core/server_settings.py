"""Per-server defaults a server's admins choose: loudness, who may answer, limits.

One row per (platform, server) — a Discord guild or a Slack team — in the same database as
the productions (the SQLite file by default, PostgreSQL when ``DATABASE_URL`` is set, see
``core.pg_store``), so a deployment keeps one database. A server with no row gets the
installation's defaults.
"""

from __future__ import annotations

import abc
import time
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field, field_validator

from core.brief import DESTINATIONS
from core.store import SqliteFile

__all__ = ["Answerers", "ServerSettings", "ServerSettingsStore", "SettingsUpdates",
           "SqliteServerSettingsStore"]

Answerers = Literal["thread", "owner"]
"""Who may press a question's buttons: anyone in the thread, or only who started it."""

class ServerSettings(BaseModel):
    """What one server's admins chose; ``None`` limits mean "the installation's limit"."""

    destination: str | None = None  #: loudness preset for new productions (``club``, …)
    answerers: Answerers = "thread"
    max_upload_mb: float | None = Field(default=None, gt=0)  #: biggest song accepted

    @field_validator("destination")
    @classmethod
    def _known_destination(cls, value: str | None) -> str | None:
        if value is not None and value not in DESTINATIONS:
            known = ", ".join(sorted(DESTINATIONS))
            raise ValueError(f"unknown loudness destination {value!r}; choose one of {known}")
        return value

    def upload_limit_bytes(self, installation_bytes: int) -> int:
        """The smaller of this server's song-size limit and the installation's."""
        if self.max_upload_mb is None:
            return installation_bytes
        return min(installation_bytes, int(self.max_upload_mb * 1_000_000))


class ServerSettingsStore(Protocol):
    """Where each server's choices are kept (SQLite by default, PostgreSQL at scale)."""

    defaults: ServerSettings

    async def get(self, platform: str, server_id: str) -> ServerSettings:
        """The server's settings, or the installation's defaults when it chose none."""

    async def put(self, platform: str, server_id: str, settings: ServerSettings) -> None:
        """Save (insert or replace) a server's settings."""

    async def update(self, platform: str, server_id: str, **changes: object) -> ServerSettings:
        """Change some fields (validated) and save; returns the new settings."""

    async def close(self) -> None:
        """Release the connection."""


class SettingsUpdates(abc.ABC):
    """``update`` in terms of ``get`` and ``put``: one rule for every database."""

    @abc.abstractmethod
    async def get(self, platform: str, server_id: str) -> ServerSettings:
        """The server's settings, or the installation's defaults when it chose none."""

    @abc.abstractmethod
    async def put(self, platform: str, server_id: str, settings: ServerSettings) -> None:
        """Save (insert or replace) a server's settings."""

    async def update(self, platform: str, server_id: str, **changes: object) -> ServerSettings:
        """Change some fields (validated) and save; returns the new settings."""
        current = await self.get(platform, server_id)
        updated = ServerSettings.model_validate({**current.model_dump(), **changes})
        await self.put(platform, server_id, updated)
        return updated


class SqliteServerSettingsStore(SettingsUpdates, SqliteFile):
    """Reads and writes :class:`ServerSettings` in the product's SQLite file."""

    def __init__(self, path: Path, *, defaults: ServerSettings | None = None,
                 busy_timeout_ms: int = 5000) -> None:
        super().__init__(path, busy_timeout_ms=busy_timeout_ms)
        self.defaults = defaults or ServerSettings()

    async def open(self) -> SqliteServerSettingsStore:
        """Connect and migrate the file (the same migrations as the productions'); returns ``self``."""
        self._db = await self._connect()
        await self._migrate()
        return self

    async def get(self, platform: str, server_id: str) -> ServerSettings:
        async with self.db.execute(
            "SELECT data FROM server_settings WHERE platform = ? AND server_id = ?",
            (platform, server_id),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return self.defaults.model_copy()
        return ServerSettings.model_validate_json(row[0])

    async def put(self, platform: str, server_id: str, settings: ServerSettings) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO server_settings (platform, server_id, updated_at, data) "
            "VALUES (?, ?, ?, ?)",
            (platform, server_id, time.time(), settings.model_dump_json()),
        )
        await self.db.commit()
