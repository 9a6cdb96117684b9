"""Where productions live between turns: SQLite through aiosqlite, one JSON row per thread.

WAL and a busy timeout let the bot and tools read while a turn writes; the schema is migrated
by ``PRAGMA user_version``; idle productions expire (24 h by default). PostgreSQL, for
processes on several hosts, implements the same :class:`Store` in ``core.pg_store``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite

from core.production import Production

__all__ = ["MIGRATIONS", "ProductionSummary", "SqliteFile", "SqliteStore", "Store"]

logger = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: productions, one JSON document per thread
    """
    CREATE TABLE productions (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX productions_updated ON productions(updated_at);
    """,
    # 2: platform events already answered (retried deliveries are answered once)
    """
    CREATE TABLE seen_events (
        id TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    """,
    # 3: each server's choices (made by the settings store before it was migrated here,
    # hence IF NOT EXISTS)
    """
    CREATE TABLE IF NOT EXISTS server_settings (
        platform TEXT NOT NULL,
        server_id TEXT NOT NULL,
        updated_at REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (platform, server_id)
    );
    """,
]
"""Schema migrations, applied in order; ``PRAGMA user_version`` is the count applied."""


@dataclass(frozen=True)
class ProductionSummary:
    """One line of a list of productions: enough to pick one to resume, without loading it."""

    id: str  #: the conversation id, e.g. ``local:my-song-2026-12-01-2142``
    state: str  #: the Maestro state it stopped in
    updated_at: float  #: seconds since the epoch of its last save
    song: str  #: the uploaded file's name, ``""`` when none was given
    versions: int  #: how many versions it has


class Store(Protocol):
    """Persistence of productions; the Maestro saves after every turn and event."""

    async def get(self, production_id: str) -> Production | None:
        """The production of a thread, or ``None``."""

    async def put(self, production: Production) -> None:
        """Save (insert or replace) a production."""

    async def expire(self, *, idle_s: float) -> list[str]:
        """Delete productions idle longer than ``idle_s``; returns their ids."""

    async def first_time(self, event_id: str) -> bool:
        """Record a platform event id; ``False`` when it was seen before (a retry)."""

    async def busy(self, *, owner: str | None = None, exclude: str = "") -> int:
        """Productions with work queued or running (of ``owner`` when given), except ``exclude``."""

    async def with_outbox(self) -> list[str]:
        """Productions holding finished jobs' replies not yet all posted."""

    async def summaries(self, *, prefix: str = "") -> list[ProductionSummary]:
        """Productions whose id starts with ``prefix``, the most recently saved first."""

    async def close(self) -> None:
        """Close the connection."""


class SqliteFile:
    """One connection to the product's SQLite file, as every table's store opens it.

    The productions and the server settings share one file (one database a deployment), so
    they connect alike: WAL, so tools read while a turn writes, and a busy timeout, so a
    writer waits for another's lock instead of failing. Subclasses add ``open``.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None

    async def _connect(self) -> aiosqlite.Connection:
        """A new connection in WAL mode with the busy timeout (the folder made when missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        return db

    async def _migrate(self) -> None:
        """Apply the :data:`MIGRATIONS` this file lacks (every table's store runs them)."""
        db = self.db
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await db.executescript(script)
            await db.execute(f"PRAGMA user_version={number}")
            await db.commit()
            logger.info("store %s migrated to schema %d", self.path.name, number)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError(f"{type(self).__name__}.open() was not awaited")
        return self._db

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None


class SqliteStore(SqliteFile):
    """A :class:`Store` in one SQLite file (WAL, busy timeout, migrations)."""

    async def open(self) -> SqliteStore:
        """Connect and migrate; returns ``self`` so ``store = await SqliteStore(p).open()``."""
        db = await self._connect()
        await db.execute("PRAGMA synchronous=NORMAL")
        self._db = db
        await self._migrate()
        return self

    async def get(self, production_id: str) -> Production | None:
        async with self.db.execute("SELECT data FROM productions WHERE id = ?",
                                   (production_id,)) as cursor:
            row = await cursor.fetchone()
        return Production.model_validate_json(row[0]) if row else None

    async def put(self, production: Production) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO productions (id, state, updated_at, data) VALUES (?, ?, ?, ?)",
            (production.id, production.state.value, production.updated_at.timestamp(),
             production.model_dump_json()),
        )
        await self.db.commit()

    async def expire(self, *, idle_s: float) -> list[str]:
        cutoff = time.time() - idle_s
        async with self.db.execute("SELECT id FROM productions WHERE updated_at < ?",
                                   (cutoff,)) as cursor:
            ids = [row[0] for row in await cursor.fetchall()]
        await self.db.execute("DELETE FROM productions WHERE updated_at < ?", (cutoff,))
        await self.db.execute("DELETE FROM seen_events WHERE at < ?", (cutoff,))
        await self.db.commit()
        return ids

    async def first_time(self, event_id: str) -> bool:
        cursor = await self.db.execute(
            "INSERT OR IGNORE INTO seen_events (id, at) VALUES (?, ?)", (event_id, time.time()))
        await self.db.commit()
        return cursor.rowcount == 1

    async def busy(self, *, owner: str | None = None, exclude: str = "") -> int:
        query = ("SELECT COUNT(*) FROM productions WHERE id != ? "
                 "AND json_array_length(data, '$.pending_jobs') > 0")
        params: tuple[str, ...] = (exclude,)
        if owner is not None:
            query += " AND json_extract(data, '$.owner') = ?"
            params += (owner,)
        async with self.db.execute(query, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def with_outbox(self) -> list[str]:
        query = ("SELECT id FROM productions "
                 "WHERE json_array_length(json_extract(data, '$.outbox')) > 0")
        async with self.db.execute(query) as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def summaries(self, *, prefix: str = "") -> list[ProductionSummary]:
        """Productions whose id starts with ``prefix``, the most recently saved first.

        Read with SQLite's JSON functions, so listing many productions parses none of them.
        """
        query = ("SELECT id, state, updated_at, "
                 "coalesce(json_extract(data, '$.source.name'), ''), "
                 "coalesce(json_array_length(data, '$.versions'), 0) "
                 "FROM productions WHERE substr(id, 1, ?) = ? ORDER BY updated_at DESC")
        async with self.db.execute(query, (len(prefix), prefix)) as cursor:
            rows = await cursor.fetchall()
        return [ProductionSummary(id=str(r[0]), state=str(r[1]), updated_at=float(r[2]),
                                  song=str(r[3]), versions=int(r[4])) for r in rows]

