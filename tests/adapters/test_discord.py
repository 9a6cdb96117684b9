"""Discord end to end: raw gateway and interaction payloads go through discord.py itself, and
the real client talks HTTP to a loopback fake of Discord's API (tests/fakes/discord_api.py).

The Maestro, the SQLite store and the inline queue are the real ones; analysis of a
generated song runs for real. Result posting is also fed FileReply values for real files
(an MP3 from lameenc, a PNG, zips under and over the upload limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import discord
import lameenc
import pytest
from pydantic import SecretStr

from adapters.discord import NUMBER_EMOJI, custom_id_for, parse_custom_id
from bot.discord_bot import DiscordBot, open_discord
from bot.links import artifact_path, parse, verify
from bot.runtime import pump_events
from bot.settings import Settings
from core import replies as say
from core.artifacts import LocalArtifactStore, folder_name
from core.conversation import Attachment, FileReply, ProgressReply, TextReply
from core.jobs import JobKind
from tests.fakes.discord_api import FakeDiscordAPI, FakeMessage
from tests.fakes.faults import Fault
from tests.fakes.honest_queue import fake_key

pytestmark = pytest.mark.slow  # remixes through the real Maestro

SECRET = "link-secret-for-tests"
MiB = 1024 * 1024


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def song_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=8.0).read_bytes()


def make_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, link_secret=SecretStr(SECRET),
                    public_url="https://vyke.example", anthropic_api_key=None, redis_url=None,
                    inline_workers=1, answerers="thread", log_level="WARNING")


@asynccontextmanager
async def running(settings: Settings, api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch, *,
                  message_content: bool = True) -> AsyncIterator[DiscordBot]:
    """The bot as ``vyke discord`` runs it, minus the gateway socket (the fake feeds events)."""
    api.point(monkeypatch)
    async with open_discord(settings, message_content=message_content) as bot:
        await bot.client.login("fake-token")
        api.connect(bot.client)
        pump = asyncio.create_task(pump_events(bot.app, bot.adapter.post))
        try:
            yield bot
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        # the fake refuses what Discord would; nothing the bot sent broke a limit
        assert api.violations == []


def thread_ids(api: FakeDiscordAPI) -> list[int]:
    return list(api.threads)


def with_buttons(messages: list[FakeMessage]) -> list[FakeMessage]:
    return [m for m in messages if m.buttons]


def button(message: FakeMessage, option_id: str) -> str:
    for b in message.buttons:
        parsed = parse_custom_id(b["custom_id"])
        if parsed and parsed[2] == option_id:
            return str(b["custom_id"])
    raise AssertionError(f"no {option_id!r} button on {message.content!r}")


def mp3_tone(path: Path, *, seconds: float = 2.0, sample_rate: int = 44100) -> Path:
    samples = [int(12000 * math.sin(2 * math.pi * 440 * n / sample_rate))
               for n in range(int(seconds * sample_rate))]
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(2)
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    path.write_bytes(encoder.encode(pcm) + encoder.flush())
    return path


def png(path: Path, *, width: int = 64, height: int = 16) -> Path:
    raw = b"".join(b"\x00" + b"".join(bytes([(x * 4) % 256, 80, 160]) for x in range(width))
                   for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def project_zip(path: Path, *, size_bytes: int) -> Path:
    import os

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("project/stems/drums.wav", os.urandom(size_bytes))
        archive.writestr("project/spec.json", b"{}")
    return path


# --- commands -----------------------------------------------------------------------------


async def test_the_commands_are_published_with_their_options(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch):
        commands = {c["name"]: c for c in api.commands}
    assert set(commands) == {"remix", "produce", "reproduce", "status", "versions", "help",
                             "server-settings"}
    remix = {o["name"]: o for o in commands["remix"]["options"]}
    assert remix["audio"]["type"] == 11 and remix["audio"]["required"]  # an attachment option
    assert remix["prompt"]["type"] == 3
    assert {o["name"]: o["type"] for o in commands["reproduce"]["options"]} == {
        "reference": 11, "prompt": 3}
    admin = commands["server-settings"]
    assert int(admin["default_member_permissions"]) == 1 << 5  # MANAGE_GUILD
    destinations = {c["value"] for o in admin["options"] if o["name"] == "destination"
                    for c in o["choices"]}
    assert {"streaming", "club"} <= destinations


async def test_unchanged_commands_are_not_published_again_on_the_next_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api:
        def published() -> int:
            return sum(1 for r in api.requests if r.method == "PUT" and r.path.endswith("/commands"))

        async with running(make_settings(tmp_path), api, monkeypatch):
            pass
        assert published() == 1
        async with running(make_settings(tmp_path), api, monkeypatch):
            pass
        assert published() == 1  # the same definition: nothing sent
        (tmp_path / "discord-commands.sha256").write_text("an older definition")
        async with running(make_settings(tmp_path), api, monkeypatch):
            pass
        assert published() == 2  # a changed definition is published


# --- the remix flow, through the real Maestro ------------------------------------------------


async def test_remix_defers_opens_a_thread_asks_with_buttons_and_a_press_is_a_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, song_bytes: bytes) -> None:
    settings = make_settings(tmp_path).model_copy(update={"max_bars": 32})  # a short render
    async with FakeDiscordAPI() as api, running(settings, api, monkeypatch) as bot:
        director = api.user("maya")
        song = api.attachment("my song.wav", song_bytes, "audio/x-wav")
        remix = api.slash_command("remix", user=director, attachment=song,
                                  prompt="Remix this to Afro Circuit, instrumental")
        await api.dispatch(remix)
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))

        # acknowledged first, inside the deadline (the fake refuses late answers with 404)
        answers = api.callbacks(remix)
        assert [(a.body["type"], a.status) for a in answers] == [(5, 200)]  # deferred, accepted
        first = api.requests.index(answers[0])
        download = next(i for i, r in enumerate(api.requests) if r.path.startswith("/attachments"))
        opened = next(i for i, r in enumerate(api.requests) if r.path.endswith("/threads"))
        assert first < download and first < opened
        original = api.messages_in(api.channel_id)[0]
        assert "started a production" in original.content and "Afro Circuit" in original.content
        assert api.threads[thread_id]["name"].startswith("🎛️ Remix: Remix this to Afro Circuit")

        # the question is buttons whose ids carry the production, the question and the choice
        conversation = f"discord:{api.guild_id}:{thread_id}"
        assert "I suggest" in question.content
        parsed = [parse_custom_id(b["custom_id"]) for b in question.buttons]
        assert all(p is not None and p[0] == conversation for p in parsed)
        assert {p[2] for p in parsed if p} == {"agree", "keep", "other"}
        assert all(len(b["custom_id"]) <= 100 for b in question.buttons)
        suggested = next(b for b in question.buttons if button(question, "agree") == b["custom_id"])
        assert suggested["style"] == 1  # primary: the Maestro's suggestion

        # the song was really saved and analysed; progress is one message, edited to done
        production = await bot.app.store.get(conversation)
        assert production is not None and production.source is not None
        assert Path(production.source.path).read_bytes() == song_bytes
        # saved in the production's own folder, so it expires with the production
        uploads = tmp_path.resolve() / "productions" / folder_name(conversation) / "uploads"
        assert Path(production.source.path).parent == uploads
        assert production.owner == director["id"]
        progress = await api.wait_until(lambda: [
            m for m in api.messages_in(thread_id) if m.content.startswith("✅ Analysing")])
        assert len([m for m in api.messages_in(thread_id) if "Analysing the song" in m.content]) == 1
        assert progress[0].edits >= 1

        # a press becomes a turn: the buttons show the choice, the Maestro moves on
        press = api.press(int(question.payload["id"]), button(question, "agree"), user=director)
        await api.dispatch(press)
        await api.wait_until(lambda: any("render" in m.content.lower() or m.embeds
                                         for m in api.messages_in(thread_id)[-3:]))
        assert [(a.body["type"], a.status) for a in api.callbacks(press)] == [(7, 200)]
        styles = {b["custom_id"]: (b["style"], b.get("disabled")) for b in question.buttons}
        assert styles[button(question, "agree")] == (3, True)  # chosen, shown green
        assert styles[button(question, "keep")] == (2, True)
        production = await bot.app.store.get(conversation)
        assert production is not None and production.versions  # planned: v1 exists
        assert production.brief.key is not None and production.brief.key.author == director["id"]

        if bot.app.queue.supports(JobKind.RENDER):  # the audio engine renders: results posted
            def posted(suffix: str) -> bool:
                return any(f.filename.endswith(suffix)
                           for m in api.messages_in(thread_id) for f in m.files)

            def project_offered() -> bool:  # the zip itself, or a signed link when over 10 MiB
                return posted(".zip") or any("https://vyke.example/files/" in m.content
                                             and "project" in m.content.lower()
                                             for m in api.messages_in(thread_id))

            await api.wait_until(project_offered, timeout_s=300)
            assert posted(".mp3") and posted(".png")
        else:  # no render step in this build: said plainly, nothing faked
            assert any("nothing was faked" in m.content for m in api.messages_in(thread_id))
            assert not any(m.files for m in api.messages_in(thread_id))


async def test_a_restart_between_question_and_answer_still_handles_the_press(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path)
    async with FakeDiscordAPI() as api:
        director = api.user("kofi")
        async with running(settings, api, monkeypatch):
            await api.dispatch(api.slash_command("produce", user=director,
                                                 prompt="a deep house track"))
            [thread_id] = await api.wait_until(lambda: thread_ids(api))
            [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        before = len(api.messages_in(thread_id))

        async with running(settings, api, monkeypatch) as bot:  # a new process, same database
            press = api.press(int(question.payload["id"]), button(question, "agree"),
                              user=director)
            await api.dispatch(press)
            await api.wait_until(lambda: len(api.messages_in(thread_id)) > before)
            assert [(a.body["type"], a.status) for a in api.callbacks(press)] == [(7, 200)]
            production = await bot.app.store.get(f"discord:{api.guild_id}:{thread_id}")
            assert production is not None
            assert "key_bpm" in production.asked and production.brief.bpm is not None
            assert production.brief.bpm.author == director["id"]


async def test_stale_and_misplaced_presses_get_a_short_private_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        director = api.user("ana")
        await api.dispatch(api.slash_command("produce", user=director, prompt="a deep house track"))
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        first = api.press(int(question.payload["id"]), button(question, "agree"), user=director)
        await api.dispatch(first)
        await api.wait_until(lambda: api.callbacks(first))
        conversation = f"discord:{api.guild_id}:{thread_id}"
        await api.wait_until(lambda: any("render" in m.content.lower()
                                         for m in api.messages_in(thread_id)))  # planned
        questions = len(with_buttons(api.messages_in(thread_id)))

        def answered() -> tuple[object, ...]:
            return (production.pending_question, production.asked, production.brief)

        production = await bot.app.store.get(conversation)
        assert production is not None
        before = answered()

        again = api.press(int(question.payload["id"]), button(question, "other"), user=director)
        await api.dispatch(again)
        [answer] = await api.wait_until(lambda: api.callbacks(again))
        assert answer.body["type"] == 4 and answer.body["data"]["flags"] & 64  # ephemeral
        assert answer.body["data"]["content"] == say.stale_press()

        elsewhere = api.press(int(question.payload["id"]), button(question, "agree"),
                              user=director, channel_id=api.channel_id)
        await api.dispatch(elsewhere)
        [answer] = await api.wait_until(lambda: api.callbacks(elsewhere))
        assert answer.body["data"]["flags"] & 64 and "thread" in answer.body["data"]["content"]

        # nothing said in the thread for everyone, no question asked again, nothing changed
        assert not any(say.stale_press() in m.content for m in api.messages_in(thread_id))
        assert len(with_buttons(api.messages_in(thread_id))) == questions
        production = await bot.app.store.get(conversation)
        assert production is not None and answered() == before


async def test_a_server_where_only_the_starter_answers(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        admin, director, friend = api.user("admin"), api.user("dee"), api.user("friend")
        refused = api.slash_command("server-settings", user=friend, answerers="owner")
        await api.dispatch(refused)
        [answer] = await api.wait_until(lambda: api.callbacks(refused))
        assert answer.body["data"]["flags"] & 64 and "manage" in answer.body["data"]["content"]
        assert (await bot.server_settings.get("discord", str(api.guild_id))).answerers == "thread"

        change = api.slash_command("server-settings", user=admin, manage_guild=True,
                                   answerers="owner", destination="club")
        await api.dispatch(change)
        [answer] = await api.wait_until(lambda: api.callbacks(change))
        assert "only who started it" in answer.body["data"]["content"]
        assert "club" in answer.body["data"]["content"]

        await api.dispatch(api.slash_command("produce", user=director, prompt="a deep house track"))
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        conversation = f"discord:{api.guild_id}:{thread_id}"
        production = await bot.app.store.get(conversation)
        assert production is not None and production.brief.destination is not None
        assert production.brief.destination.value.name == "club"  # the server's loudness

        by_friend = api.press(int(question.payload["id"]), button(question, "agree"), user=friend)
        await api.dispatch(by_friend)
        [answer] = await api.wait_until(lambda: api.callbacks(by_friend))
        assert answer.body["data"]["flags"] & 64
        assert f"<@{director['id']}>" in answer.body["data"]["content"]
        production = await bot.app.store.get(conversation)
        assert production is not None and production.pending_question is not None  # still open

        by_director = api.press(int(question.payload["id"]), button(question, "agree"),
                                user=director)
        await api.dispatch(by_director)
        [answer] = await api.wait_until(lambda: api.callbacks(by_director))
        assert answer.body["type"] == 7


# --- messages and mentions --------------------------------------------------------------------


async def test_a_mention_opens_a_thread_and_thread_messages_are_turns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        director = api.user("lu")
        mention = api.message_create(f"<@{api.application_id}> make a deep house track", user=director,
                                     channel_id=api.channel_id, mentions=[api.bot_user])
        api.deliver_message(mention)
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        opened = next(r for r in api.requests if r.path.endswith("/threads"))
        assert opened.path == f"/channels/{api.channel_id}/messages/{mention['id']}/threads"

        chatter = api.message_create("128 BPM in F minor", user=director, channel_id=thread_id)
        api.deliver_message(chatter)
        conversation = f"discord:{api.guild_id}:{thread_id}"

        async def bpm() -> float | None:
            production = await bot.app.store.get(conversation)
            return production.brief.bpm.value if production and production.brief.bpm else None

        await api.wait_until(lambda: len(api.messages_in(thread_id)) > 1)
        async with bot.adapter._lock(conversation):  # the turn has posted all its replies
            posted = len(api.messages_in(thread_id))  # (paced by Discord's rate-limit bucket)
        assert await bpm() == 128

        api.deliver_message(chatter)  # a resumed gateway replays it: answered once
        await api.wait_until(lambda: True)
        await asyncio.sleep(0)
        async with bot.adapter._lock(conversation):
            assert len(api.messages_in(thread_id)) == posted

        stranger = api.message_create("hello", user=director, channel_id=api.channel_id)
        api.deliver_message(stranger)  # not a thread of ours, no mention: not for the bot
        await asyncio.sleep(0)
        assert len(thread_ids(api)) == 1


async def test_without_the_message_content_intent_only_mentions_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch,
                                                message_content=False) as bot:
        assert bot.adapter.mention_only
        director = api.user("sam")
        await api.dispatch(api.slash_command("produce", user=director, prompt="a deep house track"))
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        posted = len(api.messages_in(thread_id))
        conversation = f"discord:{api.guild_id}:{thread_id}"

        api.deliver_message(api.message_create("", user=director, channel_id=thread_id))
        await asyncio.sleep(0.05)
        assert len(api.messages_in(thread_id)) == posted  # content-less: ignored

        api.deliver_message(api.message_create(f"<@{api.application_id}> 124 BPM",
                                               user=director, channel_id=thread_id,
                                               mentions=[api.bot_user]))
        await api.wait_until(lambda: len(api.messages_in(thread_id)) > posted)
        production = await bot.app.store.get(conversation)
        assert production is not None and production.brief.bpm is not None
        assert production.brief.bpm.value == 124


# --- results -------------------------------------------------------------------------------------


async def test_preview_picture_and_project_are_posted_or_linked_by_the_upload_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path / "data")
    async with FakeDiscordAPI() as api, running(settings, api, monkeypatch) as bot:
        thread_id = int((await api.open_thread(api.channel_id, {"name": "🎛️ Remix: t"}))["id"])
        conversation = f"discord:{api.guild_id}:{thread_id}"
        out = settings.data_dir / "productions" / "p" / "v1"
        out.mkdir(parents=True)
        preview = mp3_tone(out / "preview.mp3")
        picture = png(out / "arrangement.png")
        small = project_zip(out / "small.zip", size_bytes=200_000)
        big = project_zip(out / "project.zip", size_bytes=10 * MiB + 1)  # over 10 MiB

        stored = LocalArtifactStore(settings.data_dir)
        keys = {}
        for path, caption in [(preview, "preview"), (picture, "arrangement"), (small, "stems"),
                              (big, "project")]:
            keys[path.name] = stored.put_file("p", path.name, path).key
            await bot.adapter.post(conversation, FileReply(attachment=Attachment(
                name=path.stem, path=str(path), key=keys[path.name]), caption=caption))
        messages = api.messages_in(thread_id)
        uploaded = {f.filename: f for m in messages for f in m.files}
        assert uploaded["preview.mp3"].data == preview.read_bytes()  # plays inline in Discord
        assert uploaded["arrangement.png"].data[:8] == b"\x89PNG\r\n\x1a\n"
        assert "small.zip" in uploaded and "project.zip" not in uploaded
        assert all(r.status == 200 for r in api.requests if r.method == "POST")  # no 413

        link_text = messages[-1].content
        assert link_text.startswith("project (10.0 MiB, over what I can upload here): ")
        path, expires, signature = parse(link_text.split(": ", 1)[1])
        assert path == artifact_path(keys["project.zip"], "project")  # by key, not a path
        assert verify(path, expires=expires, signature=signature, secret=SECRET)

        # the same project in a boosted server (Discord says so in each interaction) is uploaded
        api.upload_limit_bytes = 50 * MiB
        status = api.slash_command("help", user=api.user("x"))
        await api.dispatch(status)
        await api.wait_until(lambda: api.callbacks(status))
        await bot.adapter.post(conversation, FileReply(
            attachment=Attachment(name="project", path=str(big)), caption="project"))
        assert api.messages_in(thread_id)[-1].files[0].filename == "project.zip"


async def test_progress_is_one_message_edited_in_place_a_few_times_a_minute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        thread_id = int((await api.open_thread(api.channel_id, {"name": "t"}))["id"])
        conversation = f"discord:{api.guild_id}:{thread_id}"
        now = [1000.0]
        bot.adapter.clock = lambda: now[0]
        steps = [(0.0, 0.0, "Rendering (queued)"), (2.0, 0.1, "Rendering: drums"),
                 (4.0, 0.2, "Rendering: bass"), (20.0, 0.5, "Rendering: mix"),
                 (22.0, 0.6, "Rendering: master")]
        for t, fraction, step in steps:
            now[0] = 1000.0 + t
            await bot.adapter.post(conversation, ProgressReply(job_id="render-v1", step=step,
                                                               fraction=fraction, position=1))
        now[0] = 1023.0
        await bot.adapter.post(conversation, ProgressReply(job_id="render-v1", step="Rendering: done",
                                                           fraction=1.0, done=True))
        [message] = api.messages_in(thread_id)
        assert message.content == "✅ Rendering: done"
        # 10 % and 20 % came within 15 s of the first post, 60 % within 15 s of the 50 % edit;
        # the final state is never held back
        assert message.edits == 2
        edits = [r.body["content"] for r in api.requests if r.method == "PATCH"]
        assert "Rendering: mix" in edits[0] and "50%" in edits[0]
        assert edits[1] == "✅ Rendering: done"

        await bot.adapter.post(conversation, ProgressReply(job_id="analyze-v0", step="Analysing",
                                                           fraction=0.0, position=2))
        assert len(api.messages_in(thread_id)) == 2  # another job, its own message
        assert "position 2" in api.messages_in(thread_id)[-1].content


async def test_long_cards_are_embeds_and_ids_round_trip(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        thread_id = int((await api.open_thread(api.channel_id, {"name": "t"}))["id"])
        conversation = f"discord:{api.guild_id}:{thread_id}"
        card = "\n".join(f"  • change {i}: bass -1.5 dB, sidechain depth 0.6" for i in range(60))
        await bot.adapter.post(conversation, TextReply(text=card))
        [message] = api.messages_in(thread_id)
        assert message.content == "" and message.embeds[0]["description"] == card
    assert parse_custom_id(custom_id_for(conversation, "q12", "afro_house")) == (
        conversation, "q12", "afro_house")
    assert parse_custom_id("someone-else:button") is None
    with pytest.raises(ValueError):
        custom_id_for(conversation, "q1", "x" * 80)  # over Discord's 100 characters


async def test_an_echoed_everyone_pings_nobody(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch):
        director = api.user("maya")
        produce = api.slash_command("produce", user=director,
                                    prompt="@everyone <@&42> a techno track at 130")
        await api.dispatch(produce)
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        await api.wait_until(lambda: api.messages_in(thread_id))
        echoed = [r for r in api.requests if isinstance(r.body, dict)
                  and "@everyone" in str(r.body.get("content") or r.body.get("data", {}))]
        assert echoed  # the prompt is quoted back in the channel...
        for request in echoed:  # ...and every such request says who may be pinged: the director
            body = request.body.get("data") or request.body  # an interaction callback nests it
            mentions = body.get("allowed_mentions")
            assert mentions is not None, request.path
            assert not {"everyone", "roles"} & set(mentions.get("parse", []))
            assert {str(u) for u in mentions.get("users", [])} <= {str(director["id"])}
            assert not mentions.get("roles")


async def test_a_channel_where_no_thread_may_be_opened_gets_a_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        api.threads_allowed = False
        director = api.user("maya")
        produce = api.slash_command("produce", user=director, prompt="a techno track at 130")
        await api.dispatch(produce)
        [original] = await api.wait_until(lambda: [
            m for m in api.messages_in(api.channel_id) if "Create Public Threads" in m.content])
        assert "can't open a thread" in original.content
        assert thread_ids(api) == []
        assert await bot.app.store.get(f"discord:{api.guild_id}:{original.payload['id']}") is None


async def test_an_oversized_song_in_a_message_is_refused_before_it_is_downloaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch):
        director = api.user("lu")
        song = api.attachment("huge mix.wav", b"RIFF" + bytes(64), "audio/x-wav")
        song["size"] = 900_000_000  # what Discord declares for the file
        mention = api.message_create(f"<@{api.application_id}> remix this to techno",
                                     user=director, channel_id=api.channel_id,
                                     mentions=[api.bot_user], attachments=[song])
        api.deliver_message(mention)
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [refusal] = await api.wait_until(lambda: [
            m for m in api.messages_in(thread_id) if "the most I accept" in m.content])
        assert "huge mix.wav" in refusal.content and "900 MB" in refusal.content
        assert not any(r.path.startswith("/attachments") for r in api.requests)  # never fetched


async def test_a_press_during_a_running_turn_is_answered_at_once_and_applied_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        director = api.user("maya")
        await api.dispatch(api.slash_command("produce", user=director,
                                             prompt="a techno track at 130"))
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        conversation = f"discord:{api.guild_id}:{thread_id}"
        async with bot.adapter._lock(conversation):  # a long turn of this thread is running
            press = api.press(int(question.payload["id"]), button(question, "agree"),
                              user=director)
            await api.dispatch(press)
            answered = await api.wait_until(lambda: api.callbacks(press), timeout_s=2.5)
            assert [(a.body["type"], a.status) for a in answered] == [(7, 200)]  # in time
            production = await bot.app.store.get(conversation)
            assert production is not None and not production.versions  # not applied yet
        # applied once the running turn let go of the thread: the plan is posted
        await api.wait_until(lambda: any("render" in m.content.lower() or m.embeds
                                         for m in api.messages_in(thread_id)[-3:]))
        production = await bot.app.store.get(conversation)
        assert production is not None and production.versions


async def test_a_direct_message_gets_a_sentence_about_where_to_talk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        dm = api.direct_message("remix my song into techno", user=api.user("lu"))
        api.deliver_message(dm)
        [answer] = await api.wait_until(lambda: api.messages_in(int(dm["channel_id"])))
        assert "servers" in answer.content and "/remix" in answer.content
        assert thread_ids(api) == []
        assert await bot.app.store.get(f"discord:None:{dm['channel_id']}") is None


async def test_a_long_rate_limit_is_handed_to_the_pump_with_its_retry_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """discord.py waits out short 429s itself; a long one is the pump's to wait (not a stall)."""
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        thread_id = int((await api.open_thread(api.channel_id, {"name": "t"}))["id"])
        conversation = f"discord:{api.guild_id}:{thread_id}"
        api.faults.next("POST /channels/*/messages", Fault("status", 429, seconds=0.05))
        api.faults.next("POST /channels/*/messages", Fault("status", 500))
        await bot.adapter.post(conversation, TextReply(text="after a short wait"))
        api.faults.next("POST /channels/*/messages", Fault("status", 429, seconds=45.0))
        with pytest.raises(discord.RateLimited) as limited:
            await bot.adapter.post(conversation, TextReply(text="held back"))
        assert limited.value.retry_after == 45.0
        await bot.adapter.post(conversation, TextReply(text="then it lands"))
        assert [m.content for m in api.messages_in(thread_id)] == [
            "after a short wait", "then it lands"]
        assert not api.violations


async def test_a_number_reaction_answers_a_question_even_during_a_running_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1️⃣… on the question answer it like its buttons: acknowledged at once, applied after
    the running turn; a stale reaction gets the stale-press sentence; other emoji do nothing."""
    async with FakeDiscordAPI() as api, running(make_settings(tmp_path), api, monkeypatch) as bot:
        director, guest = api.user("maya"), api.user("lu")
        await api.dispatch(api.slash_command("produce", user=director,
                                             prompt="a techno track at 130"))
        [thread_id] = await api.wait_until(lambda: thread_ids(api))
        [question] = await api.wait_until(lambda: with_buttons(api.messages_in(thread_id)))
        assert "or react 1\ufe0f\u20e3" in question.content
        question_id = int(question.payload["id"])
        index = [parse_custom_id(b["custom_id"])[2]  # type: ignore[index]
                 for b in question.buttons].index("agree")
        conversation = f"discord:{api.guild_id}:{thread_id}"
        posted = len(api.messages_in(thread_id))
        api.react(question_id, "\U0001f44d", user=director)  # not a number: nothing
        async with bot.adapter._lock(conversation):  # a long turn of this thread is running
            api.react(question_id, NUMBER_EMOJI[index], user=director)
            chosen = await api.wait_until(
                lambda: [b for b in api.messages[question_id].buttons if b.get("disabled")],
                timeout_s=3.0)  # acknowledged in time: the buttons show the choice
            assert len(chosen) == len(question.buttons)  # they stay, answered
            production = await bot.app.store.get(conversation)
            assert production is not None and not production.versions  # not applied yet
        await api.wait_until(lambda: len(api.messages_in(thread_id)) > posted)
        production = await bot.app.store.get(conversation)
        assert production is not None and production.versions
        api.react(question_id, NUMBER_EMOJI[0], user=guest)  # too late: the stale sentence
        [stale] = await api.wait_until(lambda: [m for m in api.messages_in(thread_id)
                                               if m.content.startswith(f"<@{guest['id']}>")])
        assert say.stale_press() in stale.content
        assert not api.violations


async def test_a_300_mb_project_goes_as_a_signed_link_without_being_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over every tier's upload limit: a link, and the bot never holds the file in memory."""
    import tracemalloc

    settings = make_settings(tmp_path / "data")
    async with FakeDiscordAPI(upload_limit_bytes=100 * MiB) as api, \
            running(settings, api, monkeypatch) as bot:
        thread_id = int((await api.open_thread(api.channel_id, {"name": "big"}))["id"])
        conversation = f"discord:{api.guild_id}:{thread_id}"
        key = fake_key("big", ".zip")  # in the store, never fetched to this host: only linked
        tracemalloc.start()
        try:
            await bot.adapter.post(conversation, FileReply(
                caption="v1 Ableton Live project", attachment=Attachment(
                    name="Big Project.zip", key=key, size_bytes=300 * MiB)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20 * MiB  # nowhere near the file: it was never read (200 MB budget)
        [posted] = api.messages_in(thread_id)
        assert not posted.files and "300.0 MiB" in posted.content
        link = posted.content.split(": ", 1)[1]
        path, expires, signature = parse(link)
        assert path == artifact_path(key, "Big Project.zip")
        assert verify(path, expires=expires, signature=signature, secret=SECRET)
        assert not api.violations
