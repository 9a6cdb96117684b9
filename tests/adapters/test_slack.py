"""Slack end to end: signed HTTP requests into the app, the real slack_sdk client against a
loopback fake of the Web API, the real Maestro, SQLite store and inline process-pool queue.

One app serves the whole module (its worker process starts once); each test uses its own
channel so conversations never meet.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import math
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackThread
from bot.app import App, build_app
from bot.runtime import pump_events
from bot.settings import Settings
from bot.slack_bot import EVENTS_PATH, open_slack, slack_routes
from core.conversation import Attachment, AttachmentKind, FileReply, ProgressReply, TextReply
from core.jobs import JobKind
from core.production import Production
from tests.fakes.faults import Fault
from tests.fakes.honest_queue import fake_key
from tests.fakes.slack_api import FakeMessage, FakeSlackAPI

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0VYKE"
DIRECTOR = "U0DIRECTOR"
FRIEND = "U0FRIEND"
MAX_UPLOAD_MB = 8


@dataclass
class World:
    slack: FakeSlackAPI
    app: App
    http: TestClient  # type: ignore[type-arg]
    adapter: Any
    data_dir: Path

    async def signed_post(self, body: str, *, content_type: str, secret: str = SECRET,
                          age_s: float = 0.0, retry: int | None = None,
                          settle: bool = True) -> int:
        timestamp = str(int(time.time() - age_s))
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": SignatureVerifier(secret).generate_signature(
                timestamp=timestamp, body=body),
        }
        if retry is not None:
            headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
        response = await self.http.post(EVENTS_PATH, data=body.encode(), headers=headers)
        if settle:  # wait for the turn it started (not when the test holds the thread itself)
            await self.adapter.idle()
        return response.status

    async def remix(self, channel: str, text: str, *, user: str = DIRECTOR, team: str = TEAM,
                    **signing: Any) -> int:
        body = urlencode({
            "token": "legacy", "team_id": team, "team_domain": "vyke", "channel_id": channel,
            "channel_name": "music", "user_id": user, "user_name": "director",
            "command": "/remix", "text": text, "api_app_id": "A0VYKE",
            "response_url": self.slack.response_url(channel), "trigger_id": f"t-{channel}",
        })
        return await self.signed_post(body, content_type="application/x-www-form-urlencoded",
                                      **signing)

    async def event(self, event: dict[str, Any], *, event_id: str, team: str = TEAM,
                    **signing: Any) -> int:
        body = json.dumps({
            "token": "legacy", "team_id": team, "api_app_id": "A0VYKE",
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": self.slack.bot_user_id,
                                "is_bot": True}],
            "event": event,
        })
        return await self.signed_post(body, content_type="application/json", **signing)

    async def react(self, message: FakeMessage, reaction: str, *, user: str, event_id: str,
                    settle: bool = True) -> int:
        """Send ``reaction_added`` for ``user`` reacting to one of the bot's messages."""
        event = {"type": "reaction_added", "user": user, "reaction": reaction,
                 "item_user": self.slack.bot_user_id, "event_ts": str(time.time()),
                 "item": {"type": "message", "channel": message.channel, "ts": message.ts}}
        return await self.event(event, event_id=event_id, settle=settle)

    async def say(self, message: FakeMessage, *, event_id: str, mention: bool = False,
                  **signing: Any) -> int:
        """Send the event Slack sends for a person's message (already added to the fake)."""
        event: dict[str, Any] = {
            "type": "app_mention" if mention else "message", "channel": message.channel,
            "user": message.user, "text": message.text, "ts": message.ts,
            "event_ts": message.ts, "channel_type": "channel",
        }
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
        if message.files:
            event["files"] = [{"id": f, "mode": "hosted"} for f in message.files]
            if not mention:
                event["subtype"] = "file_share"
        return await self.event(event, event_id=event_id, **signing)

    async def press(self, question: FakeMessage, option_id: str, *, user: str = DIRECTOR,
                    team: str = TEAM, settle: bool = True) -> int:
        """Press the button of ``option_id`` exactly as the fake shows it in the message."""
        payload = self.slack.press_payload(question, option_id, user=user, team=team)
        return await self.signed_post(urlencode({"payload": json.dumps(payload)}),
                                      content_type="application/x-www-form-urlencoded",
                                      settle=settle)

    def opened_thread(self, channel: str) -> SlackThread:
        (root,) = self.slack.roots(channel)
        return SlackThread(TEAM, channel, root.ts)

    def with_song(self, channel: str, text: str, *, name: str = "idea.mp3",
                  thread_ts: str | None = None) -> FakeMessage:
        """The director's message carrying an MP3 they shared (a 2 s tone), already added to
        the fake; the event for it is the test's to send."""
        shared = self.slack.share_file(name=name, data=tone_mp3(), mimetype="audio/mpeg",
                                       user=DIRECTOR)
        return self.slack.add_message(channel=channel, text=text, user=DIRECTOR,
                                      thread_ts=thread_ts, files=[shared["id"]])

    def questions(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """The bot's messages in a thread that carry buttons."""
        return [m for m in self.slack.thread(channel, thread_ts)
                if any(b["type"] == "actions" for b in m.blocks)]

    async def production_in(self, channel: str, thread_ts: str, *,
                            team: str = TEAM) -> Production | None:
        return await self.app.store.get(SlackThread(team, channel, thread_ts).conversation_id)

    async def answer_during_a_running_turn(self, conversation: str,
                                           answer: Callable[[], Awaitable[int]]) -> None:
        """Send ``answer`` (a press or a reaction, not settled) while the conversation's turn
        is running: Slack gets its 200 within its 3 s, and the answer is applied only after."""
        async with self.adapter._lock(self.adapter._turn_locks, conversation):
            started = time.monotonic()
            assert await answer() == 200
            assert time.monotonic() - started < 3.0  # acknowledged within Slack's 3 s
            production = await self.app.store.get(conversation)
            assert production is not None and not production.versions  # not applied yet
        await self.adapter.idle()
        production = await self.app.store.get(conversation)
        assert production is not None and production.versions  # applied after the turn


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data_dir = tmp_path_factory.mktemp("slack-data")
    async with FakeSlackAPI(closed_channels=frozenset({"C0CLOSED"})) as slack:
        # one director starts many productions in this module, some still analysing when the
        # next test begins: the per-person limit is not what these tests are about
        settings = Settings(_env_file=None, data_dir=data_dir, anthropic_api_key=None,
                            redis_url=None, slack_bot_token=slack.bot_token,
                            slack_signing_secret=SECRET, max_upload_mb=MAX_UPLOAD_MB,
                            jobs_per_user=50, productions_per_server=50,
                            link_secret=SecretStr("slack-test-links"),
                            public_url="https://vyke.example",
                            max_bars=32)  # the thread is under test, not the render's length
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        async with build_app(settings) as app, \
                open_slack(app, client=client, download_hosts=frozenset({"127.0.0.1"}),
                           progress_interval_s=0.0) as adapter:
            import asyncio

            pump = asyncio.create_task(pump_events(app, adapter.post), name="test-slack-pump")
            web_app = web.Application()
            web_app.add_routes(slack_routes(adapter))
            async with TestClient(TestServer(web_app, host="127.0.0.1")) as http:
                yield World(slack=slack, app=app, http=http, adapter=adapter, data_dir=data_dir)
            pump.cancel()
        # the fake refuses what Slack would; nothing the bot sent in this module broke a limit
        assert slack.violations == []


def tone_mp3(seconds: float = 2.0, *, hz: float = 440.0, sample_rate: int = 44_100) -> bytes:
    """A real MP3 of a sine tone (mono, 128 kbps), encoded with LAME."""
    import lameenc
    import numpy as np

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pcm = (0.3 * np.sin(2 * math.pi * hz * t) * 32767).astype("<i2")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(2)
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


# --- requests Slack did not sign are refused --------------------------------------------------


@pytest.mark.parametrize("forgery", [{"secret": "not-the-signing-secret"}, {"age_s": 6 * 60}],
                         ids=["bad signature", "timestamp older than 5 minutes"])
async def test_unsigned_or_replayed_requests_are_refused_and_do_nothing(
        world: World, forgery: dict[str, Any]) -> None:
    channel = "C0FORGED" + ("S" if "secret" in forgery else "T")
    before = len(world.slack.requests)
    assert await world.remix(channel, "into Afro Circuit", **forgery) == 401
    message = world.slack.add_message(channel=channel, text="<@U0VYKEBOT> remix this",
                                      user=DIRECTOR)
    assert await world.say(message, event_id=f"Ev-{channel}", mention=True, **forgery) == 401
    assert world.slack.requests[before:] == []  # nothing reached Slack: no thread, no reply
    assert await world.app.store.get(f"slack:{TEAM}:{channel}:{message.ts}") is None


# --- /remix, the thread, the song, the questions ---------------------------------------------


async def test_remix_opens_a_thread_and_asks_for_the_track_there(world: World) -> None:
    assert await world.remix("C0REMIX", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0REMIX")
    root = world.slack.message(thread.thread_ts)
    assert f"<@{DIRECTOR}>" in root.text and "Afro Circuit" in root.text
    (ask,) = world.slack.thread("C0REMIX", thread.thread_ts)
    assert "attach the song" in ask.text
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None and production.owner == DIRECTOR
    assert production.awaiting == "song"


async def test_remix_where_the_bot_cannot_post_tells_only_the_director(world: World) -> None:
    assert await world.remix("C0CLOSED", "into Afro Circuit") == 200
    assert world.slack.roots("C0CLOSED") == []
    (answer,) = [e for e in world.slack.ephemeral if "/invite" in e.get("text", "")]
    assert answer["response_type"] == "ephemeral"


@pytest.mark.slow
async def test_remix_song_questions_buttons_and_results_through_the_real_maestro(
        world: World, tmp_path: Path) -> None:
    from jobs.demo_song import make_demo_song

    song = make_demo_song(tmp_path / "my-song.wav", duration_s=20.0).read_bytes()
    slack, channel = world.slack, "C0FULL"
    assert await world.remix(channel, "this into Afro Circuit, instrumental") == 200
    thread = world.opened_thread(channel)

    shared = slack.share_file(name="my-song.wav", data=song, mimetype="audio/wav", user=DIRECTOR)
    message = slack.add_message(channel=channel, text="", user=DIRECTOR,
                                thread_ts=thread.thread_ts, files=[shared["id"]])
    assert await world.say(message, event_id="Ev-full-song") == 200

    # the song was sized, then downloaded with the bot token, byte for byte
    assert slack.made("files.info")[-1].args["file"] == shared["id"]
    (download,) = slack.made("download")
    assert download.headers["authorization"] == f"Bearer {slack.bot_token}"
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None and production.source is not None
    assert Path(production.source.path).read_bytes() == song

    # analysis runs for real; its progress is one message edited in place
    finished = await slack.wait_for(lambda s: [m for m in s.thread(channel, thread.thread_ts)
                                               if m.text.startswith("Analysed the song")
                                               or "Analysing the song: failed" in m.text])
    assert "BPM" in finished[0].text and "LUFS" in finished[0].text, finished[0].text
    progress = [m for m in slack.thread(channel, thread.thread_ts) if "Analysing" in m.text]
    assert len(progress) == 1 and progress[0].edits >= 1
    assert progress[0].text.startswith("✅") and "done" in progress[0].text

    # the key/tempo question came as buttons, once the song was heard (the key it suggests
    # sits near the song's); pressing one is the director's answer
    (question,) = await slack.wait_for(lambda s: [m for m in s.thread(channel, thread.thread_ts)
                                                  if any(b["type"] == "actions"
                                                         for b in m.blocks)])
    labels = [e["text"]["text"] for b in question.blocks if b["type"] == "actions"
              for e in b["elements"]]
    assert "Keep the song's key and tempo" in labels
    stale_copy = copy.deepcopy(question)  # what a second client still shows
    assert await world.press(question, "keep") == 200
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None and production.analysis is not None
    assert production.brief.key is not None and production.brief.bpm is not None
    assert production.brief.key.value == production.analysis.key.key
    assert production.brief.bpm.value == pytest.approx(production.analysis.tempo.bpm, abs=0.1)
    closed = slack.message(question.ts)
    assert not any(b["type"] == "actions" for b in closed.blocks)  # no second press possible
    assert "Keep the song's key and tempo" in json.dumps(closed.blocks)

    # pressing the old button again (a stale copy) is answered to the presser only
    replies_before = len(slack.thread(channel, thread.thread_ts))
    assert await world.press(stale_copy, "keep") == 200
    assert any("already answered" in e["text"] for e in slack.ephemeral)
    assert len(slack.thread(channel, thread.thread_ts)) == replies_before

    # then the version renders into the thread, or the thread says plainly it cannot
    if world.app.queue.supports(JobKind.RENDER):
        # preview and picture come with the render, the project zip after its export: as a
        # file, or as a signed link when it is over the 50 MB Slack uploads are kept under
        def project_posted(s: FakeSlackAPI) -> list[Any] | None:
            uploads = s.uploads_in(channel, thread.thread_ts)
            linked = any("Ableton Live project" in m.text and "over what I can upload" in m.text
                         for m in s.thread(channel, thread.thread_ts))
            return uploads if linked or any(f.name.endswith(".zip") for f in uploads) else None

        uploads = await slack.wait_for(project_posted, timeout_s=300)
        names = [f.name for f in uploads]
        assert any(n.endswith(".mp3") for n in names) and any(n.endswith(".png") for n in names)
    else:
        texts = [m.text for m in slack.thread(channel, thread.thread_ts)]
        assert any("not available in this installation" in t for t in texts)
        assert slack.uploads_in(channel, thread.thread_ts) == []  # nothing faked


async def test_a_mention_with_a_file_starts_a_production_in_its_own_thread(world: World) -> None:
    slack, channel = world.slack, "C0MENTION"
    message = world.with_song(channel, f"<@{slack.bot_user_id}> remix this into Afro Circuit")
    assert await world.say(message, event_id="Ev-mention", mention=True) == 200
    production = await world.production_in(channel, message.ts)
    assert production is not None and production.source is not None
    assert Path(production.source.path).read_bytes() == tone_mp3()
    assert production.brief.genre is not None and production.brief.genre.value == "afro_house"
    replies = slack.thread(channel, message.ts)  # the mention's own thread
    assert replies and all(m.thread_ts == message.ts for m in replies)


async def test_a_mention_with_a_file_that_comes_only_as_a_message_starts_one_production(
        world: World) -> None:
    slack, channel = world.slack, "C0MSGONLY"
    message = world.with_song(channel, f"<@{slack.bot_user_id}> remix this into techno",
                              name="loop.mp3")
    # Slack sent no app_mention for this file share: the message event alone is the turn
    assert await world.say(message, event_id="Ev-msg-only") == 200
    production = await world.production_in(channel, message.ts)
    assert production is not None and production.source is not None
    assert [r.text for r in production.history] == ["remix this into techno"]


async def test_a_mention_with_a_file_sent_as_both_events_is_one_turn(world: World) -> None:
    slack, channel = world.slack, "C0BOTHEV"
    message = world.with_song(channel, f"<@{slack.bot_user_id}> remix this into techno")
    assert await world.say(message, event_id="Ev-both-message") == 200
    assert await world.say(message, event_id="Ev-both-mention", mention=True) == 200
    production = await world.production_in(channel, message.ts)
    assert production is not None
    assert len(production.history) == 1  # one production, one turn, whichever came first


async def test_an_oversized_song_is_refused_before_it_is_downloaded(world: World) -> None:
    slack = world.slack
    assert await world.remix("C0BIG", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0BIG")
    big = slack.share_file(name="album.wav", data=b"\0" * (MAX_UPLOAD_MB * 1_000_000 + 1),
                           mimetype="audio/wav", user=DIRECTOR)
    message = slack.add_message(channel="C0BIG", text="", user=DIRECTOR,
                                thread_ts=thread.thread_ts, files=[big["id"]])
    downloads = slack.calls("download")
    assert await world.say(message, event_id="Ev-big") == 200
    assert slack.calls("download") == downloads
    last = slack.thread("C0BIG", thread.thread_ts)[-1]
    assert "album.wav" in last.text and f"{MAX_UPLOAD_MB:.1f} MB" in last.text
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None and production.source is None


# --- retries, strangers' threads, who may answer --------------------------------------------


async def test_a_retried_event_is_handled_once(world: World) -> None:
    slack = world.slack
    assert await world.remix("C0RETRY", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0RETRY")
    message = slack.add_message(channel="C0RETRY", text="status", user=DIRECTOR,
                                thread_ts=thread.thread_ts)
    before = len(slack.thread("C0RETRY", thread.thread_ts))
    assert await world.say(message, event_id="Ev-retry") == 200
    assert len(slack.thread("C0RETRY", thread.thread_ts)) == before + 1
    for retry in (1, 2, 3):
        assert await world.say(message, event_id="Ev-retry", retry=retry) == 200
    assert len(slack.thread("C0RETRY", thread.thread_ts)) == before + 1
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None
    assert [r.text for r in production.history].count("status") == 1


async def test_a_mention_in_our_thread_is_one_turn_not_two(world: World) -> None:
    slack = world.slack
    assert await world.remix("C0TWICE", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0TWICE")
    message = slack.add_message(channel="C0TWICE", text=f"<@{slack.bot_user_id}> status",
                                user=DIRECTOR, thread_ts=thread.thread_ts)
    before = len(slack.thread("C0TWICE", thread.thread_ts))
    # Slack sends both for one message: the channel message and the mention
    assert await world.say(message, event_id="Ev-twice-message") == 200
    assert await world.say(message, event_id="Ev-twice-mention", mention=True) == 200
    assert len(slack.thread("C0TWICE", thread.thread_ts)) == before + 1
    production = await world.app.store.get(thread.conversation_id)
    assert production is not None and [r.text for r in production.history].count("status") == 1

async def test_messages_outside_our_threads_are_left_alone(world: World) -> None:
    slack = world.slack
    top = slack.add_message(channel="C0CHATTER", text="anyone up for lunch?", user=FRIEND)
    assert await world.say(top, event_id="Ev-chatter-1") == 200
    other_thread = slack.add_message(channel="C0CHATTER", text="bass too loud", user=FRIEND,
                                     thread_ts=top.ts)
    assert await world.say(other_thread, event_id="Ev-chatter-2") == 200
    assert slack.thread("C0CHATTER", top.ts) == [other_thread]  # the bot said nothing
    assert await world.production_in("C0CHATTER", top.ts) is None


async def test_when_the_team_says_so_only_the_owner_answers(world: World) -> None:
    team = "T0STRICT"
    await world.adapter.server_settings.update("slack", team, answerers="owner")
    slack = world.slack
    assert await world.remix("C0STRICT", "this into Afro Circuit", team=team) == 200
    (root,) = slack.roots("C0STRICT")
    song = world.with_song("C0STRICT", "", thread_ts=root.ts)
    assert await world.say(song, event_id="Ev-strict-song", team=team) == 200
    # asked once the song is analysed (the suggested key sits near the song's)
    questions = await slack.wait_for(lambda s: world.questions("C0STRICT", root.ts))
    assert questions, "a question with buttons was asked"
    question = questions[-1]
    option = next(e for b in question.blocks if b["type"] == "actions"
                  for e in b["elements"])["action_id"].split(":")[-1]
    conversation = SlackThread(team, "C0STRICT", root.ts).conversation_id
    before = await world.app.store.get(conversation)
    assert await world.press(question, option, user=FRIEND, team=team) == 200
    assert any(f"<@{DIRECTOR}>" in e["text"] for e in slack.ephemeral)
    after = await world.app.store.get(conversation)
    assert before is not None and after is not None
    assert after.pending_question == before.pending_question and after.history == before.history
    assert await world.press(question, option, user=DIRECTOR, team=team) == 200
    after = await world.app.store.get(conversation)
    assert after is not None and after.pending_question != before.pending_question


# --- what the bot posts: files, links, progress ----------------------------------------------


async def test_preview_picture_and_project_zip_are_uploaded_into_the_thread(
        world: World, tmp_path: Path) -> None:
    assert await world.remix("C0FILES", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0FILES")
    preview = tmp_path / "preview.mp3"
    preview.write_bytes(tone_mp3(3.0))
    project = tmp_path / "project.zip"
    with zipfile.ZipFile(project, "w") as archive:
        archive.writestr("Afro Circuit Project/preview.mp3", preview.read_bytes())
    for path, kind, caption in [(preview, AttachmentKind.AUDIO, "Preview (v1)"),
                                (project, AttachmentKind.ARCHIVE, "Ableton Live project (v1)")]:
        await world.adapter.post(thread.conversation_id, FileReply(caption=caption, attachment=Attachment(
            name=path.name, path=str(path), size_bytes=path.stat().st_size, kind=kind)))
    await world.adapter.post(thread.conversation_id, FileReply(caption="Stems (v1)", attachment=Attachment(
        name="stems.zip", url="https://vyke.example/files/stems.zip?sig=abc", kind=AttachmentKind.LINK)))

    uploads = world.slack.uploads_in("C0FILES", thread.thread_ts)
    assert [f.title for f in uploads] == ["Preview (v1)", "Ableton Live project (v1)"]
    assert uploads[0].data == preview.read_bytes()
    assert zipfile.ZipFile(io.BytesIO(uploads[1].data)).namelist() == [
        "Afro Circuit Project/preview.mp3"]
    lengths = [int(r.args["length"]) for r in world.slack.made("files.getUploadURLExternal")[-2:]]
    assert lengths == [preview.stat().st_size, project.stat().st_size]
    completes = world.slack.made("files.completeUploadExternal")[-2:]
    assert {(r.args["channel_id"], r.args["thread_ts"]) for r in completes} == {
        ("C0FILES", thread.thread_ts)}
    link = world.slack.thread("C0FILES", thread.thread_ts)[-1]
    assert "Stems (v1)" in link.text and "https://vyke.example/files/stems.zip?sig=abc" in link.text


async def test_a_300_mb_project_goes_as_a_signed_link_not_an_upload(world: World) -> None:
    assert await world.remix("C0BIGZIP", "this into techno") == 200
    thread = world.opened_thread("C0BIGZIP")
    key = fake_key("big", ".zip")  # in the store, never fetched to this host: only linked
    uploads_before = len(world.slack.made("files.getUploadURLExternal"))
    import tracemalloc

    tracemalloc.start()
    try:
        await world.adapter.post(thread.conversation_id, FileReply(
            caption="v1 Ableton Live project", attachment=Attachment(
                name="Big Project.zip", key=key, size_bytes=300 * 1024 * 1024,
                kind=AttachmentKind.ARCHIVE)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # the file was never held in memory (200 MB budget)
    assert len(world.slack.made("files.getUploadURLExternal")) == uploads_before  # never read
    [posted] = [m for m in world.slack.thread("C0BIGZIP", thread.thread_ts)
                if "Ableton Live project" in m.text]
    assert "300.0 MiB" in posted.text
    assert f"https://vyke.example/files/{key}/Big%20Project.zip?" in posted.text


async def test_progress_is_one_message_per_job_edited_in_place(world: World) -> None:
    assert await world.remix("C0PROGRESS", "this into Afro Circuit") == 200
    thread = world.opened_thread("C0PROGRESS")
    steps = [ProgressReply(job_id="render-1", step="Rendering (queued)", fraction=0.0, position=2),
             ProgressReply(job_id="render-1", step="Rendering: drums", fraction=0.4),
             ProgressReply(job_id="export-1", step="Exporting the project", fraction=0.1),
             ProgressReply(job_id="render-1", step="Rendering: drums", fraction=0.4),  # no change
             ProgressReply(job_id="render-1", step="Rendering: done", fraction=1.0, done=True)]
    for step in steps:
        await world.adapter.post(thread.conversation_id, step)
    posted = [m for m in world.slack.thread("C0PROGRESS", thread.thread_ts)
              if m.text.startswith(("⏳", "✅"))]
    assert len(posted) == 2  # one per job
    render, export = posted
    # the final state always lands; the "drums" edit in between is skipped when chat.update's
    # tier is spent (earlier tests in this module share the workspace's budget)
    assert render.text == "✅ Rendering: done" and 1 <= render.edits <= 2
    assert "Exporting the project" in export.text and "10%" in export.text and export.edits == 0


# --- the app manifest ------------------------------------------------------------------------


async def test_the_manifest_asks_for_exactly_what_the_bot_uses(world: World) -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "slack-manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read", "channels:history", "chat:write", "commands", "files:read",
        "files:write", "groups:history", "reactions:read"]
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == [
        "app_mention", "message.channels", "message.groups", "reaction_added"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    urls = {manifest["settings"]["event_subscriptions"]["request_url"],
            manifest["settings"]["interactivity"]["request_url"],
            *(c["url"] for c in manifest["features"]["slash_commands"])}
    assert {url.split(".com", 1)[1] for url in urls} == {EVENTS_PATH}
    # every command the manifest declares is one the app answers
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/remix"]


async def test_vyke_slack_refuses_to_start_without_its_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.slack_bot import run_slack

    assert await run_slack(Settings(_env_file=None, slack_bot_token=None)) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    assert await run_slack(Settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token=None,
                                    slack_signing_secret=None)) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err


async def test_an_echoed_prompt_cannot_ping_the_channel_or_make_a_link(world: World) -> None:
    assert await world.remix("C0ESCAPE", "<!channel> remix & flip <https://evil.example|this>") == 200
    thread = world.opened_thread("C0ESCAPE")
    root = world.slack.message(thread.thread_ts)
    assert "<!channel>" not in root.text and "<https://" not in root.text
    assert "&lt;!channel&gt;" in root.text and "remix &amp; flip" in root.text
    assert f"<@{DIRECTOR}>" in root.text  # the director's own mention is still a mention


async def test_a_rate_limit_slack_sdk_stops_waiting_out_carries_retry_after(world: World) -> None:
    """The event pump waits as long as Slack asked before trying the post again."""
    # earlier tests' jobs post through the same fake: let them finish, or they take the 429s
    async with asyncio.timeout(600):
        while world.app.queue.pending() or world.app.queue._events.qsize():
            await asyncio.sleep(0.2)
    root = world.slack.add_message(channel="C0RETRY", text="root", user=DIRECTOR)
    conversation_id = SlackThread(TEAM, "C0RETRY", root.ts).conversation_id
    faults = world.slack.faults
    # only this thread's posts are refused: other tests' jobs may still post elsewhere
    faults.next("chat.postMessage", Fault("status", 429, seconds=0.0), times=2,
                where="C0RETRY")  # waited out
    faults.next("chat.postMessage", Fault("status", 429, seconds=7.0),
                where="C0RETRY")  # handed to the pump
    with pytest.raises(SlackApiError) as refused:
        await world.adapter.post(conversation_id, TextReply(text="held back"))
    assert getattr(refused.value, "retry_after", None) == 7.0
    await world.adapter.post(conversation_id, TextReply(text="then it lands"))
    assert [m.text for m in world.slack.thread("C0RETRY", root.ts)] == ["then it lands"]
    assert not world.slack.violations


async def test_a_number_reaction_answers_a_question_even_during_a_running_turn(
        world: World) -> None:
    """:one:… on a question answer it like its buttons: the event is acknowledged at once and
    the answer applied after the running turn; a stale reaction is told privately."""
    slack, channel = world.slack, "C0REACT"
    mention = slack.add_message(channel=channel, text=f"<@{slack.bot_user_id}> a techno track "
                                "at 130", user=DIRECTOR)
    assert await world.say(mention, event_id="Ev-react-start", mention=True) == 200
    [question] = world.questions(channel, mention.ts)
    assert "or react :one:" in json.dumps(question.blocks)
    actions = next(b for b in question.blocks if b["type"] == "actions")
    index = [e["action_id"].rsplit(":", 1)[1] for e in actions["elements"]].index("agree")
    conversation = SlackThread(TEAM, channel, mention.ts).conversation_id
    numbers = ["one", "two", "three", "four", "five"]
    assert await world.react(question, "thumbsup", user=DIRECTOR, event_id="Ev-react-0") == 200
    assert slack.message(question.ts).blocks == question.blocks  # not a number: nothing
    await world.answer_during_a_running_turn(conversation, lambda: world.react(
        question, numbers[index], user=DIRECTOR, event_id="Ev-react-1", settle=False))
    closed = slack.message(question.ts)
    assert not any(b["type"] == "actions" for b in closed.blocks)
    assert "react:" not in json.dumps(closed.blocks)  # the hint went with the buttons
    assert await world.react(question, "one", user="U0GUEST", event_id="Ev-react-2") == 200
    assert any(e.get("user") == "U0GUEST" and "already answered" in e["text"]
               for e in slack.ephemeral)
    assert not slack.violations


async def test_a_press_during_a_running_turn_is_acknowledged_at_once_and_applied_after(
        world: World) -> None:
    slack, channel = world.slack, "C0PRESSRUN"
    mention = slack.add_message(channel=channel, text=f"<@{slack.bot_user_id}> a techno track "
                                "at 130", user=DIRECTOR)
    assert await world.say(mention, event_id="Ev-pressrun", mention=True) == 200
    [question] = world.questions(channel, mention.ts)
    conversation = SlackThread(TEAM, channel, mention.ts).conversation_id
    await world.answer_during_a_running_turn(
        conversation, lambda: world.press(question, "agree", settle=False))
    assert not slack.violations
