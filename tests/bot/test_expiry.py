"""Expiry: an idle production's files go with it, uploads included, on every platform."""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite

from bot.app import build_app
from bot.settings import Settings
from core.artifacts import upload_path
from core.production import Production
from core.store import SqliteStore

PLATFORMS = ("discord:1:2", "slack:T1:C1:1700000000.000100", "local:chat-x")


async def test_uploads_expire_with_their_production(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, idle_expiry_hours=1.0)
    store = await SqliteStore(settings.database_path).open()
    saved: dict[str, Path] = {}
    for conversation in (*PLATFORMS, "discord:1:3"):
        await store.put(Production(id=conversation, owner="u"))
        path = upload_path(tmp_path, conversation, "../song.wav", unique="42")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        saved[conversation] = path
    await store.close()
    # the first three have been idle for two hours; discord:1:3 was touched just now
    async with aiosqlite.connect(settings.database_path) as db:
        await db.execute("UPDATE productions SET updated_at = ? WHERE id != ?",
                         (time.time() - 7200, "discord:1:3"))
        await db.commit()

    async with build_app(settings):
        pass

    for conversation in PLATFORMS:
        assert not saved[conversation].exists(), conversation
        assert not saved[conversation].parent.parent.exists()  # the whole production folder
    assert saved["discord:1:3"].read_bytes() == b"RIFF"
