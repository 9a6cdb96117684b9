"""Per-server defaults: saved per platform and server, beside the productions, across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.production import Production
from core.server_settings import ServerSettings, SqliteServerSettingsStore
from core.store import SqliteStore


async def test_a_server_without_a_choice_gets_the_installation_defaults(tmp_path: Path) -> None:
    store = await SqliteServerSettingsStore(tmp_path / "v.sqlite",
                                      defaults=ServerSettings(answerers="owner")).open()
    try:
        settings = await store.get("discord", "111")
        assert settings.answerers == "owner"
        assert settings.destination is None
        assert settings.upload_limit_bytes(100_000_000) == 100_000_000
    finally:
        await store.close()


async def test_choices_survive_a_restart_and_stay_per_server(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    store = await SqliteServerSettingsStore(path).open()
    await store.update("discord", "111", destination="club", answerers="owner")
    await store.update("discord", "111", max_upload_mb=20)
    await store.close()

    store = await SqliteServerSettingsStore(path).open()
    try:
        mine = await store.get("discord", "111")
        assert (mine.destination, mine.answerers, mine.max_upload_mb) == ("club", "owner", 20)
        assert mine.upload_limit_bytes(100_000_000) == 20_000_000
        assert mine.upload_limit_bytes(5_000_000) == 5_000_000  # never above the installation's
        assert (await store.get("discord", "222")).destination is None
        assert (await store.get("slack", "111")).destination is None  # Slack team 111 is another server
    finally:
        await store.close()


async def test_shares_the_database_file_with_the_productions(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    productions = await SqliteStore(path).open()
    settings = await SqliteServerSettingsStore(path).open()
    try:
        await settings.update("discord", "1", destination="streaming")
        await productions.put(Production(id="discord:1:2", owner="u"))
        assert (await productions.get("discord:1:2")) is not None
        assert (await settings.get("discord", "1")).destination == "streaming"
    finally:
        await settings.close()
        await productions.close()
    reopened = await SqliteStore(path).open()  # the productions' migrations still apply cleanly
    try:
        assert (await reopened.get("discord:1:2")) is not None
    finally:
        await reopened.close()


@pytest.mark.parametrize("change", [{"destination": "the moon"}, {"answerers": "admins"},
                                    {"max_upload_mb": 0}])
async def test_bad_choices_are_refused_and_nothing_is_saved(tmp_path: Path,
                                                            change: dict[str, object]) -> None:
    store = await SqliteServerSettingsStore(tmp_path / "v.sqlite").open()
    try:
        with pytest.raises(ValidationError):
            await store.update("discord", "1", **change)
        assert await store.get("discord", "1") == ServerSettings()
    finally:
        await store.close()


def test_unknown_destination_message_lists_the_presets() -> None:
    with pytest.raises(ValidationError, match="club"):
        ServerSettings(destination="radio")
