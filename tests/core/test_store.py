"""The SQLite store: WAL, migrations by user_version, round trips, expiry, event de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from core.music import parse_key
from core.production import MaestroState, Production
from core.store import MIGRATIONS, SqliteStore


async def test_migrates_and_uses_wal(tmp_path: Path) -> None:
    store = await SqliteStore(tmp_path / "v.sqlite").open()
    await store.close()
    async with aiosqlite.connect(tmp_path / "v.sqlite") as db:
        async with db.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == len(MIGRATIONS)  # type: ignore[index]
        async with db.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"  # type: ignore[index]
    reopened = await SqliteStore(tmp_path / "v.sqlite").open()  # migrating twice is a no-op
    await reopened.close()


async def test_round_trip_and_expiry(tmp_path: Path) -> None:
    store = await SqliteStore(tmp_path / "v.sqlite").open()
    fresh = Production(id="local:fresh", state=MaestroState.REVIEWING)
    stale = Production(id="local:stale", updated_at=datetime.now(UTC) - timedelta(hours=30))
    await store.put(fresh)
    await store.put(stale)
    assert (await store.get("local:fresh")) == fresh
    assert await store.expire(idle_s=24 * 3600) == ["local:stale"]
    assert await store.get("local:stale") is None
    assert await store.get("local:fresh") is not None
    await store.close()


async def test_a_retried_event_is_seen_once(tmp_path: Path) -> None:
    store = await SqliteStore(tmp_path / "v.sqlite").open()
    assert await store.first_time("evt-1")
    assert not await store.first_time("evt-1")
    await store.close()


async def test_summaries_list_one_platforms_productions_most_recent_first(tmp_path: Path) -> None:
    from core.conversation import Attachment

    store = await SqliteStore(tmp_path / "v.sqlite").open()
    older = Production(id="local:older", updated_at=datetime.now(UTC) - timedelta(hours=2),
                       source=Attachment(name="a.wav", path="/a.wav", size_bytes=1,
                                         content_type="audio/wav"))
    await store.put(older)
    await store.put(Production(id="local:newer"))
    await store.put(Production(id="discord:1:2"))
    summaries = await store.summaries(prefix="local:")
    assert [s.id for s in summaries] == ["local:newer", "local:older"]
    assert (summaries[1].song, summaries[1].versions, summaries[0].song) == ("a.wav", 0, "")
    assert len(await store.summaries()) == 3
    await store.close()


async def test_a_production_saved_with_paths_reads_back_without_them(tmp_path: Path) -> None:
    """Files of a production saved before artifacts were keyed (paths on the bot's host) read
    as not made, so no job is handed a path another host cannot read."""
    from core.production import Version
    from core.spec import ProductionSpec

    key = "blobs/ab/" + "ab" * 32 + ".wav"
    spec = ProductionSpec(title="t", genre="house", tempo_bpm=124, key=parse_key("Am"))
    old = Production(id="local:old", versions=[Version(number=1, spec=spec)])
    raw = old.model_dump(mode="json")
    raw["versions"][0]["artifacts"] = {"master.wav": "/data/productions/old/v1/master.wav",
                                       "preview.mp3": key}
    raw["stems"] = {"vocals": "/data/productions/old/stems/vocals.wav"}
    read = Production.model_validate(raw)
    assert read.versions[0].artifacts == {"preview.mp3": key} and read.stems == {}
