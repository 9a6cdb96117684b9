"""Every result reaches its thread exactly once on Discord and on Slack, with faults on.

The real adapters (discord.py and slack_sdk underneath) post a version's results to the
strict loopback fakes while every third API call answers 429 or 500 and one upload times
out; the bot process restarts while the render runs, then dies again after the first reply
of the render's result landed, and a third one (same data folder) posts the rest at start; the queue then delivers the render event again and
the export after it. Each text, preview, picture and project must be in the thread once,
and no request may have broken a platform limit (the fakes would have refused it).

The jobs themselves are scripted (``ScriptedQueue``): rendering is not what this is about,
and the conversation's turns run through the real Maestro and SQLite store. The whole seed
conversation with real renders on both platforms takes far longer than the test suite may.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.discord import DiscordAdapter, VykeClient
from adapters.slack import SlackAdapter, SlackThread
from bot.discord_bot import intents
from bot.runtime import deliver_undelivered, handle_event
from chefs import all_chefs, load_genres
from core.conversation import Author, Reply, Turn
from core.jobs import JobEvent, JobKind, JobStatus
from core.maestro import Maestro, MaestroLimits
from core.rule_brain import RuleBrain
from core.server_settings import ServerSettingsStore
from core.store import SqliteStore
from tests.core.test_maestro import RenderQueue
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.faults import Fault
from tests.fakes.slack_api import FakeSlackAPI

DEE = Author(id="U0DEE", name="Dee")
FILES = ("preview.mp3", "arrangement.png", "tonal.png")


class ScriptedQueue(RenderQueue):
    """Takes renders and exports; the test writes their results."""

    def supports(self, kind: JobKind) -> bool:
        return kind in (JobKind.RENDER, JobKind.EXPORT)


@dataclass
class Bot:
    """One bot process: its store, Maestro and adapter's poster."""

    app: SimpleNamespace
    store: SqliteStore
    settings: ServerSettingsStore
    post: Callable[[str, Reply], Awaitable[None]]


class Platform:
    """What differs between Discord and Slack here: opening a thread, a bot, what landed."""

    conversation_id: str

    async def thread(self) -> None: ...

    def bot(self, maestro: Maestro, store: SqliteStore, settings: ServerSettingsStore,
            data_dir: Path) -> Any: ...

    def faults_on(self) -> None: ...

    def texts(self) -> list[str]: ...

    def files(self) -> list[str]: ...

    def violations(self) -> list[str]: ...

    def injected(self) -> int: ...


@asynccontextmanager
async def a_bot(platform: Platform, data_dir: Path, queue: ScriptedQueue) -> AsyncIterator[Bot]:
    """A bot process on ``data_dir`` (a second one is the first after a restart)."""
    db = data_dir / "vyke.sqlite"
    store = await SqliteStore(db).open()
    settings = await ServerSettingsStore(db).open()
    maestro = Maestro(brain=RuleBrain(genres=load_genres()), chefs=all_chefs(),
                      genres=load_genres(), store=store, queue=queue,
                      server_settings=settings,
                      limits=MaestroLimits(max_upload_bytes=50_000_000, max_song_s=720,
                                           data_dir=str(data_dir)))
    try:
        async with platform.bot(maestro, store, settings, data_dir) as post:
            yield Bot(SimpleNamespace(maestro=maestro, queue=queue), store, settings, post)
    finally:
        await settings.close()
        await store.close()


class OnDiscord(Platform):
    def __init__(self, api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.monkeypatch = monkeypatch
        self.thread_id = 0

    async def thread(self) -> None:
        self.thread_id = int((await self.api.open_thread(self.api.channel_id,
                                                         {"name": "🎛️ a track"}))["id"])
        self.conversation_id = f"discord:{self.api.guild_id}:{self.thread_id}"

    @asynccontextmanager
    async def bot(self, maestro: Maestro, store: SqliteStore, settings: ServerSettingsStore,
                  data_dir: Path) -> AsyncIterator[Callable[[str, Reply], Awaitable[None]]]:
        self.api.point(self.monkeypatch)
        adapter = DiscordAdapter(maestro=maestro, store=store, server_settings=settings,
                                 data_dir=data_dir, max_song_bytes=50_000_000)
        client = VykeClient(adapter, intents=intents(message_content=False),
                            sync_commands=False)
        try:
            injected = self.api.faults.every
            self.api.faults.every = 0  # logging in is not what is tested
            await client.login("fake-token")
            self.api.faults.every = injected
            self.api.connect(client)
            yield adapter.post
        finally:
            await client.close()

    def faults_on(self) -> None:
        self.api.faults.fail_every(3, statuses=(429, 500), retry_after_s=0.05)
        self.api.faults.next("POST /channels/*/messages", Fault("timeout", seconds=0.2))

    def texts(self) -> list[str]:
        return [m.content + "".join(e.get("description", "") for e in m.embeds)
                for m in self.api.messages_in(self.thread_id)]

    def files(self) -> list[str]:
        return [f.filename for m in self.api.messages_in(self.thread_id) for f in m.files]

    def violations(self) -> list[str]:
        return self.api.violations

    def injected(self) -> int:
        return len(self.api.faults.injected)


class OnSlack(Platform):
    def __init__(self, slack: FakeSlackAPI) -> None:
        self.slack = slack
        self.channel = "C0FAULTS"
        self.root = ""

    async def thread(self) -> None:
        self.root = self.slack.add_message(channel=self.channel, text="a track",
                                           user=DEE.id).ts
        self.conversation_id = SlackThread("T0VYKE", self.channel, self.root).conversation_id

    @asynccontextmanager
    async def bot(self, maestro: Maestro, store: SqliteStore, settings: ServerSettingsStore,
                  data_dir: Path) -> AsyncIterator[Callable[[str, Reply], Awaitable[None]]]:
        client = AsyncWebClient(token=self.slack.bot_token, base_url=self.slack.api_url)
        adapter = SlackAdapter(client=client, signing_secret="s", maestro=maestro, store=store,
                               data_dir=data_dir, max_upload_bytes=50_000_000,
                               server_settings=settings, progress_interval_s=0.0)
        await adapter.start()
        try:
            yield adapter.post
        finally:
            await adapter.stop()

    def faults_on(self) -> None:
        self.slack.faults.fail_every(3, statuses=(429, 500), retry_after_s=0.0)
        self.slack.faults.next("upload", Fault("timeout", seconds=0.2))

    def texts(self) -> list[str]:
        return [m.text for m in self.slack.thread(self.channel, self.root)]

    def files(self) -> list[str]:
        return [f.name for f in self.slack.uploads_in(self.channel, self.root)]

    def violations(self) -> list[str]:
        return self.slack.violations

    def injected(self) -> int:
        return len(self.slack.faults.injected)


@pytest.fixture(params=["discord", "slack"])
async def platform(request: pytest.FixtureRequest,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    if request.param == "discord":
        async with FakeDiscordAPI() as api:
            yield OnDiscord(api, monkeypatch)
    else:
        async with FakeSlackAPI() as slack:
            yield OnSlack(slack)


def _outputs(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in FILES:
        (folder / name).write_bytes(b"\xff\xfb" + name.encode() * 100)
        made[name] = str(folder / name)
    return made


async def test_every_result_lands_once_with_faults_on_and_a_restart(
        platform: Platform, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    queue = ScriptedQueue()
    await platform.thread()
    cid = platform.conversation_id

    async with a_bot(platform, data_dir, queue) as talking:
        await talking.app.maestro.handle(Turn(conversation_id=cid, author=DEE,
                                              text="a 124 BPM deep house track in A minor"))
        while (await talking.store.get(cid)).pending_question is not None:  # type: ignore[union-attr]
            await talking.app.maestro.handle(Turn(conversation_id=cid, author=DEE, text="yes"))
    # the bot restarts while the render runs on a worker; its result comes to the next process
    async with a_bot(platform, data_dir, queue) as first:
        assert await deliver_undelivered(first.app, first.post) == 0  # type: ignore[arg-type]
        render = next(r for r in queue.requests if r.kind is JobKind.RENDER)
        event = JobEvent(job_id=render.job_id, production_id=cid, kind=JobKind.RENDER,
                         status=JobStatus.DONE, version=1, result={
                             "artifacts": _outputs(data_dir / "productions" / "p" / "v1"),
                             "measurements": {"key": "Am", "tempo_bpm": 124.0,
                                              "integrated_lufs": -14.0,
                                              "true_peak_dbtp": -1.2, "tracks": {}},
                             "mismatches": []})
        platform.faults_on()
        landed = 0

        async def dies_after_one(conversation_id: str, reply: Reply) -> None:
            nonlocal landed
            if landed == 1:
                raise ConnectionResetError("the bot process was killed")
            await first.post(conversation_id, reply)
            landed += 1

        assert not await handle_event(first.app, event, dies_after_one)  # type: ignore[arg-type]

    async with a_bot(platform, data_dir, queue) as second:  # the restarted process
        assert await deliver_undelivered(second.app, second.post) >= len(FILES)  # type: ignore[arg-type]
        assert await handle_event(second.app, event, second.post)  # type: ignore[arg-type]
        export = next(r for r in queue.requests if r.kind is JobKind.EXPORT)
        project = data_dir / "productions" / "p" / "v1" / "project.zip"
        project.write_bytes(b"PK\x05\x06" + bytes(18))
        exported = JobEvent(job_id=export.job_id, production_id=cid, kind=JobKind.EXPORT,
                            status=JobStatus.DONE, version=1,
                            result={"artifacts": {"project.zip": str(project)},
                                    "size_bytes": project.stat().st_size})
        assert await handle_event(second.app, exported, second.post)  # type: ignore[arg-type]
        assert await handle_event(second.app, exported, second.post)  # type: ignore[arg-type]
        assert (await second.store.get(cid)).outbox == []  # type: ignore[union-attr]

    assert platform.injected() >= 3  # the faults really happened
    assert sum("v1 rendered" in t for t in platform.texts()) == 1
    files = platform.files()
    for name in FILES:
        assert sum(f.endswith(Path(name).suffix) and Path(name).stem.split(".")[0] in f
                   for f in files) == 1, (name, files)
    assert sum(f.endswith(".zip") for f in files) == 1, files
    assert platform.violations() == []
