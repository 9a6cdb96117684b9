"""The PostgreSQL store, in a database of its own on the local service: the same behaviour as
the SQLite default (round trips, expiry, de-duplication, busy counts, the outbox, listing),
migrations applied once however many processes open it, and server settings beside it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from core.conversation import Attachment
from core.pg_store import (
    PG_MIGRATIONS,
    PostgresDatabase,
    PostgresServerSettingsStore,
    PostgresStore,
)
from core.production import MaestroState, PendingJob, Production


async def test_productions_round_trip_expire_and_dedupe(postgres_url: str) -> None:
    database = await PostgresDatabase(postgres_url).open()
    store = PostgresStore(database, owns_database=True)
    try:
        fresh = Production(id="discord:1:2", state=MaestroState.REVIEWING, owner="ana",
                           source=Attachment(name="song.wav", size_bytes=3,
                                             content_type="audio/wav"))
        stale = Production(id="local:stale", updated_at=datetime.now(UTC) - timedelta(hours=30))
        await store.put(fresh)
        await store.put(stale)
        assert await store.get("discord:1:2") == fresh
        fresh.pending_jobs.append(PendingJob(job_id="render-v1-x", kind="render", version=1))
        await store.put(fresh)  # saving again replaces the row
        assert await store.busy() == 1
        assert await store.busy(owner="ana") == 1 and await store.busy(owner="bo") == 0
        assert await store.busy(exclude="discord:1:2") == 0
        assert await store.with_outbox() == []
        assert [s.song for s in await store.summaries(prefix="discord:")] == ["song.wav"]
        assert await store.expire(idle_s=24 * 3600) == ["local:stale"]
        assert await store.get("local:stale") is None
        assert await store.first_time("evt-1")
        assert not await store.first_time("evt-1")  # a platform's retry is answered once
    finally:
        await store.close()


async def test_migrations_run_once_when_processes_start_together(postgres_url: str) -> None:
    databases = await asyncio.gather(*(PostgresDatabase(postgres_url).open() for _ in range(3)))
    for database in databases:
        await database.close()
    db = await asyncpg.connect(postgres_url)
    try:
        assert await db.fetchval("SELECT count(*) FROM vyke_schema") == len(PG_MIGRATIONS)
    finally:
        await db.close()


async def test_server_settings_live_in_the_same_database(postgres_url: str) -> None:
    database = await PostgresDatabase(postgres_url).open()
    try:
        settings = PostgresServerSettingsStore(database)
        assert (await settings.get("discord", "1")).destination is None
        await settings.update("discord", "1", destination="club", answerers="owner")
        reopened = PostgresServerSettingsStore(database)
        mine = await reopened.get("discord", "1")
        assert (mine.destination, mine.answerers) == ("club", "owner")
        assert (await reopened.get("slack", "1")).destination is None
    finally:
        await database.close()
