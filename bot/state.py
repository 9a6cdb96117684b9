"""Where the state lives: the SQLite file by default, PostgreSQL when ``DATABASE_URL`` is set.

The bot, ``vyke web`` and ``vyke chat --list`` open it here, so every process of a deployment
reads the same productions and server settings whichever database holds them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.settings import Settings
from core.server_settings import ServerSettings, ServerSettingsStore, SqliteServerSettingsStore
from core.store import SqliteStore, Store

__all__ = ["State", "open_state"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """The productions' store and the server settings, in one database."""

    store: Store
    server_settings: ServerSettingsStore


@asynccontextmanager
async def open_state(settings: Settings) -> AsyncIterator[State]:
    """Open (and migrate) the deployment's database; closed when the block ends."""
    defaults = ServerSettings(answerers=settings.answerers)
    if settings.database_url:
        from core.pg_store import PostgresDatabase, PostgresServerSettingsStore, PostgresStore

        database = await PostgresDatabase(settings.database_url).open()
        logger.info("state in PostgreSQL")
        try:
            yield State(store=PostgresStore(database),
                        server_settings=PostgresServerSettingsStore(database, defaults=defaults))
        finally:
            await database.close()
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await SqliteStore(settings.database_path).open()
    try:
        server_settings = await SqliteServerSettingsStore(settings.database_path,
                                                          defaults=defaults).open()
        try:
            yield State(store=store, server_settings=server_settings)
        finally:
            await server_settings.close()
    finally:
        await store.close()
