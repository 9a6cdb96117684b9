"""Productions, server settings and seen events in PostgreSQL, when ``DATABASE_URL`` is set.

The same :class:`core.store.Store` and :class:`core.server_settings.ServerSettingsStore` as the
SQLite default, for deployments where the bot, the web process and their replacements run on
different hosts (a Procfile platform gives each process its own disk, so a SQLite file there
would be lost with the process). One JSON document per production, as in SQLite, in a
``jsonb`` column so the busy and outbox counts are read without loading productions.

The schema is migrated in order by :data:`PG_MIGRATIONS`; ``vyke_schema`` records each applied
version. Several processes may start at once (a deploy starts the bot and the web process
together), so migrating takes a transaction-level advisory lock: one migrates, the others
wait and then find nothing to do.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg

from core.production import Production
from core.server_settings import ServerSettings, SettingsUpdates
from core.store import ProductionSummary

__all__ = ["PG_MIGRATIONS", "PostgresDatabase", "PostgresServerSettingsStore", "PostgresStore"]

logger = logging.getLogger(__name__)

PG_MIGRATIONS: list[str] = [
    # 1: productions (one JSON document per thread), answered platform events, server choices
    """
    CREATE TABLE productions (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        data JSONB NOT NULL
    );
    CREATE INDEX productions_updated ON productions (updated_at);
    CREATE TABLE seen_events (
        id TEXT PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE server_settings (
        platform TEXT NOT NULL,
        server_id TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        data JSONB NOT NULL,
        PRIMARY KEY (platform, server_id)
    );
    """,
]
"""Schema migrations, applied in order; the row count of ``vyke_schema`` is how many ran."""

_LOCK_ID = 0x76796B65  # "vyke": the advisory lock migrations hold


class PostgresDatabase:
    """One connection pool to the deployment's database, migrated when opened.

    The productions and the server settings share it (one database a deployment), as they
    share one SQLite file in the embedded default.
    """

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        self.url = url
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> PostgresDatabase:
        """Connect and migrate; returns ``self``."""
        pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.max_connections)
        try:
            await migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        return self

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresDatabase.open() was not awaited")
        return self._pool

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def migrate(pool: asyncpg.Pool) -> int:
    """Apply the migrations not applied yet, under the advisory lock; returns the version."""
    async with pool.acquire() as db, db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        await db.execute("CREATE TABLE IF NOT EXISTS vyke_schema ("
                         "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        applied = int(await db.fetchval("SELECT count(*) FROM vyke_schema"))
        for number, script in enumerate(PG_MIGRATIONS[applied:], start=applied + 1):
            await db.execute(script)
            await db.execute("INSERT INTO vyke_schema (version, applied_at) VALUES ($1, $2)",
                             number, time.time())
            logger.info("database migrated to schema %d", number)
        return len(PG_MIGRATIONS)


class PostgresStore:
    """A :class:`core.store.Store` in PostgreSQL (see the module)."""

    def __init__(self, database: PostgresDatabase, *, owns_database: bool = False) -> None:
        self.database = database
        self.owns_database = owns_database  #: close the pool with the store

    async def get(self, production_id: str) -> Production | None:
        data = await self.database.pool.fetchval(
            "SELECT data::text FROM productions WHERE id = $1", production_id)
        return Production.model_validate_json(data) if data is not None else None

    async def put(self, production: Production) -> None:
        await self.database.pool.execute(
            "INSERT INTO productions (id, state, updated_at, data) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, "
            "updated_at = EXCLUDED.updated_at, data = EXCLUDED.data",
            production.id, production.state.value, production.updated_at.timestamp(),
            production.model_dump_json())

    async def expire(self, *, idle_s: float) -> list[str]:
        cutoff = time.time() - idle_s
        async with self.database.pool.acquire() as db, db.transaction():
            rows = await db.fetch("DELETE FROM productions WHERE updated_at < $1 RETURNING id",
                                  cutoff)
            await db.execute("DELETE FROM seen_events WHERE at < $1", cutoff)
        return sorted(str(row["id"]) for row in rows)

    async def first_time(self, event_id: str) -> bool:
        status = await self.database.pool.execute(
            "INSERT INTO seen_events (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            event_id, time.time())
        return str(status).endswith(" 1")  # "INSERT 0 1": new; "INSERT 0 0": seen before

    async def busy(self, *, owner: str | None = None, exclude: str = "") -> int:
        query = ("SELECT count(*) FROM productions WHERE id <> $1 "
                 "AND jsonb_array_length(coalesce(data->'pending_jobs', '[]'::jsonb)) > 0")
        params: list[Any] = [exclude]
        if owner is not None:
            query += " AND data->>'owner' = $2"
            params.append(owner)
        return int(await self.database.pool.fetchval(query, *params))

    async def with_outbox(self) -> list[str]:
        rows = await self.database.pool.fetch(
            "SELECT id FROM productions "
            "WHERE jsonb_array_length(coalesce(data->'outbox', '[]'::jsonb)) > 0")
        return [str(row["id"]) for row in rows]

    async def summaries(self, *, prefix: str = "") -> list[ProductionSummary]:
        rows = await self.database.pool.fetch(
            "SELECT id, state, updated_at, coalesce(data->'source'->>'name', '') AS song, "
            "jsonb_array_length(coalesce(data->'versions', '[]'::jsonb)) AS versions "
            "FROM productions WHERE left(id, $1) = $2 ORDER BY updated_at DESC",
            len(prefix), prefix)
        return [ProductionSummary(id=str(r["id"]), state=str(r["state"]),
                                  updated_at=float(r["updated_at"]), song=str(r["song"]),
                                  versions=int(r["versions"])) for r in rows]

    async def close(self) -> None:
        if self.owns_database:
            await self.database.close()


class PostgresServerSettingsStore(SettingsUpdates):
    """A :class:`core.server_settings.ServerSettingsStore` in PostgreSQL."""

    def __init__(self, database: PostgresDatabase, *,
                 defaults: ServerSettings | None = None) -> None:
        self.database = database
        self.defaults = defaults or ServerSettings()

    async def get(self, platform: str, server_id: str) -> ServerSettings:
        data = await self.database.pool.fetchval(
            "SELECT data::text FROM server_settings WHERE platform = $1 AND server_id = $2",
            platform, server_id)
        if data is None:
            return self.defaults.model_copy()
        return ServerSettings.model_validate_json(data)

    async def put(self, platform: str, server_id: str, settings: ServerSettings) -> None:
        await self.database.pool.execute(
            "INSERT INTO server_settings (platform, server_id, updated_at, data) "
            "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (platform, server_id) DO UPDATE SET "
            "updated_at = EXCLUDED.updated_at, data = EXCLUDED.data",
            platform, server_id, time.time(), settings.model_dump_json())

    async def close(self) -> None:
        """The database is closed by whoever opened it (the productions' store)."""
