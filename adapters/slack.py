"""Slack as a chat platform: ``/remix`` opens a thread, and the thread is the conversation.

Slack's rules shape this module (facts and sources in ``docs/slack.md``):

- Every request is answered within Slack's 3 seconds. Commands and button presses call
  ``ack()`` at once; events are answered by :meth:`SlackAdapter._on_event_request` as soon as
  their ``event_id`` is recorded. The turn itself runs afterwards, as a named task the adapter
  tracks (:meth:`SlackAdapter.idle` waits for them; so does :meth:`SlackAdapter.stop`).
- Slack retries an event it believes was missed (``X-Slack-Retry-Num``), so each ``event_id``
  is handled once, recorded in the store with :meth:`core.store.Store.first_time`.
- Slash commands can neither carry a file nor run inside a thread: ``/remix`` posts a message
  in the channel and the thread under it becomes the conversation
  (``slack:<team>:<channel>:<thread_ts>``). The song arrives as a file shared in that thread,
  or with a mention of the bot (which opens a thread of its own).
- Buttons are stateless: each button's ``value`` carries the conversation, question and option.
- Results go up with ``files_upload_v2`` (``files.upload`` was retired in 2025); uploads by
  people are sized with ``files.info`` before they are downloaded with the bot token.

The adapter translates and posts; every musical decision and almost every sentence is the
Maestro's (:mod:`core.replies`, :mod:`core.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from core import replies as say
from core.artifacts import safe_file_name, upload_path
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
from core.errors import AudioTooLarge
from core.maestro import Maestro
from core.pacing import Pace, ProgressPacer
from core.server_settings import ServerSettingsStore
from core.store import Store

__all__ = ["ACTION_PREFIX", "PLATFORM", "UPLOAD_LIMIT_BYTES", "SlackAdapter", "SlackThread"]

logger = logging.getLogger(__name__)

PLATFORM = "slack"
ACTION_PREFIX = "vyke_answer"
"""Every question button's ``action_id`` starts with this; the press handler matches it."""

_SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
"""Files bigger than this go as a signed link: ``files_upload_v2`` reads a file whole into
memory and sends it within the client's timeout, so a project of hundreds of MB would hold the
bot's memory and time out (Slack itself takes up to 1 GB)."""

_BUTTON_LABEL_MAX = 75  # Block Kit plain_text limit for a button
_BUTTONS_MAX = 25  # elements in one actions block
_SECTION_TEXT_MAX = 3000
_CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class SlackThread:
    """Where a conversation lives in Slack: a team, a channel and the thread's first message."""

    team: str
    channel: str
    thread_ts: str

    @property
    def conversation_id(self) -> str:
        return f"{PLATFORM}:{self.team}:{self.channel}:{self.thread_ts}"

    @classmethod
    def parse(cls, conversation_id: str) -> SlackThread:
        """The thread of a ``slack:<team>:<channel>:<thread_ts>`` id.

        Raises ``ValueError`` for any other platform's id, so the event pump leaves that
        event unacknowledged for the process that owns it.
        """
        parts = conversation_id.split(":")
        if len(parts) != 4 or parts[0] != PLATFORM or not all(parts[1:]):
            raise ValueError(f"{conversation_id!r} is not a Slack conversation id "
                             f"(expected {PLATFORM}:<team>:<channel>:<thread_ts>)")
        return cls(team=parts[1], channel=parts[2], thread_ts=parts[3])


class _DownloadFailed(Exception):
    """Slack did not hand over a file (wrong host, login page, HTTP error)."""


class SlackAdapter:
    """Turns Slack requests into :class:`Turn` values and :class:`Reply` values into messages.

    Parameters
    ----------
    client : AsyncWebClient
        The Web API client with the bot token (its ``base_url`` points at a fake in tests).
    signing_secret : str
        Verifies HTTP requests (v0 signatures, 5-minute window); empty in Socket Mode,
        where requests arrive over the authenticated WebSocket instead.
    maestro : Maestro
        Answers every turn.
    store : Store
        Productions (to tell our threads from others) and the record of seen event ids.
    data_dir : Path
        Uploads are saved under ``<data_dir>/productions/<production>/uploads`` so they
        expire with their production.
    max_upload_bytes : int
        The installation's biggest accepted song; a team's own setting can only lower it.
    server_settings : ServerSettingsStore, optional
        Per-team choices (upload limit, who may answer questions).
    download_hosts : frozenset of str
        Hosts the bot token may be sent to when downloading a file (Slack's file host).
    progress_interval_s : float
        Least time between two edits of one progress message (``chat.update`` is rate
        limited); the final state of a job is always shown.
    link_for : callable, optional
        Makes a signed download link for a file over :data:`UPLOAD_LIMIT_BYTES`; ``None``
        when this installation has no link secret.
    """

    def __init__(self, *, client: AsyncWebClient, signing_secret: str, maestro: Maestro,
                 store: Store, data_dir: Path, max_upload_bytes: int,
                 server_settings: ServerSettingsStore | None = None,
                 download_hosts: frozenset[str] = _SLACK_FILE_HOSTS,
                 progress_interval_s: float = 2.0,
                 link_for: Callable[[Attachment], str] | None = None) -> None:
        if not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
            # a 429 is waited out (Slack's Retry-After) and tried again, not dropped
            client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        if not any(isinstance(h, AsyncServerErrorRetryHandler) for h in client.retry_handlers):
            # a transient 500/503 is tried again (as discord.py does), not taken as a refusal:
            # otherwise one lost files.info drops the director's song, one lost post a question
            client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
        self.client = client
        self.link_for = link_for
        self.maestro = maestro
        self.store = store
        self.data_dir = data_dir
        self.max_upload_bytes = max_upload_bytes
        self.server_settings = server_settings
        self.download_hosts = download_hosts
        self.progress_interval_s = progress_interval_s
        #: whether this installation was granted ``reactions:read`` (read at :meth:`start`)
        self.reactions_readable = True
        self.app = AsyncApp(client=client, signing_secret=signing_secret, name="vyke",
                            logger=logging.getLogger("slack_bolt"))
        self._tasks: set[asyncio.Task[None]] = set()
        # one lock per thread, kept only while someone holds or waits for it
        self._turn_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._post_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._pacer: ProgressPacer[str] = ProgressPacer(min_interval_s=progress_interval_s)
        # Slack's tiers (docs.slack.dev rate limits): chat.postMessage about one message a
        # second per channel with short bursts; chat.update tier 3, 50 a minute per workspace
        self._post_pace = Pace(burst=4, per_s=1.0)
        self._update_pace = Pace(burst=10, per_s=50 / 60)
        self._session: aiohttp.ClientSession | None = None
        self.app.middleware(self._on_event_request)
        self.app.command("/remix")(self._on_remix)
        self.app.action(re.compile(f"^{ACTION_PREFIX}:"))(self._on_press)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session used for downloads and read the scopes this app was granted."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        await self._read_scopes()

    async def _read_scopes(self) -> None:
        """Offer answering by reaction only where Slack will deliver the reactions.

        Slack lists the scopes an installation was granted in each Web API response's
        ``x-oauth-scopes`` header. A workspace that installed the app from an older manifest
        lacks ``reactions:read``: no ``reaction_added`` event ever arrives there, so a question
        that said "or react" would promise what cannot work. When the scopes cannot be read
        (Slack unreachable at start, no header), the hint stays, as the manifest grants it.
        """
        try:
            response = await self.client.auth_test()
        except Exception as error:  # a start-up probe: the bot works without it
            logger.warning("could not read the Slack app's scopes (%s); assuming the manifest's",
                           error)
            return
        headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
        granted = headers.get("x-oauth-scopes")
        if granted is None:
            return
        self.reactions_readable = "reactions:read" in {g.strip() for g in granted.split(",")}
        if not self.reactions_readable:
            logger.warning("this Slack installation lacks the reactions:read scope: questions "
                           "offer buttons only; reinstall the app from slack-manifest.yml to "
                           "let people answer with number reactions too")

    async def stop(self) -> None:
        """Let the turns in flight finish, then close the download session."""
        await self.idle()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def idle(self) -> None:
        """Wait until every accepted request's turn has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Awaitable[None], name: str) -> None:
        try:
            await work
        except Exception:  # one thread's failure must not take the others down
            logger.exception("%s failed", name)

    def _lock(self, locks: MutableMapping[str, asyncio.Lock], key: str) -> asyncio.Lock:
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    # --- converters ------------------------------------------------------------------------

    def to_turn(self, event: dict[str, Any], *, team: str, bot_user_id: str | None,
                attachments: list[Attachment] | None = None) -> Turn:
        """A message or mention event as a turn in its thread (the mention is left out)."""
        text = event.get("text") or ""
        if bot_user_id:
            text = text.replace(f"<@{bot_user_id}>", " ")
        thread = SlackThread(team, event["channel"], event.get("thread_ts") or event["ts"])
        return Turn(conversation_id=thread.conversation_id, author=_author(event.get("user", "")),
                    text=" ".join(text.split()), attachments=attachments or [])

    def to_message(self, reply: Reply, *, conversation_id: str) -> dict[str, Any]:
        """The ``text`` (and ``blocks`` for a question) a reply is posted as."""
        if isinstance(reply, TextReply):
            return {"text": _mrkdwn(reply.text)}
        if isinstance(reply, QuestionReply):
            return {"text": _mrkdwn(reply.question.text),
                    "blocks": _question_blocks(reply.question, conversation_id,
                                               reaction_hint=self.reactions_readable)}
        if isinstance(reply, ProgressReply):
            return {"text": _progress_text(reply)}
        attachment = reply.attachment
        label = reply.caption or attachment.name
        return {"text": f"{_mrkdwn(label)}: {attachment.url or attachment.path}"}

    # --- posting ---------------------------------------------------------------------------

    async def post(self, conversation_id: str, reply: Reply) -> None:
        """Post one reply into its thread (the :data:`bot.runtime.Poster` of this platform).

        Raises ``ValueError`` for a conversation of another platform and
        ``slack_sdk.errors.SlackApiError`` when Slack refuses, so the event stays unacknowledged.
        """
        thread = SlackThread.parse(conversation_id)
        async with self._lock(self._post_locks, conversation_id):
            try:
                if isinstance(reply, ProgressReply):
                    await self._post_progress(thread, reply)
                    return
                await self._post_pace.wait(thread.channel)  # each reply is one message
                if isinstance(reply, FileReply):
                    await self._upload(thread, reply)
                else:
                    await self.client.chat_postMessage(
                        channel=thread.channel, thread_ts=thread.thread_ts,
                        **self.to_message(reply, conversation_id=conversation_id))
            except SlackApiError as error:
                _note_retry_after(error)
                raise

    async def _post_progress(self, thread: SlackThread, reply: ProgressReply) -> None:
        """One message per job, edited in place as often as the shared pacer allows."""
        text = _progress_text(reply)
        plan = self._pacer.plan(reply.job_id, text, done=reply.done)
        if plan == "edit" and not reply.done and not self._update_pace.ready(thread.team):
            return  # chat.update's tier is spent: this state is skipped, a later one shows
        if plan == "edit" and reply.done:
            await self._update_pace.wait(thread.team)  # the final state waits its turn
        if plan == "post":
            await self._post_pace.wait(thread.channel)
            response = await self.client.chat_postMessage(channel=thread.channel,
                                                           thread_ts=thread.thread_ts, text=text)
            self._pacer.shown(reply.job_id, text, ref=str(response["ts"]), done=reply.done)
        elif plan == "edit":
            await self.client.chat_update(channel=thread.channel,
                                          ts=self._pacer.ref(reply.job_id), text=text)
            self._pacer.shown(reply.job_id, text, done=reply.done)

    async def _upload(self, thread: SlackThread, reply: FileReply) -> None:
        attachment = reply.attachment
        if attachment.kind is AttachmentKind.LINK or not (attachment.path or attachment.key):
            await self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts,
                **self.to_message(reply, conversation_id=thread.conversation_id))
            return
        path = Path(attachment.path) if attachment.path else None
        size = path.stat().st_size if path is not None else attachment.size_bytes
        if path is None or size > UPLOAD_LIMIT_BYTES:
            await self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts,
                text=_mrkdwn(say.file_link(reply.caption or attachment.name, size,
                                           self._link(attachment))))
            return
        # the file as the thread names it (a fetched artifact's own name is its hash)
        name = attachment.name if Path(attachment.name).suffix else path.name
        await self.client.files_upload_v2(
            channel=thread.channel, thread_ts=thread.thread_ts, file=str(path),
            filename=safe_file_name(name), title=reply.caption or attachment.name or path.name)

    def _link(self, attachment: Attachment) -> str | None:
        if self.link_for is None:
            return None
        try:
            return self.link_for(attachment)
        except ValueError:
            logger.warning("no download link for %s: it is not stored", attachment.name)
            return None

    # --- /remix ----------------------------------------------------------------------------

    async def _on_remix(self, ack: Callable[..., Awaitable[Any]], command: dict[str, Any],
                        respond: Callable[..., Awaitable[Any]]) -> None:
        """``/remix <prompt>``: answered at once; the thread is opened right after."""
        self._spawn(self._remix(command, respond), name=f"slack-remix-{command.get('trigger_id', '')}")
        await ack()

    async def _remix(self, command: dict[str, Any], respond: Callable[..., Awaitable[Any]]) -> None:
        prompt = " ".join((command.get("text") or "").split())
        user = command.get("user_id", "")
        try:
            await self._post_pace.wait(str(command["channel_id"]))  # counts in the channel's tier
            root = await self.client.chat_postMessage(channel=command["channel_id"],
                                                      text=_thread_title(user, prompt))
        except SlackApiError as error:
            logger.warning("could not open a thread in %s: %s", command.get("channel_id"),
                           error.response.get("error"))
            await respond(text=_cannot_post_here(), response_type="ephemeral")
            return
        thread = SlackThread(command["team_id"], command["channel_id"], str(root["ts"]))
        turn = Turn(conversation_id=thread.conversation_id, author=_author(user), text=prompt,
                    command="remix")
        await self._run_turn(turn)

    # --- events ----------------------------------------------------------------------------

    async def _on_event_request(self, body: dict[str, Any], context: dict[str, Any],
                                next: Callable[[], Awaitable[Any]]) -> BoltResponse | None:
        """Answer an Events API request at once; a retried ``event_id`` is answered and dropped.

        Events are handled here rather than by ``app.event`` listeners because Bolt starts
        those only after the 200 has gone back; here the turn is tracked from the moment
        the event is accepted.
        """
        if body.get("type") != "event_callback":
            return await next()
        event_id = str(body.get("event_id") or "")
        if event_id and not await self.store.first_time(f"{PLATFORM}:{event_id}"):
            logger.info("event %s was delivered again; it was handled the first time", event_id)
            return BoltResponse(status=200, body="")
        event = body.get("event") or {}
        team = str(body.get("team_id") or context.get("team_id") or "")
        bot_user_id = context.get("bot_user_id")
        kind = _event_kind(event, bot_user_id)
        if kind == "mention" and not await self.store.first_time(
                f"{PLATFORM}:message:{team}:{event.get('channel')}:{event.get('ts')}"):
            # one message mentioning the bot may come as ``app_mention``, as ``message``, or
            # as both (a file share often only as ``message``): whichever comes first is the turn
            return BoltResponse(status=200, body="")
        if kind is not None and team:
            self._spawn(self._on_message(event, team=team, bot_user_id=bot_user_id, kind=kind),
                        name=f"slack-event-{event_id}")
        elif event.get("type") == "reaction_added" and team:
            self._spawn(self._on_reaction(event, team=team, bot_user_id=bot_user_id),
                        name=f"slack-reaction-{event_id}")
        return BoltResponse(status=200, body="")

    async def _on_message(self, event: dict[str, Any], *, team: str, bot_user_id: str | None,
                          kind: Literal["mention", "thread"]) -> None:
        turn = self.to_turn(event, team=team, bot_user_id=bot_user_id)
        if kind == "thread" and await self.store.get(turn.conversation_id) is None:
            return  # a thread the bot did not start: not a conversation of ours
        files = list(event.get("files") or [])
        if files:
            attachments, problems = await self._fetch_files(turn.conversation_id, team, files)
            if problems:
                for problem in problems:
                    await self.post(turn.conversation_id, TextReply(text=problem))
                return
            turn = turn.model_copy(update={"attachments": attachments})
        await self._run_turn(turn)

    async def _run_turn(self, turn: Turn) -> None:
        async with self._lock(self._turn_locks, turn.conversation_id):
            replies = await self.maestro.handle(turn)
            for reply in replies:
                await self.post(turn.conversation_id, reply)

    # --- button presses --------------------------------------------------------------------

    async def _on_press(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any],
                        action: dict[str, Any], respond: Callable[..., Awaitable[Any]]) -> None:
        """A question button: answered at once; the press becomes a turn right after."""
        self._spawn(self._press(body, action, respond),
                    name=f"slack-press-{action.get('action_ts', '')}")
        await ack()

    async def _press(self, body: dict[str, Any], action: dict[str, Any],
                     respond: Callable[..., Awaitable[Any]]) -> None:
        try:
            value = json.loads(action.get("value") or "{}")
            conversation_id, question_id, option_id = str(value["c"]), str(value["q"]), str(value["o"])
            thread = SlackThread.parse(conversation_id)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a button press with an unreadable value")
            return
        user = str((body.get("user") or {}).get("id", ""))

        async def tell(reply: TextReply) -> None:
            await self._tell_presser(respond, reply)

        await self._answer(thread, question_id, option_id, user=user,
                           message=body.get("message") or {}, tell=tell)

    async def _answer(self, thread: SlackThread, question_id: str, option_id: str, *,
                      user: str, message: dict[str, Any],
                      tell: Callable[[TextReply], Awaitable[None]]) -> None:
        """A press or a reaction as a turn, after the thread's running turn; ``tell`` says a
        refusal to that person alone."""
        conversation_id = thread.conversation_id
        turn = Turn(conversation_id=conversation_id, author=_author(user),
                    press=ButtonPress(question_id=question_id, option_id=option_id))
        async with self._lock(self._turn_locks, conversation_id):
            production = await self.store.get(conversation_id)
            question = production.pending_question if production else None
            open_question = question if question is not None and question.id == question_id else None
            refusal = await self.maestro.check_press(turn)
            if refusal is not None and open_question is not None:
                # the question is open but not this person's to answer: it stays open
                await tell(refusal)
                return
            replies = [] if refusal is not None else await self.maestro.handle(turn)
            if message.get("ts") and any(b.get("type") == "actions"
                                         for b in message.get("blocks") or []):
                chosen = next((o.label for o in open_question.options if o.id == option_id),
                              None) if open_question else None
                await self._close_question(thread, str(message["ts"]), message, user, chosen)
            if refusal is not None:
                # a stale button: only the presser hears about it, the thread stays clean
                await tell(refusal)
                return
            for reply in replies:
                if isinstance(reply, TextReply) and reply.private:
                    await tell(reply)
                else:
                    await self.post(conversation_id, reply)

    # --- reactions -------------------------------------------------------------------------

    async def _on_reaction(self, event: dict[str, Any], *, team: str,
                           bot_user_id: str | None) -> None:
        """A number reaction (:one: … :keycap_ten:) on a question answers it like its button.

        The message's own buttons (read with ``reactions.get``, which needs ``reactions:read``)
        say which question and option the number stands for, so a reaction on an older
        question is stale like a press on it. A refusal is an ephemeral message to the reactor.
        """
        item = event.get("item") or {}
        index = _REACTION_NUMBERS.index(event["reaction"]) \
            if event.get("reaction") in _REACTION_NUMBERS else None
        user = str(event.get("user") or "")
        if index is None or item.get("type") != "message" or not user or user == bot_user_id \
                or (bot_user_id and event.get("item_user") not in (None, bot_user_id)):
            return
        channel, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
        try:
            message = (await self.client.reactions_get(channel=channel, timestamp=ts,
                                                       full=True))["message"]
        except (SlackApiError, KeyError) as error:
            logger.warning("could not read the message reacted to (%s)", error)
            return
        options = _options_in(message.get("blocks") or [])
        answered = next((str(b["block_id"]).removeprefix("answered:")
                         for b in message.get("blocks") or []
                         if str(b.get("block_id") or "").startswith("answered:")), None)
        if index < len(options):
            conversation_id, question_id, option_id = options[index]
        elif answered is not None and message.get("thread_ts"):
            # a question answered before: the Maestro refuses it as it refuses a stale press
            conversation_id = SlackThread(team, channel, str(message["thread_ts"])).conversation_id
            question_id, option_id = answered, ""
        else:
            return  # not one of our questions, or no such option
        try:
            thread = SlackThread.parse(conversation_id)
        except ValueError:
            return
        if thread.channel != channel:
            return

        async def tell(reply: TextReply) -> None:
            await self.client.chat_postEphemeral(channel=channel, user=user,
                                                 thread_ts=thread.thread_ts,
                                                 text=_mrkdwn(reply.text))

        await self._answer(thread, question_id, option_id, user=user,
                           message={**message, "ts": ts}, tell=tell)

    @staticmethod
    async def _tell_presser(respond: Callable[..., Awaitable[Any]], reply: TextReply) -> None:
        """A message only the person who pressed sees (Slack's ephemeral response)."""
        await respond(text=_mrkdwn(reply.text), response_type="ephemeral", replace_original=False)

    async def _close_question(self, thread: SlackThread, ts: str, message: dict[str, Any],
                              user: str, chosen: str | None) -> None:
        """Take the buttons off an answered (or stale) question, saying who chose what."""
        blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"
                  and not str(b.get("block_id") or "").startswith("react:")]
        asked = next((str(b["block_id"]) for b in message.get("blocks") or []
                      if str(b.get("block_id") or "").startswith("question:")), None)
        closed: dict[str, Any] = {"type": "context", "elements": [
            {"type": "mrkdwn", "text": _chosen(user, chosen)}]}
        if asked is not None:  # a reaction on it later is known to be stale
            closed["block_id"] = "answered:" + asked.removeprefix("question:")
        blocks.append(closed)
        try:
            await self._update_pace.wait(thread.team)
            await self.client.chat_update(channel=thread.channel, ts=ts,
                                          text=message.get("text") or "", blocks=blocks)
        except SlackApiError as error:  # the answer counts even if the old message can't change
            logger.warning("could not close question message %s: %s", ts,
                           error.response.get("error"))

    # --- files from people -----------------------------------------------------------------

    async def _fetch_files(self, conversation_id: str, team: str,
                           files: list[dict[str, Any]]) -> tuple[list[Attachment], list[str]]:
        """Size each shared file with ``files.info``, then download it with the bot token.

        Returns the attachments and, for files that could not be taken, the sentence that
        says why (too large, or Slack would not hand it over).
        """
        limit = await self._upload_limit(team)
        attachments: list[Attachment] = []
        problems: list[str] = []
        for shared in files:
            try:
                info = (await self.client.files_info(file=str(shared["id"])))["file"]
            except SlackApiError as error:
                logger.warning("files.info %s failed: %s", shared.get("id"), error.response.get("error"))
                problems.append(_download_failed(str(shared.get("name") or "your file")))
                continue
            name = str(info.get("name") or info.get("title") or info["id"])
            size = int(info.get("size") or 0)
            if size > limit:
                problems.append(str(AudioTooLarge(filename=name, size_bytes=size,
                                                  max_size_bytes=limit)))
                continue
            url = str(info.get("url_private_download") or info.get("url_private") or "")
            path = upload_path(self.data_dir, conversation_id, name, unique=str(info["id"]))
            try:
                size = await self._download(url, path, limit=limit, name=name)
            except AudioTooLarge as error:
                problems.append(str(error))
                continue
            except (_DownloadFailed, aiohttp.ClientError, TimeoutError) as error:
                logger.warning("download of %s failed: %s", info["id"], error)
                problems.append(_download_failed(name))
                continue
            attachments.append(Attachment(
                name=name, path=str(path.resolve()), url=url, size_bytes=size,
                content_type=str(info.get("mimetype") or ""),
                kind=AttachmentKind.AUDIO if str(info.get("mimetype", "")).startswith("audio/")
                else AttachmentKind.DOCUMENT))
        return attachments, problems

    async def _download(self, url: str, path: Path, *, limit: int, name: str) -> int:
        """Stream ``url`` to ``path`` with the bot token, stopping past ``limit`` bytes."""
        if urlparse(url).hostname not in self.download_hosts:
            raise _DownloadFailed(f"{url!r} is not on a Slack file host")
        await self.start()
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self.client.token}"}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        received = 0
        async with self._session.get(url, headers=headers) as response:
            if response.status != 200 or response.content_type == "text/html":
                # Slack answers a login page when the token lacks files:read
                raise _DownloadFailed(f"HTTP {response.status} ({response.content_type})")
            with partial.open("wb") as out:
                async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                    received += len(chunk)
                    if received > limit:
                        out.close()
                        partial.unlink(missing_ok=True)
                        raise AudioTooLarge(filename=name, size_bytes=received, max_size_bytes=limit)
                    out.write(chunk)
        partial.replace(path)
        return received

    # --- per-team settings -----------------------------------------------------------------

    async def _upload_limit(self, team: str) -> int:
        if self.server_settings is None:
            return self.max_upload_bytes
        chosen = await self.server_settings.get(PLATFORM, team)
        return chosen.upload_limit_bytes(self.max_upload_bytes)



# --- pure helpers ----------------------------------------------------------------------------


def _event_kind(event: dict[str, Any], bot_user_id: str | None) -> Literal["mention", "thread"] | None:
    """What a person's event is to us: a mention, a message in some thread, or nothing."""
    if event.get("bot_id") or not event.get("user"):
        return None
    if event.get("type") == "app_mention":
        return "mention"
    if event.get("type") != "message":
        return None
    if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
        return None  # edits, deletions, joins
    if bot_user_id and f"<@{bot_user_id}>" in (event.get("text") or ""):
        return "mention"  # the same message's app_mention, if it comes too, is dropped
    return "thread" if event.get("thread_ts") else None


def _note_retry_after(error: SlackApiError) -> None:
    """Give a 429 that slack_sdk stopped waiting out the ``Retry-After`` Slack asked for.

    The event pump (``bot.runtime``) reads ``retry_after`` off a failed post to know how
    long to wait before trying again.
    """
    response = error.response
    if getattr(response, "status_code", None) != 429:
        return
    headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):  # slack_sdk keeps each header as a list of values
        value = value[0] if value else None
    with contextlib.suppress(TypeError, ValueError):
        error.retry_after = float(value)  # type: ignore[arg-type, attr-defined]


def _author(user_id: str) -> Author:
    """A Slack user; the name is their mention, so Slack shows their current display name."""
    return Author(id=user_id, name=f"<@{user_id}>" if user_id else "")


def _question_blocks(question: Question, conversation_id: str, *,
                     reaction_hint: bool = True) -> list[dict[str, Any]]:
    """A question as a section and a row of buttons; each button's value carries its ids."""
    buttons: list[dict[str, Any]] = []
    for option in question.options[:_BUTTONS_MAX]:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}:{option.id}",
            "text": {"type": "plain_text", "text": option.label[:_BUTTON_LABEL_MAX], "emoji": True},
            "value": json.dumps({"c": conversation_id, "q": question.id, "o": option.id},
                                separators=(",", ":")),
        }
        if option.suggested:
            button["style"] = "primary"
        buttons.append(button)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": _mrkdwn(question.text)[:_SECTION_TEXT_MAX]}},
        {"type": "actions", "block_id": f"question:{question.id}", "elements": buttons},
    ]
    if reaction_hint and 1 < len(buttons) <= len(_REACTION_NUMBERS):
        last = _REACTION_NUMBERS[len(buttons) - 1]
        blocks.append({"type": "context", "block_id": f"react:{question.id}", "elements": [
            {"type": "mrkdwn", "text": f"or react :one:–:{last}: for the options in order"}]})
    return blocks


_REACTION_NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                     "keycap_ten")
"""Slack's names of the reactions that answer a question, first option first."""


def _options_in(blocks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(conversation, question, option)`` of each question button in a message, in order."""
    found = []
    for block in blocks:
        if block.get("type") != "actions" or not str(block.get("block_id") or "").startswith(
                "question:"):
            continue
        for element in block.get("elements") or []:
            try:
                value = json.loads(element.get("value") or "{}")
                found.append((str(value["c"]), str(value["q"]), str(value["o"])))
            except (ValueError, KeyError, TypeError):
                continue
    return found


def _progress_text(reply: ProgressReply) -> str:
    if reply.done:
        return f"✅ {reply.step}" if reply.fraction == 1.0 else f"⏹️ {reply.step}"
    if reply.fraction is None:
        return f"⏳ {reply.step}"
    filled = round(reply.fraction * 10)
    where = f" · position {reply.position} in the queue" if reply.position and reply.fraction == 0 else ""
    return f"⏳ {reply.step} `{'▓' * filled}{'░' * (10 - filled)}` {reply.fraction:.0%}{where}"


_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _mrkdwn(text: str) -> str:
    """The Maestro's Markdown in Slack's mrkdwn (``**bold**`` is ``*bold*`` there).

    ``&``, ``<`` and ``>`` are escaped as Slack requires, so an echoed prompt cannot make a
    link or a ``<!channel>`` ping; a person's mention (``<@U…>``, how the Maestro names a
    Slack director) stays a mention.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BOLD.sub(r"*\1*", _MENTION.sub(r"<@\1>", escaped))


# --- what the adapter itself says (Slack mechanics only, never music) ------------------------


def _thread_title(user: str, prompt: str) -> str:
    said = f": {_mrkdwn(prompt)}" if prompt else ""
    return f"🎛️ Remix for <@{user}>{said} (reply in this thread)"


def _cannot_post_here() -> str:
    return "I can't post in this channel yet: invite me with /invite and try /remix again."


def _download_failed(name: str) -> str:
    return (f"Slack wouldn't let me download '{name}'. Share it again in this thread; if it "
            "keeps failing, ask the operator to check the app's files:read permission.")


def _chosen(user: str, label: str | None) -> str:
    return f"<@{user}> chose *{_mrkdwn(label)}*" if label else "This question is closed."
