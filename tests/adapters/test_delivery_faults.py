"""Every result reaches its thread exactly once on Discord and on Slack, with faults on.

The real adapters (discord.py and slack_sdk underneath) talk to the strict loopback fakes
while every third API call answers 429 or 500 and one upload times out once; nothing a fake
would refuse for breaking a platform limit may be sent.

* :func:`test_the_seed_conversation_lands_once_with_faults_on_and_a_restart` plays the
  design's seed conversation as each platform delivers it: a remix request with the song
  attached (Discord: ``/remix`` with the file; Slack: ``/remix``, then the file shared in the
  thread), the key/tempo and vocal questions answered (one by a button press, one in words),
  v1 rendered and exported, "Bass too loud, needs more sidechain" -> v2, "Add filter sweep on
  build" -> v3. The bot process restarts while v1 renders, and the queue delivers v2's render
  and export events twice (an acknowledgement lost). Every version's text, preview, pictures
  and project must be in the thread once.
* :func:`test_every_result_lands_once_with_faults_on_and_a_restart` is the harder restart on
  one version: the process dies after the first reply of the render's result landed, and a
  third one (same data folder) posts the rest at start; the queue then delivers the render
  event again and the export after it.

What is not real here, and why: the jobs are scripted (``ScriptedQueue``; the test writes
each analysis, separation, render and export result, with the numbers a perfect engine would
measure): real renders take minutes each, and rendering is not what this is about. The
conversation's turns run through the real adapters, Maestro, rule brain, Chefs and SQLite
store. Waiting is compressed (:class:`FastTime`): every ``asyncio.sleep`` (discord.py's and
slack_sdk's retry waits, the event pump's backoff, the fakes' held requests) and the clocks of
the fakes' rate tiers and the Slack adapter's pacer run 20 times fast, so the tiers are the
platforms' own, kept in compressed time, and the test takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.discord import DiscordAdapter, VykeClient, parse_custom_id
from adapters.slack import SlackAdapter, SlackThread
from bot.discord_bot import intents
from bot.runtime import deliver_undelivered, handle_event
from chefs import all_chefs, load_genres
from core.artifacts import LocalArtifactStore
from core.conversation import Author, FileReply, Reply, Turn
from core.jobs import ExportRequest, JobEvent, JobKind, JobRequest, JobStatus, RenderRequest
from core.maestro import Maestro, MaestroLimits
from core.rule_brain import RuleBrain
from core.server_settings import ServerSettingsStore, SqliteServerSettingsStore
from core.store import SqliteStore
from tests.core.test_maestro import SEED, RenderQueue
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.faults import Fault, Faults
from tests.fakes.honest_queue import fake_key, render_measurements, song_report
from tests.fakes.slack_api import FakeSlackAPI

DEE = Author(id="U0DEE", name="Dee")
FILES = ("preview.mp3", "arrangement.png", "tonal.png")
SIGNING_SECRET = "s"
#: what each version posts: (the caption after "vN ", the file's extension)
VERSION_FILES = (("preview", ".mp3"), ("arrangement", ".png"), ("tonal balance", ".png"),
                 ("Ableton Live project", ".zip"))


class FastTime:
    """Time for waiting, ``factor`` times fast: a sleep of s seconds takes s/factor, and
    :meth:`now` counts seconds ``factor`` times fast, for the clocks of rate tiers."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._sleep = asyncio.sleep

    def now(self) -> float:
        return asyncio.get_running_loop().time() * self.factor

    async def sleep(self, delay: float, result: Any = None) -> Any:
        return await self._sleep(delay / self.factor, result)


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> FastTime:
    """Every ``asyncio.sleep`` 20 times fast (retry waits, backoff, held requests)."""
    clock = FastTime(20.0)
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    return clock


class ScriptedQueue(RenderQueue):
    """Takes analyses, separations, renders and exports; the test writes their results."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: set[str] = set()
        self.artifacts: LocalArtifactStore | None = None  #: where its "workers" publish

    def supports(self, kind: JobKind) -> bool:
        return kind in (JobKind.ANALYZE, JobKind.SEPARATE, JobKind.RENDER, JobKind.EXPORT)

    def waiting(self, *kinds: JobKind) -> list[JobRequest]:
        return [r for r in self.requests if r.kind in kinds and r.job_id not in self.finished]

    async def finish(self, request: JobRequest, store: SqliteStore) -> JobEvent:
        """The worker's DONE event for ``request``, its files written where it would write."""
        self.finished.add(request.job_id)
        return JobEvent(job_id=request.job_id, production_id=request.production_id,
                        kind=request.kind, status=JobStatus.DONE, version=request.version,
                        result=await _result(request, store, self.artifacts))


async def _result(request: JobRequest, store: SqliteStore,
                  artifacts: LocalArtifactStore | None) -> dict[str, Any]:
    assert artifacts is not None
    if request.kind is JobKind.ANALYZE:
        return {"report": song_report().model_dump(mode="json")}
    if request.kind is JobKind.SEPARATE:
        return {"model": "htdemucs", "stems": {
            s: fake_key(s, ".wav") for s in ("vocals", "drums", "bass", "other")}}
    if request.kind is JobKind.EXPORT:
        assert isinstance(request.payload, ExportRequest)
        project = artifacts.put_bytes(request.production_id, "project.zip",
                                      b"PK\x05\x06" + bytes(18))
        return {"artifacts": {"project.zip": project.key}, "size_bytes": project.size_bytes}
    assert isinstance(request.payload, RenderRequest)
    production = await store.get(request.production_id)
    assert production is not None
    version = production.version(request.version)
    parent = production.version(version.parent) if version and version.parent else None
    expected = ([e.model_dump(mode="json") for e in version.patch.expected]
                if version is not None and version.patch is not None else [])
    measurements = render_measurements(
        request.payload, expected=expected,
        parent=parent.measurements.model_dump(mode="json") if parent else None)
    return {"artifacts": _outputs(artifacts, request.production_id),
            "measurements": measurements, "mismatches": []}


@dataclass
class Bot:
    """One bot process: its store, Maestro and adapter's poster."""

    app: SimpleNamespace
    store: SqliteStore
    settings: ServerSettingsStore
    post: Callable[[str, Reply], Awaitable[None]]


class Platform:
    """What differs between Discord and Slack here: a bot, what a director does, what landed."""

    conversation_id: str
    pressed_topic: str  #: the question the director answers with a button (the others in words)

    async def thread(self) -> None: ...

    def bot(self, maestro: Maestro, store: SqliteStore, settings: ServerSettingsStore,
            data_dir: Path) -> Any: ...

    async def remix(self, prompt: str, song: Path) -> None:
        """The director asks for a remix of ``song`` as this platform delivers a file."""

    async def say(self, text: str) -> None:
        """The director writes ``text`` in the production's thread."""

    async def press(self, option_id: str) -> None:
        """The director presses ``option_id`` on the thread's latest question."""

    def faults_on(self) -> None: ...

    def texts(self) -> list[str]:
        raise NotImplementedError

    def files(self) -> list[str]:
        raise NotImplementedError

    def posted(self) -> list[tuple[str, str]]:
        """Every file in the thread as (its caption, its file name)."""
        raise NotImplementedError

    def violations(self) -> list[str]:
        raise NotImplementedError

    def injected(self) -> int:
        raise NotImplementedError

    def faults(self) -> Faults:
        raise NotImplementedError


@asynccontextmanager
async def a_bot(platform: Platform, data_dir: Path, queue: ScriptedQueue) -> AsyncIterator[Bot]:
    """A bot process on ``data_dir`` (a second one is the first after a restart)."""
    db = data_dir / "vyke.sqlite"
    store = await SqliteStore(db).open()
    settings = await SqliteServerSettingsStore(db).open()
    artifacts = queue.artifacts = LocalArtifactStore(data_dir)
    maestro = Maestro(brain=RuleBrain(genres=load_genres()), chefs=all_chefs(),
                      genres=load_genres(), store=store, queue=queue,
                      server_settings=settings, artifacts=artifacts,
                      limits=MaestroLimits(max_upload_bytes=50_000_000, max_song_s=720,
                                           data_dir=str(data_dir)))
    try:
        async with platform.bot(maestro, store, settings, data_dir) as post:
            yield Bot(SimpleNamespace(maestro=maestro, queue=queue, artifacts=artifacts), store,
                      settings, post)
    finally:
        await settings.close()
        await store.close()


_DISCORD_TASKS = ("discord.py: ", "CommandTree-invoker", "discord-ui-")


class OnDiscord(Platform):
    pressed_topic = "key_bpm"

    def __init__(self, api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.monkeypatch = monkeypatch
        self.thread_id = 0
        self.director = api.user("dee")
        self.upload_timed_out = True  # until faults_on

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
        client = VykeClient(adapter, intents=intents(message_content=True),
                            sync_commands=False)
        try:
            injected = self.api.faults.every
            self.api.faults.every = 0  # logging in is not what is tested
            await client.login("fake-token")
            self.api.faults.every = injected
            self.api.connect(client)

            async def post(conversation_id: str, reply: Reply) -> None:
                if isinstance(reply, FileReply) and not self.upload_timed_out:
                    # one upload (a message with a file) is held, then its connection drops
                    self.upload_timed_out = True
                    self.api.faults.next("POST /channels/*/messages",
                                         Fault("timeout", seconds=0.2))
                await adapter.post(conversation_id, reply)

            yield post
        finally:
            await self.settle()
            await client.close()

    async def settle(self) -> None:
        """Wait for every event and interaction handler discord.py started to finish."""
        me = asyncio.current_task()
        while busy := [t for t in asyncio.all_tasks() if t is not me and not t.done()
                       and t.get_name().startswith(_DISCORD_TASKS)]:
            await asyncio.gather(*busy, return_exceptions=True)

    async def remix(self, prompt: str, song: Path) -> None:
        before = set(self.api.threads)
        audio = self.api.attachment(song.name, song.read_bytes(), "audio/x-wav")
        await self.api.dispatch(self.api.slash_command("remix", user=self.director,
                                                       attachment=audio, prompt=prompt))
        await self.settle()
        [self.thread_id] = [t for t in self.api.threads if t not in before]
        self.conversation_id = f"discord:{self.api.guild_id}:{self.thread_id}"

    async def say(self, text: str) -> None:
        self.api.deliver_message(self.api.message_create(text, user=self.director,
                                                         channel_id=self.thread_id))
        await self.settle()

    async def press(self, option_id: str) -> None:
        question = [m for m in self.api.messages_in(self.thread_id) if m.buttons][-1]
        custom_id = next(b["custom_id"] for b in question.buttons
                         if (parse_custom_id(b["custom_id"]) or ("", "", ""))[2] == option_id)
        await self.api.dispatch(self.api.press(int(question.payload["id"]), custom_id,
                                               user=self.director))
        await self.settle()

    def faults_on(self) -> None:
        self.api.faults.fail_every(3, statuses=(429, 500), retry_after_s=0.05)
        self.upload_timed_out = False  # the first file posted times out (see bot())

    def texts(self) -> list[str]:
        return [m.content + "".join(e.get("description", "") for e in m.embeds)
                for m in self.api.messages_in(self.thread_id)]

    def files(self) -> list[str]:
        return [f.filename for m in self.api.messages_in(self.thread_id) for f in m.files]

    def posted(self) -> list[tuple[str, str]]:
        return [(m.content, f.filename) for m in self.api.messages_in(self.thread_id)
                for f in m.files]

    def violations(self) -> list[str]:
        return self.api.violations

    def injected(self) -> int:
        return len(self.api.faults.injected)

    def faults(self) -> Faults:
        return self.api.faults


class OnSlack(Platform):
    pressed_topic = "vocal"

    def __init__(self, slack: FakeSlackAPI) -> None:
        self.slack = slack
        self.channel = "C0FAULTS"
        self.root = ""
        self.adapter: SlackAdapter | None = None
        self.fast: FastTime | None = None
        self._events = 0

    async def thread(self) -> None:
        self.root = self.slack.add_message(channel=self.channel, text="a track",
                                           user=DEE.id).ts
        self.conversation_id = SlackThread("T0VYKE", self.channel, self.root).conversation_id

    @asynccontextmanager
    async def bot(self, maestro: Maestro, store: SqliteStore, settings: ServerSettingsStore,
                  data_dir: Path) -> AsyncIterator[Callable[[str, Reply], Awaitable[None]]]:
        client = AsyncWebClient(token=self.slack.bot_token, base_url=self.slack.api_url)
        adapter = SlackAdapter(client=client, signing_secret=SIGNING_SECRET, maestro=maestro,
                               store=store, data_dir=data_dir, max_upload_bytes=50_000_000,
                               server_settings=settings, progress_interval_s=0.0,
                               download_hosts=frozenset({"127.0.0.1"}))
        if self.fast is not None:  # the adapter's own pacing keeps the fake's compressed time
            for pace in (adapter._post_pace, adapter._update_pace):
                pace.clock, pace.sleep = self.fast.now, self.fast.sleep
        await adapter.start()
        self.adapter = adapter
        try:
            yield adapter.post
        finally:
            await adapter.stop()
            self.adapter = None

    async def _send(self, body: str, content_type: str) -> None:
        """A signed request from Slack to the running bot, and the turn it starts."""
        assert self.adapter is not None
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp,
                                                                         body=body) or ""
        response = await self.adapter.app.async_dispatch(AsyncBoltRequest(body=body, headers={
            "content-type": content_type, "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature}))
        assert response.status == 200, (response.status, response.body)
        await self.adapter.idle()

    async def _event(self, event: dict[str, Any]) -> None:
        self._events += 1
        await self._send(json.dumps({
            "token": "legacy", "team_id": self.slack.team_id, "api_app_id": "A0VYKE",
            "type": "event_callback", "event_id": f"Ev{self._events:04d}",
            "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": self.slack.team_id,
                                "user_id": self.slack.bot_user_id, "is_bot": True}]}),
            "application/json")

    async def remix(self, prompt: str, song: Path) -> None:
        await self._send(urlencode({
            "token": "legacy", "team_id": self.slack.team_id, "team_domain": "vyke",
            "channel_id": self.channel, "channel_name": "music", "user_id": DEE.id,
            "user_name": "dee", "command": "/remix", "text": prompt, "api_app_id": "A0VYKE",
            "response_url": self.slack.response_url(self.channel), "trigger_id": "t-remix"}),
            "application/x-www-form-urlencoded")
        [root] = self.slack.roots(self.channel)
        self.root = root.ts
        self.conversation_id = SlackThread(self.slack.team_id, self.channel,
                                           self.root).conversation_id
        shared = self.slack.share_file(name=song.name, data=song.read_bytes(),
                                       mimetype="audio/wav", user=DEE.id)
        message = self.slack.add_message(channel=self.channel, text="", user=DEE.id,
                                         thread_ts=self.root, files=[shared["id"]])
        await self._event({"type": "message", "subtype": "file_share", "channel": self.channel,
                           "user": DEE.id, "text": "", "ts": message.ts,
                           "event_ts": message.ts, "thread_ts": self.root,
                           "channel_type": "channel",
                           "files": [{"id": shared["id"], "mode": "hosted"}]})

    async def say(self, text: str) -> None:
        message = self.slack.add_message(channel=self.channel, text=text, user=DEE.id,
                                         thread_ts=self.root)
        await self._event({"type": "message", "channel": self.channel, "user": DEE.id,
                           "text": text, "ts": message.ts, "event_ts": message.ts,
                           "thread_ts": self.root, "channel_type": "channel"})

    async def press(self, option_id: str) -> None:
        question = [m for m in self.slack.thread(self.channel, self.root)
                    if any(b["type"] == "actions" for b in m.blocks)][-1]
        payload = self.slack.press_payload(question, option_id, user=DEE.id,
                                           team=self.slack.team_id, username="dee")
        await self._send(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")

    def faults_on(self) -> None:
        self.slack.faults.fail_every(3, statuses=(429, 500), retry_after_s=0.0)
        self.slack.faults.next("upload", Fault("timeout", seconds=0.2))

    def texts(self) -> list[str]:
        return [m.text for m in self.slack.thread(self.channel, self.root)]

    def files(self) -> list[str]:
        return [f.name for f in self.slack.uploads_in(self.channel, self.root)]

    def posted(self) -> list[tuple[str, str]]:
        return [(f.title, f.name) for f in self.slack.uploads_in(self.channel, self.root)]

    def violations(self) -> list[str]:
        return self.slack.violations

    def injected(self) -> int:
        return len(self.slack.faults.injected)

    def faults(self) -> Faults:
        return self.slack.faults


@pytest.fixture(params=["discord", "slack"])
async def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   fast: FastTime) -> AsyncIterator[Platform]:
    if request.param == "discord":
        async with FakeDiscordAPI() as api:
            api.rates.clock = fast.now  # Discord's buckets, in the test's compressed time
            yield OnDiscord(api, monkeypatch)
    else:
        async with FakeSlackAPI() as slack:
            slack.rates.clock = fast.now  # Slack's tiers, in the test's compressed time
            on_slack = OnSlack(slack)
            on_slack.fast = fast
            yield on_slack


def _outputs(artifacts: LocalArtifactStore, production_id: str) -> dict[str, str]:
    """A render's files, published as a worker publishes them; their keys."""
    return {name: artifacts.put_bytes(production_id, name, b"\xff\xfb" + name.encode() * 100).key
            for name in FILES}


def _song(path: Path) -> Path:
    """A short WAV (a second of silence): the director's song, as far as the bot can tell."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22_050)
        out.writeframes(bytes(2 * 22_050))
    return path


async def _run(queue: ScriptedQueue, bot: Bot, *kinds: JobKind, times: int = 1) -> None:
    """The worker finishes every waiting job of ``kinds``; the bot posts each result (an
    event delivered ``times`` times: the queue did not hear the first acknowledgement)."""
    for request in queue.waiting(*kinds):
        event = await queue.finish(request, bot.store)
        for _ in range(times):
            assert await handle_event(bot.app, event, bot.post)  # type: ignore[arg-type]


async def _answer_questions(platform: Platform, queue: ScriptedQueue, bot: Bot) -> None:
    """Answer every question the Maestro asks, as the seed's director does: one with a button
    (``platform.pressed_topic``), the others in the seed's words."""
    words = {"key_bpm": SEED[1], "vocal": SEED[2]}
    asked = []
    for _ in range(4):
        production = await bot.store.get(platform.conversation_id)
        assert production is not None
        if (question := production.pending_question) is None:
            break
        asked.append(question.topic)
        if question.topic == platform.pressed_topic:
            await platform.press(question.options[0].id)
        else:
            await platform.say(words.get(question.topic, "yes"))
        await _run(queue, bot, JobKind.ANALYZE, JobKind.SEPARATE)
    assert asked == ["key_bpm", "vocal"]  # the seed's two questions, each answered once


async def test_the_seed_conversation_lands_once_with_faults_on_and_a_restart(
        platform: Platform, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    queue = ScriptedQueue()
    platform.faults_on()  # for the whole conversation

    async with a_bot(platform, data_dir, queue) as bot:
        await platform.remix(SEED[0], _song(tmp_path / "madonna.wav"))
        cid = platform.conversation_id
        production = await bot.store.get(cid)
        assert production is not None and production.source is not None  # the song arrived
        await _run(queue, bot, JobKind.ANALYZE, JobKind.SEPARATE)
        await _answer_questions(platform, queue, bot)
        assert queue.waiting(JobKind.RENDER)  # v1 renders on a worker ...
    async with a_bot(platform, data_dir, queue) as bot:  # ... while the bot restarts
        assert await deliver_undelivered(bot.app, bot.post) == 0  # type: ignore[arg-type]
        await _run(queue, bot, JobKind.RENDER)
        await _run(queue, bot, JobKind.EXPORT)

        await platform.say(SEED[3])  # "Bass too loud, needs more sidechain"
        await _run(queue, bot, JobKind.RENDER, times=2)
        await _run(queue, bot, JobKind.EXPORT, times=2)

        await platform.say(SEED[4])  # "Perfect! Add filter sweep on build (bars 33-48)"
        await _run(queue, bot, JobKind.RENDER)
        await _run(queue, bot, JobKind.EXPORT)
        production = await bot.store.get(cid)
        assert production is not None and production.outbox == []
        assert [v.number for v in production.versions if v.rendered] == [1, 2, 3]

    # the faults really happened, all along: refusals of both kinds and one upload timed out
    statuses = [f.status for _, f in platform.faults().injected if f.kind == "status"]
    assert statuses.count(429) >= 5 and statuses.count(500) >= 5, statuses
    assert platform.faults().count("timeout") == 1
    texts = platform.texts()
    posted = platform.posted()
    for n in (1, 2, 3):
        assert sum(f"v{n} rendered" in t for t in texts) == 1, (n, texts)
        for caption, suffix in VERSION_FILES:
            assert sum(label.startswith(f"v{n} {caption}") and name.endswith(suffix)
                       for label, name in posted) == 1, (n, caption, posted)
    assert len(posted) == 3 * len(VERSION_FILES)
    assert platform.violations() == []


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
                             "artifacts": _outputs(LocalArtifactStore(data_dir), cid),
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
        project = LocalArtifactStore(data_dir).put_bytes(cid, "project.zip",
                                                         b"PK\x05\x06" + bytes(18))
        exported = JobEvent(job_id=export.job_id, production_id=cid, kind=JobKind.EXPORT,
                            status=JobStatus.DONE, version=1,
                            result={"artifacts": {"project.zip": project.key},
                                    "size_bytes": project.size_bytes})
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
