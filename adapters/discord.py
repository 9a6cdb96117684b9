"""Discord as a chat platform: slash commands, a thread per production, buttons, results.

Every interaction is acknowledged first (Discord drops it after 3 s), then the work goes on:
``/remix`` opens a thread from its answer and the conversation continues there. Messages in
the thread become turns (every message with the message-content intent, mentions of the bot
without it). Questions are buttons whose ``custom_id`` carries the production, the question
and the choice, so a press is understood after a restart with nothing kept in memory. Files
go up when they fit the server's upload limit (read from Discord at run time) and as signed
links when they do not. Progress is one message per job, edited in place a few times a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import discord
from discord import app_commands

from core import replies as say
from core.artifacts import safe_file_name, upload_path, write_bytes_atomic
from core.brief import DESTINATIONS
from core.conversation import (
    Attachment,
    AttachmentKind,
    Author,
    ButtonPress,
    FileReply,
    ProgressReply,
    Question,
    QuestionReply,
    Reply,
    TextReply,
    Turn,
)
from core.maestro import Maestro
from core.pacing import ProgressPacer
from core.server_settings import ServerSettings, ServerSettingsStore
from core.store import Store

__all__ = [
    "DEFAULT_UPLOAD_LIMIT_BYTES",
    "DiscordAdapter",
    "QuestionButton",
    "VykeClient",
    "conversation_id_for",
    "custom_id_for",
    "parse_custom_id",
    "thread_of",
]

logger = logging.getLogger(__name__)

PLATFORM = "discord"
DEFAULT_UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024
"""A bot's per-file upload limit in an unboosted server (``discord.utils``' default)."""
MESSAGE_LIMIT = 2000  #: characters in one message's content
EMBED_LIMIT = 4096  #: characters in one embed's description
CUSTOM_ID_LIMIT = 100  #: characters in a component's custom_id
_THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                 discord.ChannelType.news_thread)  # a thread under an announcement channel
_MENTION_RE = re.compile(r"<@!?\d+>")

LinkMaker = Callable[[Attachment], str]
"""Turns a stored file (an attachment with an artifact key) into a signed download URL
(raises ``ValueError`` when it cannot)."""


# --- ids ---------------------------------------------------------------------------------


def conversation_id_for(guild_id: int, thread_id: int) -> str:
    """The conversation (and production) id of a thread: ``discord:<guild>:<thread>``."""
    return f"{PLATFORM}:{guild_id}:{thread_id}"


def thread_of(conversation_id: str) -> tuple[int, int]:
    """``(guild_id, thread_id)`` of a Discord conversation id; ``ValueError`` otherwise."""
    platform, guild, thread = conversation_id.split(":")
    if platform != PLATFORM:
        raise ValueError(f"not a Discord conversation: {conversation_id!r}")
    return int(guild), int(thread)


_CUSTOM_ID = r"vyke:q:(?P<guild>[0-9]+):(?P<thread>[0-9]+):(?P<question>[\w-]+):(?P<option>[\w-]+)"


def custom_id_for(conversation_id: str, question_id: str, option_id: str) -> str:
    """A button's ``custom_id``: the production, the question and the choice it answers."""
    guild, thread = thread_of(conversation_id)
    custom_id = f"vyke:q:{guild}:{thread}:{question_id}:{option_id}"
    if len(custom_id) > CUSTOM_ID_LIMIT or not re.fullmatch(_CUSTOM_ID, custom_id):
        raise ValueError(f"option {option_id!r} of question {question_id!r} cannot be a button "
                         f"id (at most {CUSTOM_ID_LIMIT} characters of letters, digits, - and _)")
    return custom_id


def parse_custom_id(custom_id: str) -> tuple[str, str, str] | None:
    """``(conversation_id, question_id, option_id)`` of one of our buttons, else ``None``."""
    match = re.fullmatch(_CUSTOM_ID, custom_id)
    if match is None:
        return None
    conversation = conversation_id_for(int(match["guild"]), int(match["thread"]))
    return conversation, match["question"], match["option"]


# --- buttons -----------------------------------------------------------------------------


class QuestionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_CUSTOM_ID):
    """One option of a question; rebuilt from its ``custom_id`` after any restart."""

    def __init__(self, conversation_id: str, question_id: str, option_id: str, *,
                 label: str, style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(
            label=label[:80], style=style, disabled=disabled,
            custom_id=custom_id_for(conversation_id, question_id, option_id)))
        self.conversation_id = conversation_id
        self.question_id = question_id
        self.option_id = option_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any],
                             item: discord.ui.Item[Any], match: re.Match[str], /
                             ) -> QuestionButton:
        button = cast(discord.ui.Button[Any], item)
        conversation = conversation_id_for(int(match["guild"]), int(match["thread"]))
        return cls(conversation, match["question"], match["option"], label=button.label or "",
                   style=button.style)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = cast(VykeClient, interaction.client)
        await client.adapter.on_press(interaction, self.conversation_id, self.question_id,
                                      self.option_id)


def question_view(conversation_id: str, question: Question, *,
                  chosen: str | None = None) -> discord.ui.View:
    """The buttons of a question; with ``chosen`` they are shown answered and disabled."""
    view = discord.ui.View(timeout=None)
    for option in question.options[:25]:
        if chosen is not None:
            style = (discord.ButtonStyle.success if option.id == chosen
                     else discord.ButtonStyle.secondary)
        else:
            style = discord.ButtonStyle.primary if option.suggested else discord.ButtonStyle.secondary
        view.add_item(QuestionButton(conversation_id, question.id, option.id, label=option.label,
                                     style=style, disabled=chosen is not None))
    return view


# --- the adapter -------------------------------------------------------------------------


class DiscordAdapter:
    """Turns Discord events into turns for the Maestro and its replies into Discord messages.

    Parameters
    ----------
    maestro : Maestro
        Answers every turn.
    store : Store
        Productions, read to check a press against the open question.
    server_settings : ServerSettingsStore
        Each server's defaults (who may answer, loudness, song-size limit).
    data_dir : Path
        The data folder: songs people attach are saved in their production's folder there
        (so they expire with it).
    max_song_bytes : int
        The installation's song-size limit (a server may set a lower one).
    link_for : callable, optional
        Makes a signed download link for a file over the upload limit; ``None`` when this
        installation has no link secret.
    progress_interval_s : float
        Least time between two edits of one progress message (Discord rate-limits edits).
    clock : callable
        Monotonic seconds, for the progress throttle.
    """

    def __init__(self, *, maestro: Maestro, store: Store, server_settings: ServerSettingsStore,
                 data_dir: Path, max_song_bytes: int, link_for: LinkMaker | None = None,
                 progress_interval_s: float = 15.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.maestro = maestro
        self.store = store
        self.server_settings = server_settings
        self.data_dir = data_dir
        self.max_song_bytes = max_song_bytes
        self.link_for = link_for
        self.progress_interval_s = progress_interval_s
        self.clock = clock
        self.client: discord.Client | None = None
        self._pacer: ProgressPacer[int] = ProgressPacer(min_interval_s=progress_interval_s,
                                                        clock=lambda: self.clock())
        self._upload_limits: dict[int, int] = {}  # guild -> latest limit Discord told us
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- platform facts ----------------------------------------------------------------------

    @property
    def mention_only(self) -> bool:
        """Without the message-content intent only messages that mention the bot are read."""
        return self.client is None or not self.client.intents.message_content

    def upload_limit(self, guild_id: int) -> int:
        """The server's per-file upload limit for the bot, as Discord last reported it."""
        if guild_id in self._upload_limits:
            return self._upload_limits[guild_id]
        guild = self.client.get_guild(guild_id) if self.client else None
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT_BYTES

    def _note_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is not None:
            self._upload_limits[interaction.guild_id] = interaction.filesize_limit

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    # --- commands ----------------------------------------------------------------------------

    async def start_production(self, interaction: discord.Interaction[Any], *,
                               command: Literal["remix", "produce", "reproduce"], prompt: str,
                               audio: discord.Attachment | None) -> None:
        """``/remix``, ``/produce``, ``/reproduce``: defer, open a thread, hand over the turn."""
        await interaction.response.defer(thinking=True)  # first: Discord's 3-second deadline
        self._note_interaction(interaction)
        if interaction.guild_id is None:
            await interaction.edit_original_response(content=_say_servers_only())
            return
        settings = await self.server_settings.get(PLATFORM, str(interaction.guild_id))
        if audio is not None:
            limit = settings.upload_limit_bytes(self.max_song_bytes)
            if audio.size > limit:
                await interaction.edit_original_response(content=say.upload_too_large(
                    Attachment(name=audio.filename, size_bytes=audio.size), limit))
                return
        user = interaction.user
        channel = interaction.channel
        if channel is not None and getattr(channel, "type", None) in _THREAD_TYPES:
            thread_id = channel.id
            await interaction.edit_original_response(
                content=_say_started(user.mention, prompt), allowed_mentions=_only(user))
        else:
            message = await interaction.edit_original_response(
                content=_say_started(user.mention, prompt), allowed_mentions=_only(user))
            try:
                thread = await message.create_thread(name=_thread_name(command, prompt, audio),
                                                     auto_archive_duration=1440)
            except discord.Forbidden:
                await interaction.edit_original_response(content=_say_no_thread_here())
                return
            thread_id = thread.id
        conversation = conversation_id_for(interaction.guild_id, thread_id)
        attachments = [await self._download(audio, conversation)] if audio is not None else []
        turn = Turn(conversation_id=conversation, author=_author(user), text=prompt,
                    attachments=attachments, command=command)
        await self._converse(turn)

    async def answer_status(self, interaction: discord.Interaction[Any],
                            what: Literal["status", "versions", "help"]) -> None:
        """``/status``, ``/versions``, ``/help``: read-only, answered straight away."""
        self._note_interaction(interaction)
        if what == "help":
            genres = sorted(g.name for g in self.maestro.genres.values())
            await _respond(interaction, say.help_text(genres), ephemeral=True)
            return
        production = None
        if interaction.guild_id is not None and interaction.channel_id is not None:
            production = await self.store.get(
                conversation_id_for(interaction.guild_id, interaction.channel_id))
        if production is None:
            await _respond(interaction, _say_not_a_production_thread(), ephemeral=True)
            return
        text = say.status(production) if what == "status" else say.versions(production)
        await _respond(interaction, text, ephemeral=False)

    async def change_server_settings(self, interaction: discord.Interaction[Any], *,
                                     changes: dict[str, object]) -> None:
        """``/server-settings``: managers change this server's defaults; anyone may read them."""
        if interaction.guild_id is None:
            await _respond(interaction, _say_servers_only(), ephemeral=True)
            return
        server = str(interaction.guild_id)
        if changes:
            if not interaction.permissions.manage_guild:
                await _respond(interaction, _say_managers_only(), ephemeral=True)
                return
            settings = await self.server_settings.update(PLATFORM, server, **changes)
        else:
            settings = await self.server_settings.get(PLATFORM, server)
        await _respond(interaction, _say_settings(settings), ephemeral=True)

    # --- buttons and messages ----------------------------------------------------------------

    async def on_press(self, interaction: discord.Interaction[Any], conversation_id: str,
                       question_id: str, option_id: str) -> None:
        """A button press: answered ephemerally when stale, misplaced or not allowed."""
        self._note_interaction(interaction)
        guild_id, thread_id = thread_of(conversation_id)
        if interaction.channel_id != thread_id or interaction.guild_id != guild_id:
            await _respond(interaction, _say_press_in_thread(), ephemeral=True)
            return
        turn = Turn(conversation_id=conversation_id, author=_author(interaction.user),
                    press=ButtonPress(question_id=question_id, option_id=option_id))
        # answered before waiting for the thread: a turn still running must not make the
        # press miss Discord's 3-second deadline ("This interaction failed")
        refusal = await self.maestro.check_press(turn)
        if refusal is not None:
            await _respond(interaction, refusal.text, ephemeral=True)
            return
        question = await self._open_question(conversation_id)
        if question is not None:  # acknowledged by showing the choice made, buttons off
            await interaction.response.edit_message(
                view=question_view(conversation_id, question, chosen=option_id))
        else:
            await interaction.response.defer()
        async with self._lock(conversation_id):  # applied after the turn in progress
            replies = await self.maestro.handle(turn)
            for reply in replies:  # a refusal decided only now (a press raced this one)
                if isinstance(reply, TextReply) and reply.private:
                    await interaction.followup.send(reply.text, ephemeral=True)
            await self._post_all(conversation_id, [
                r for r in replies if not (isinstance(r, TextReply) and r.private)])

    async def on_reaction(self, event: discord.RawReactionActionEvent) -> None:
        """A number reaction on a question message answers it, like pressing that button.

        The message's own buttons say which question and option the number stands for, so a
        reaction on an older question is stale like a press on it would be. A refusal, which
        a reaction cannot receive privately, is said in the thread to the reactor alone.
        """
        client = self.client
        index = option_number(str(event.emoji))
        if client is None or client.user is None or event.guild_id is None or index is None \
                or event.user_id == client.user.id or (event.member and event.member.bot):
            return
        conversation = conversation_id_for(event.guild_id, event.channel_id)
        if await self.store.get(conversation) is None:
            return  # not a production's thread
        if not await self.store.first_time(
                f"{PLATFORM}:reaction:{event.message_id}:{event.user_id}:{index}"):
            return  # a resumed gateway replays events
        thread = client.get_partial_messageable(event.channel_id, guild_id=event.guild_id,
                                                type=discord.ChannelType.public_thread)
        try:
            message = await thread.fetch_message(event.message_id)
        except discord.HTTPException:
            return
        options = _options_on(message) if message.author.id == client.user.id else []
        if index >= len(options) or options[index][0] != conversation:
            return  # not one of our questions, or no such option
        _, question_id, option_id = options[index]
        name = event.member.display_name if event.member else str(event.user_id)
        turn = Turn(conversation_id=conversation, author=Author(id=str(event.user_id), name=name),
                    press=ButtonPress(question_id=question_id, option_id=option_id))
        refusal = await self.maestro.check_press(turn)
        if refusal is not None:
            await _tell(thread, event.user_id, refusal.text)
            return
        question = await self._open_question(conversation)
        if question is not None:  # acknowledged at once: the choice shows on the buttons
            await message.edit(view=question_view(conversation, question, chosen=option_id))
        async with self._lock(conversation):  # applied after the turn in progress
            replies = await self.maestro.handle(turn)
            for reply in replies:
                if isinstance(reply, TextReply) and reply.private:
                    await _tell(thread, event.user_id, reply.text)
            await self._post_all(conversation, [
                r for r in replies if not (isinstance(r, TextReply) and r.private)])

    async def _open_question(self, conversation_id: str) -> Question | None:
        production = await self.store.get(conversation_id)
        return production.pending_question if production else None

    async def on_message(self, message: discord.Message) -> None:
        """A message in a production's thread, or a mention that starts one."""
        client = self.client
        if client is None or client.user is None or message.author.bot:
            return
        if message.guild is None:  # a direct message: productions live in server threads
            if await self.store.first_time(f"{PLATFORM}:message:{message.id}"):
                with contextlib.suppress(discord.HTTPException):
                    await message.channel.send(_say_servers_only())
            return
        mentioned = client.user in message.mentions
        if self.mention_only and not mentioned:
            return  # without the intent, other messages arrive without their content
        conversation = conversation_id_for(message.guild.id, message.channel.id)
        known = await self.store.get(conversation) is not None
        # an uncached thread arrives as a channel of unknown type: a production says it is one
        if known or getattr(message.channel, "type", None) in _THREAD_TYPES:
            if not known and not mentioned:
                return  # a thread the bot was never asked into
        elif mentioned:
            conversation = ""  # a thread is opened below, once the message is known to be new
        else:
            return
        if not await self.store.first_time(f"{PLATFORM}:message:{message.id}"):
            return  # a resumed gateway replays events
        text = _MENTION_RE.sub("", message.content).strip()
        if not conversation:
            try:
                thread = await message.create_thread(name=_thread_name(None, text, None),
                                                     auto_archive_duration=1440)
            except discord.Forbidden:
                with contextlib.suppress(discord.HTTPException):  # it may not even reply here
                    await message.reply(_say_no_thread_here())
                return
            conversation = conversation_id_for(message.guild.id, thread.id)
        settings = await self.server_settings.get(PLATFORM, str(message.guild.id))
        limit = settings.upload_limit_bytes(self.max_song_bytes)
        too_big = next((a for a in message.attachments if a.size > limit), None)
        if too_big is not None:  # refused from its declared size, before any download
            await self._post_all(conversation, [TextReply(text=say.upload_too_large(
                _describe(too_big), limit))])
            return
        attachments = [await self._download(a, conversation) if _looks_like_audio(a)
                       else _describe(a) for a in message.attachments]
        await self._converse(Turn(conversation_id=conversation, author=_author(message.author),
                                  text=text, attachments=attachments))

    async def _converse(self, turn: Turn) -> None:
        async with self._lock(turn.conversation_id):
            replies = await self.maestro.handle(turn)
            await self._post_all(turn.conversation_id, replies)

    async def _download(self, attachment: discord.Attachment, conversation_id: str) -> Attachment:
        path = upload_path(self.data_dir, conversation_id, attachment.filename,
                           unique=str(attachment.id))
        path.parent.mkdir(parents=True, exist_ok=True)
        await attachment.save(path)
        described = _describe(attachment)
        described.path = str(path.resolve())
        return described

    # --- replies -----------------------------------------------------------------------------

    async def post(self, conversation_id: str, reply: Reply) -> None:
        """Post one reply into the conversation's thread (the event pump's poster)."""
        if self.client is None:
            raise RuntimeError("DiscordAdapter.post before the client was attached")
        guild_id, thread_id = thread_of(conversation_id)
        thread = self.client.get_partial_messageable(
            thread_id, guild_id=guild_id, type=discord.ChannelType.public_thread)
        try:
            await self._post_in(thread, guild_id, conversation_id, reply)
        except discord.HTTPException as error:
            _note_retry_after(error)
            raise

    async def _post_in(self, thread: discord.PartialMessageable, guild_id: int,
                       conversation_id: str, reply: Reply) -> None:
        if isinstance(reply, TextReply):
            await _send_text(thread, reply.text)
        elif isinstance(reply, QuestionReply):
            hint = _reaction_hint(len(reply.question.options))
            text = reply.question.text[:MESSAGE_LIMIT - len(hint)] + hint
            await thread.send(content=text, view=question_view(conversation_id, reply.question))
        elif isinstance(reply, ProgressReply):
            await self._post_progress(thread, reply)
        elif isinstance(reply, FileReply):
            await self._post_file(thread, guild_id, reply)

    async def _post_all(self, conversation_id: str, replies: list[Reply]) -> None:
        for reply in replies:
            await self.post(conversation_id, reply)

    async def _post_progress(self, thread: discord.PartialMessageable,
                             reply: ProgressReply) -> None:
        """One message per job, edited in place as often as the shared pacer allows."""
        text = _progress_text(reply)
        plan = self._pacer.plan(reply.job_id, text, done=reply.done)
        if plan == "post":
            message = await thread.send(content=text)
            self._pacer.shown(reply.job_id, text, ref=message.id, done=reply.done)
        elif plan == "edit":
            await thread.get_partial_message(self._pacer.ref(reply.job_id)).edit(content=text)
            self._pacer.shown(reply.job_id, text, done=reply.done)

    async def _post_file(self, thread: discord.PartialMessageable, guild_id: int,
                         reply: FileReply) -> None:
        attachment = reply.attachment
        caption = reply.caption or attachment.name
        if attachment.kind is AttachmentKind.LINK or not (attachment.path or attachment.key):
            await _send_text(thread, f"{caption}: {attachment.url}")
            return
        path = Path(attachment.path) if attachment.path else None
        size = path.stat().st_size if path is not None else attachment.size_bytes
        if path is not None and size <= self.upload_limit(guild_id):
            name = attachment.name if Path(attachment.name).suffix else path.name
            await thread.send(content=caption[:MESSAGE_LIMIT],
                              file=discord.File(path, filename=safe_file_name(name)))
            return
        link = None
        if self.link_for is not None:
            try:
                link = self.link_for(attachment)
            except ValueError:
                logger.warning("no download link for %s: it is not stored", attachment.name)
        await _send_text(thread, say.file_link(caption, size, link))


# --- the client --------------------------------------------------------------------------


class VykeClient(discord.Client):
    """The Discord client: slash commands, persistent buttons, messages to the adapter."""

    def __init__(self, adapter: DiscordAdapter, *, intents: discord.Intents,
                 sync_commands: bool = True, synced_file: Path | None = None,
                 **options: Any) -> None:
        # nothing the bot posts pings anyone, whatever a prompt it echoes says ("@everyone",
        # a role); the one message that names the director pings them alone (see on_command)
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        # a rate limit longer than this is raised (discord.RateLimited, with retry_after)
        # instead of holding every other thread's posts; the event pump waits and retries
        options.setdefault("max_ratelimit_timeout", 30.0)
        super().__init__(intents=intents, **options)
        self.adapter = adapter
        self.sync_commands = sync_commands
        self.synced_file = synced_file
        adapter.client = self
        self.tree = app_commands.CommandTree(self)
        _register_commands(self.tree, adapter)

    async def setup_hook(self) -> None:
        """Buttons of earlier runs keep working; the commands are published when they changed.

        Publishing is rate-limited and global commands take a while to reach every server, so
        the published definition's hash is kept in ``synced_file`` and an unchanged set of
        commands is not published again on every start (or reconnection).
        """
        self.add_dynamic_items(QuestionButton)
        if not self.sync_commands:
            return
        definition = json.dumps([c.to_dict(self.tree) for c in self.tree.get_commands()],
                                sort_keys=True, default=str)
        digest = hashlib.sha256(definition.encode()).hexdigest()
        if self.synced_file is not None and self.synced_file.is_file() \
                and self.synced_file.read_text(encoding="utf-8").strip() == digest:
            logger.info("the slash commands are unchanged since they were last published")
            return
        await self.tree.sync()
        if self.synced_file is not None:
            write_bytes_atomic(self.synced_file, digest.encode())

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(event)


_DESTINATION_CHOICES = [app_commands.Choice(name=name.replace("_", " "), value=name)
                        for name in DESTINATIONS]
_ANSWERER_CHOICES = [app_commands.Choice(name="anyone in the thread", value="thread"),
                     app_commands.Choice(name="only who started it", value="owner")]


def _register_commands(tree: app_commands.CommandTree[Any], adapter: DiscordAdapter) -> None:
    @tree.command(name="remix", description="Remix a song: attach it and say what you want")
    @app_commands.describe(audio="The song (WAV, FLAC, MP3, OGG or M4A)",
                           prompt="What you want, e.g. 'Afro Circuit at 126 BPM'")
    @app_commands.guild_only()
    async def remix(interaction: discord.Interaction[Any], audio: discord.Attachment,
                    prompt: str) -> None:
        await adapter.start_production(interaction, command="remix", prompt=prompt, audio=audio)

    @tree.command(name="produce", description="Make a new track from a description")
    @app_commands.describe(prompt="e.g. 'a 124 BPM deep house track in A minor'")
    @app_commands.guild_only()
    async def produce(interaction: discord.Interaction[Any], prompt: str) -> None:
        await adapter.start_production(interaction, command="produce", prompt=prompt, audio=None)

    @tree.command(name="reproduce", description="Make a track in the style of a reference")
    @app_commands.describe(reference="The reference track", prompt="What to keep or change")
    @app_commands.guild_only()
    async def reproduce(interaction: discord.Interaction[Any], reference: discord.Attachment,
                        prompt: str) -> None:
        await adapter.start_production(interaction, command="reproduce", prompt=prompt,
                                       audio=reference)

    @tree.command(name="status", description="Where this thread's production stands")
    async def status(interaction: discord.Interaction[Any]) -> None:
        await adapter.answer_status(interaction, "status")

    @tree.command(name="versions", description="The versions of this thread's production")
    async def versions(interaction: discord.Interaction[Any]) -> None:
        await adapter.answer_status(interaction, "versions")

    @tree.command(name="help", description="What the Maestro can do")
    async def help_(interaction: discord.Interaction[Any]) -> None:
        await adapter.answer_status(interaction, "help")

    @tree.command(name="server-settings", description="This server's defaults for productions")
    @app_commands.describe(destination="Loudness for new productions",
                           answerers="Who may answer the Maestro's questions",
                           max_upload_mb="Biggest song accepted, in MB")
    @app_commands.choices(destination=_DESTINATION_CHOICES, answerers=_ANSWERER_CHOICES)
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def server_settings(interaction: discord.Interaction[Any],
                              destination: app_commands.Choice[str] | None = None,
                              answerers: app_commands.Choice[str] | None = None,
                              max_upload_mb: app_commands.Range[float, 1, 1000] | None = None,
                              ) -> None:
        changes: dict[str, object] = {}
        if destination is not None:
            changes["destination"] = destination.value
        if answerers is not None:
            changes["answerers"] = answerers.value
        if max_upload_mb is not None:
            changes["max_upload_mb"] = max_upload_mb
        await adapter.change_server_settings(interaction, changes=changes)


# --- helpers -----------------------------------------------------------------------------


async def _respond(interaction: discord.Interaction[Any], text: str, *, ephemeral: bool) -> None:
    chunks = _chunks(text)
    await interaction.response.send_message(chunks[0], ephemeral=ephemeral)
    for chunk in chunks[1:]:
        await interaction.followup.send(chunk, ephemeral=ephemeral)


async def _send_text(channel: discord.PartialMessageable, text: str) -> None:
    """Short text as a message; a long card (plans, change lists) as one embed."""
    if len(text) <= MESSAGE_LIMIT:
        await channel.send(content=text)
    elif len(text) <= EMBED_LIMIT:
        await channel.send(embed=discord.Embed(description=text))
    else:
        for chunk in _chunks(text):
            await channel.send(content=chunk)


def _chunks(text: str) -> list[str]:
    """Split at line ends into pieces Discord accepts."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True) or [""]:
        while len(line) > MESSAGE_LIMIT:
            chunks.append(line[:MESSAGE_LIMIT])
            line = line[MESSAGE_LIMIT:]
        if len(current) + len(line) > MESSAGE_LIMIT:
            chunks.append(current)
            current = ""
        current += line
    chunks.append(current)
    return [c for c in chunks if c.strip()] or [text[:MESSAGE_LIMIT] or "…"]


def _progress_text(reply: ProgressReply) -> str:
    if reply.done:  # finished (fraction 1), or failed or stopped (no fraction)
        return f"✅ {reply.step}" if reply.fraction == 1.0 else f"⏹️ {reply.step}"
    if reply.fraction is None:
        return f"⏳ {reply.step}"
    where = f" · position {reply.position} in the queue" if reply.position and reply.fraction == 0 else ""
    eta = f" · about {round(reply.eta_s / 60) or 1} min left" if reply.eta_s else ""
    filled = round(reply.fraction * 12)
    return f"⏳ {reply.step} `{'█' * filled}{'░' * (12 - filled)}` {reply.fraction:.0%}{where}{eta}"


NUMBER_EMOJI = ("1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3",
                "5\ufe0f\u20e3", "6\ufe0f\u20e3", "7\ufe0f\u20e3", "8\ufe0f\u20e3",
                "9\ufe0f\u20e3", "\U0001f51f")
"""The reactions that answer a question: 1️⃣ for its first option … 🔟 for its tenth."""


def option_number(emoji: str) -> int | None:
    """The option index a reaction stands for (0 for 1️⃣), else ``None``."""
    bare = emoji.replace("\ufe0f", "")
    return next((i for i, e in enumerate(NUMBER_EMOJI) if e.replace("\ufe0f", "") == bare),
                None)


def _reaction_hint(options: int) -> str:
    """The line under a question saying which reactions answer it (up to ten options)."""
    if not 1 < options <= len(NUMBER_EMOJI):
        return ""
    return f"\n-# or react {NUMBER_EMOJI[0]}–{NUMBER_EMOJI[options - 1]} for the options in order"


def _options_on(message: discord.Message) -> list[tuple[str, str, str]]:
    """``(conversation, question, option)`` of each of our buttons on a message, in order."""
    found = []
    for row in message.components:
        for item in getattr(row, "children", []):
            parsed = parse_custom_id(getattr(item, "custom_id", None) or "")
            if parsed is not None:
                found.append(parsed)
    return found


async def _tell(thread: discord.PartialMessageable, user_id: int, text: str) -> None:
    """A sentence for one person in the thread, pinging them alone."""
    await thread.send(content=f"<@{user_id}> {text}"[:MESSAGE_LIMIT],
                      allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)]))


def _note_retry_after(error: discord.HTTPException) -> None:
    """Give a 429 that discord.py stopped waiting out the ``retry_after`` Discord asked for.

    The event pump (``bot.runtime``) reads ``retry_after`` off a failed post to know how
    long to wait before trying again; ``discord.RateLimited`` carries it already.
    """
    if error.status != 429 or getattr(error, "retry_after", None) is not None:
        return
    header = error.response.headers.get("Retry-After") if error.response is not None else None
    with contextlib.suppress(TypeError, ValueError):
        error.retry_after = float(header)  # type: ignore[arg-type, attr-defined]


def _author(user: discord.abc.User) -> Author:
    return Author(id=str(user.id), name=user.display_name)


def _describe(attachment: discord.Attachment) -> Attachment:
    content_type = attachment.content_type or ""
    kind = AttachmentKind.AUDIO if _looks_like_audio(attachment) else AttachmentKind.DOCUMENT
    return Attachment(name=attachment.filename, url=attachment.url, size_bytes=attachment.size,
                      content_type=content_type, kind=kind)


def _looks_like_audio(attachment: discord.Attachment) -> bool:
    return (attachment.content_type or "").startswith("audio/") or attachment.filename.lower(
    ).endswith((".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".aac", ".aif", ".aiff"))


def _only(user: discord.abc.Snowflake) -> discord.AllowedMentions:
    """Mentions that ping ``user`` and nobody else (no @everyone, no roles)."""
    return discord.AllowedMentions(everyone=False, roles=False, users=[user], replied_user=False)


def _thread_name(command: str | None, prompt: str, audio: discord.Attachment | None) -> str:
    what = prompt.strip() or (audio.filename if audio else "") or "New production"
    prefix = {"remix": "Remix", "produce": "Track", "reproduce": "Reproduce"}.get(command or "",
                                                                                  "Production")
    return f"🎛️ {prefix}: {what}"[:100]


# --- Discord-only sentences ------------------------------------------------------------------


def _say_started(mention: str, prompt: str) -> str:
    return f"🎛️ {mention} started a production: “{prompt[:1500]}”. Let's talk in the thread."


def _say_servers_only() -> str:
    return ("I make music in servers: mention me or use /remix in a server channel, and we'll "
            "talk in a thread there.")


def _say_not_a_production_thread() -> str:
    return "Use this in a production's thread (start one with /remix or /produce)."


def _say_no_thread_here() -> str:
    return ("I can't open a thread in this channel, so I can't start a production here. Ask a "
            "server admin to give me \"Create Public Threads\" and \"Send Messages in "
            "Threads\" here, or use /remix in a channel where I have them.")


def _say_press_in_thread() -> str:
    return "Answer this in the production's own thread."


def _say_managers_only() -> str:
    return "Only people who can manage this server can change its settings."


def _say_settings(settings: ServerSettings) -> str:
    destination = (settings.destination or "streaming (the default)").replace("_", " ")
    who = "anyone in the thread" if settings.answerers == "thread" else "only who started it"
    upload = f"{settings.max_upload_mb:g} MB" if settings.max_upload_mb else "the installation's limit"
    return (f"This server's defaults: loudness for {destination}; questions answered by {who}; "
            f"songs up to {upload}.")
