"""A loopback fake of the Slack Web API, for driving the real ``slack_sdk`` client.

An aiohttp server on 127.0.0.1 (a free port) in the test's own event loop. It keeps a small
model of a workspace: messages with their threads, edits and blocks; files people shared
(served at a download URL that wants the bot token, answering a login page without it, like
Slack); files the bot uploads through the three-step ``files_upload_v2`` flow, whose upload
URL points back at the fake; ephemeral answers sent to a ``response_url``. Every request is
recorded, so a test can assert what reached Slack.

It is strict where the real Slack is: a message whose text or Block Kit breaks a documented
limit (see :func:`block_violations`) is refused (``msg_too_long``, ``invalid_blocks``) and
kept in :attr:`FakeSlackAPI.violations`; each method has its rate tier (``SLACK_TIERS``) and
a request over it is answered ``429`` with ``Retry-After``; and faults come on demand
(:attr:`FakeSlackAPI.faults`: 429 and 5xx, requests held until the client gives up, dropped
connections, slow uploads; see ``tests/fakes/faults.py``).

Served: ``auth.test``, ``chat.postMessage``, ``chat.update``, ``files.getUploadURLExternal``,
``files.completeUploadExternal``, ``files.info``, ``chat.postEphemeral``, ``reactions.get``,
the upload URL, the file download and
``response_url`` posts.

Usage::

    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        await slack.wait_for(lambda s: s.thread(channel, ts))
        assert slack.calls("chat.postMessage") == 1
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.faults import Fault, Faults, LoopbackServer, RateBuckets, Tier, hold

__all__ = ["SLACK_TIERS", "FakeFile", "FakeMessage", "FakeSlackAPI", "RecordedRequest",
           "block_violations"]

# Slack's documented limits (docs.slack.dev: chat.postMessage, Block Kit blocks and elements)
TEXT_MAX = 40_000  #: chat.postMessage / chat.update ``text``: longer is ``msg_too_long``
BLOCKS_MAX = 50  #: blocks per message
SECTION_TEXT_MAX = 3000  #: a section's text
SECTION_FIELDS_MAX = 10  #: a section's fields
FIELD_TEXT_MAX = 2000  #: each field's text
HEADER_TEXT_MAX = 150  #: a header block's plain_text
CONTEXT_ELEMENTS_MAX = 10  #: elements in a context block
ACTIONS_ELEMENTS_MAX = 25  #: elements in an actions block
BUTTON_TEXT_MAX = 75  #: a button's text
ACTION_ID_MAX = 255  #: an element's action_id (unique within its block)
BUTTON_VALUE_MAX = 2000  #: a button's value
BUTTON_URL_MAX = 3000  #: a button's url
BLOCK_ID_MAX = 255  #: a block_id (unique within the message)

SLACK_TIERS: dict[str, Tier] = {
    # docs.slack.dev/apis/web-api/rate-limits: tiers 2/3/4 are 20+/50+/100+ a minute;
    # chat.postMessage is "special": about one message a second per channel, short bursts
    "chat.postMessage": Tier(burst=4, per_s=1.0),
    "chat.update": Tier.per_minute(50),
    "chat.postEphemeral": Tier.per_minute(100),
    "files.getUploadURLExternal": Tier.per_minute(100),
    "files.completeUploadExternal": Tier.per_minute(100),
    "files.info": Tier.per_minute(100),
    "reactions.add": Tier.per_minute(50),
    "reactions.get": Tier.per_minute(50),
    "conversations.replies": Tier.per_minute(50),
    "auth.test": Tier.per_minute(100),
}
_PER_CHANNEL = {"chat.postMessage"}  #: methods whose tier is counted per channel


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str  #: the Web API method (``chat.postMessage``), or ``upload``/``download``/``respond``
    args: dict[str, Any]  #: form fields, JSON body and query, merged
    headers: dict[str, str]  #: header names lower-cased


@dataclass
class FakeMessage:
    """A message in a channel; ``thread_ts`` is set on replies in a thread."""

    channel: str
    ts: str
    text: str
    user: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  #: ids of files shared with it
    edits: int = 0


@dataclass
class FakeFile:
    """A file in the workspace, shared by a person or uploaded by the bot."""

    id: str
    name: str
    data: bytes
    mimetype: str
    user: str
    title: str = ""
    complete: bool = False  #: bot uploads: ``files.completeUploadExternal`` was called


MANIFEST_SCOPES: tuple[str, ...] = (
    "app_mentions:read", "channels:history", "chat:write", "commands", "files:read",
    "files:write", "groups:history", "reactions:read")
"""The bot scopes ``slack-manifest.yml`` asks for: what an up-to-date installation has."""


class FakeSlackAPI(LoopbackServer):
    """The fake server; use it as ``async with FakeSlackAPI() as slack``."""

    def __init__(self, *, bot_token: str = "xoxb-vyke-test", team_id: str = "T0VYKE",
                 bot_user_id: str = "U0VYKEBOT", bot_id: str = "B0VYKE",
                 closed_channels: frozenset[str] = frozenset(),
                 scopes: tuple[str, ...] = MANIFEST_SCOPES) -> None:
        self.bot_token = bot_token
        self.scopes = scopes  #: granted to the installation (the x-oauth-scopes header)
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.closed_channels = closed_channels  #: channels the bot is not in (not_in_channel)
        self.requests: list[RecordedRequest] = []
        self.messages: list[FakeMessage] = []
        self.files: dict[str, FakeFile] = {}
        self.ephemeral: list[dict[str, Any]] = []  #: bodies posted to response URLs
        #: every limit a request broke (each such request was refused)
        self.violations: list[str] = []
        self.faults = Faults()
        self.rates = RateBuckets(dict(SLACK_TIERS))
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Condition()

    # --- lifecycle -------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/api/{method}", self._api)  # files.info is a GET
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/respond/{key}", self._respond)
        return app

    @property
    def api_url(self) -> str:
        """Give this to ``AsyncWebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "1") -> str:
        """A ``response_url`` for a command or action payload; posts land in :attr:`ephemeral`."""
        return f"{self.base_url}/respond/{key}"

    def press_payload(self, question: FakeMessage, option_id: str, *, user: str, team: str,
                      username: str = "someone") -> dict[str, Any]:
        """The ``block_actions`` payload Slack sends when ``user`` presses the button of
        ``option_id`` in ``question``, exactly as this fake shows the message."""
        actions = next(b for b in question.blocks if b["type"] == "actions")
        button = next(e for e in actions["elements"] if e["action_id"].endswith(f":{option_id}"))
        return {
            "type": "block_actions", "team": {"id": team, "domain": "vyke"},
            "user": {"id": user, "username": username, "team_id": team},
            "api_app_id": "A0VYKE", "token": "legacy", "trigger_id": "t-press",
            "container": {"type": "message", "message_ts": question.ts,
                          "channel_id": question.channel, "is_ephemeral": False},
            "channel": {"id": question.channel, "name": "music"},
            "message": {"type": "message", "ts": question.ts, "thread_ts": question.thread_ts,
                        "text": question.text, "blocks": question.blocks,
                        "user": self.bot_user_id},
            "response_url": self.response_url(f"press-{question.ts}"),
            "actions": [{"type": "button", "action_id": button["action_id"],
                         "block_id": actions["block_id"], "value": button["value"],
                         "text": button["text"], "action_ts": str(time.time())}],
        }

    # --- the workspace, for tests ----------------------------------------------------------

    def share_file(self, *, name: str, data: bytes, mimetype: str, user: str) -> dict[str, Any]:
        """A person's file; returns the short file object an event's ``files`` list carries."""
        file = FakeFile(id=f"F{next(self._file_ids):08d}", name=name, data=data,
                        mimetype=mimetype, user=user, complete=True)
        self.files[file.id] = file
        return {"id": file.id, "mode": "hosted", "file_access": "check_file_info"}

    def add_message(self, *, channel: str, text: str, user: str,
                    thread_ts: str | None = None, files: list[str] | None = None) -> FakeMessage:
        """A person's message (the event a test sends next describes it)."""
        message = FakeMessage(channel=channel, ts=self._next_ts(), text=text, user=user,
                              thread_ts=thread_ts, files=files or [])
        self.messages.append(message)
        return message

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """Replies in a thread, oldest first (the first message itself excluded)."""
        return [m for m in self.messages
                if m.channel == channel and m.thread_ts == thread_ts and m.ts != thread_ts]

    def roots(self, channel: str) -> list[FakeMessage]:
        """Messages posted in the channel itself (thread starters)."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def message(self, ts: str) -> FakeMessage:
        return next(m for m in self.messages if m.ts == ts)

    def calls(self, method: str) -> int:
        """How many requests reached ``method``."""
        return sum(1 for r in self.requests if r.method == method)

    def made(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    def uploads_in(self, channel: str, thread_ts: str) -> list[FakeFile]:
        """Files the bot uploaded into a thread, in order."""
        return [self.files[f] for m in self.thread(channel, thread_ts) for f in m.files
                if self.files[f].user == self.bot_user_id]

    async def wait_for(self, predicate: Callable[[FakeSlackAPI], Any], *,
                       timeout_s: float = 120.0) -> Any:
        """Wait until ``predicate(self)`` is truthy (checked after every request); returns it."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout_s)
        return predicate(self)

    # --- HTTP handlers ---------------------------------------------------------------------

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_790_000_000 + n}.{n:06d}"

    async def _record(self, method: str, request: web.Request, args: dict[str, Any]) -> None:
        self.requests.append(RecordedRequest(method, args,
                                             {k.lower(): v for k, v in request.headers.items()}))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.method == "GET":
            pass
        elif request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(dict(parse_qsl(await request.text(), keep_blank_values=True)))
        await self._record(method, request, args)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or args.get("token")
        try:
            fault = self.faults.decide(method, where=str(args.get("channel", "")))
            if fault is not None:
                refused = await self._fault(request, fault)
                if refused is not None:
                    return refused
            wait = self.rates.take(method, str(args.get("channel", ""))
                                   if method in _PER_CHANNEL else "")
            if wait:
                return _rate_limited(wait)
            if token != self.bot_token:
                return _ok(False, error="invalid_auth")
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                return _ok(False, error="unknown_method")
            if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
                broken = _message_violations(args)
                if broken:
                    self.violations.extend(broken)
                    return _ok(False, error="msg_too_long" if broken[0].startswith("text")
                               else "invalid_blocks", errors=broken)
            return handler(args)  # type: ignore[no-any-return]
        finally:
            await self._notify()

    async def _fault(self, request: web.Request, fault: Fault) -> web.Response | None:
        """Answer a fault instead of the request (``None``: a slow one, now to be served)."""
        await hold(fault)
        if fault.kind == "slow":
            return None
        if fault.kind in ("timeout", "drop"):  # the connection breaks without an answer
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)  # never written: the connection is closed
        if fault.status == 429:
            return _rate_limited(fault.seconds)
        return web.json_response({"ok": False, "error": "internal_error"}, status=fault.status)

    def _auth_test(self, args: dict[str, Any]) -> web.Response:
        response = _ok(url="https://vyke-test.slack.com/", team="Vyke Test", user="vyke",
                       team_id=self.team_id, user_id=self.bot_user_id, bot_id=self.bot_id)
        response.headers["X-OAuth-Scopes"] = ",".join(self.scopes)  # as Slack sends it
        return response

    def _chat_postMessage(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel", ""))
        if channel in self.closed_channels:
            return _ok(False, error="not_in_channel")
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None and not any(m.ts == thread_ts for m in self.messages):
            return _ok(False, error="thread_not_found")
        message = FakeMessage(channel=channel, ts=self._next_ts(), text=str(args.get("text", "")),
                              user=self.bot_user_id, thread_ts=thread_ts,
                              blocks=_blocks(args.get("blocks")))
        self.messages.append(message)
        return _ok(channel=channel, ts=message.ts, message={"text": message.text, "ts": message.ts})

    def _chat_update(self, args: dict[str, Any]) -> web.Response:
        message = next((m for m in self.messages if m.ts == args.get("ts")
                        and m.channel == args.get("channel")), None)
        if message is None:
            return _ok(False, error="message_not_found")
        if message.user != self.bot_user_id:
            return _ok(False, error="cant_update_message")
        message.text = str(args.get("text", message.text))
        if "blocks" in args:
            message.blocks = _blocks(args["blocks"])
        message.edits += 1
        return _ok(channel=message.channel, ts=message.ts, text=message.text)

    def _chat_postEphemeral(self, args: dict[str, Any]) -> web.Response:
        if not args.get("user") or not args.get("channel"):
            return _ok(False, error="invalid_arguments")
        self.ephemeral.append({"channel": args["channel"], "user": args["user"],
                               "text": str(args.get("text", "")),
                               "thread_ts": args.get("thread_ts")})
        return _ok(message_ts=self._next_ts())

    def _reactions_get(self, args: dict[str, Any]) -> web.Response:
        message = next((m for m in self.messages if m.ts == args.get("timestamp")
                        and m.channel == args.get("channel")), None)
        if message is None:
            return _ok(False, error="message_not_found")
        body: dict[str, Any] = {"type": "message", "text": message.text, "ts": message.ts,
                                "user": message.user, "blocks": message.blocks}
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
        return _ok(type="message", channel=message.channel, message=body)

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> web.Response:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return _ok(False, error="invalid_arguments")
        file = FakeFile(id=f"F{next(self._file_ids):08d}", name=str(args["filename"]), data=b"",
                        mimetype="", user=self.bot_user_id)
        self.files[file.id] = file
        return _ok(upload_url=f"{self.base_url}/upload/{file.id}", file_id=file.id)

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> web.Response:
        entries = json.loads(args.get("files") or "[]")
        channel, thread_ts = args.get("channel_id"), args.get("thread_ts")
        done = []
        for entry in entries:
            file = self.files.get(entry.get("id", ""))
            if file is None or not file.data:
                return _ok(False, error="file_not_found")
            file.title = entry.get("title") or file.name
            file.complete = True
            done.append(file)
        if channel:
            if thread_ts and not any(m.ts == thread_ts for m in self.messages):
                return _ok(False, error="thread_not_found")
            self.messages.append(FakeMessage(channel=str(channel), ts=self._next_ts(),
                                             text=str(args.get("initial_comment", "")),
                                             user=self.bot_user_id, thread_ts=thread_ts,
                                             files=[f.id for f in done]))
        return _ok(files=[{"id": f.id, "title": f.title, "name": f.name} for f in done])

    def _files_info(self, args: dict[str, Any]) -> web.Response:
        file = self.files.get(str(args.get("file", "")))
        if file is None:
            return _ok(False, error="file_not_found")
        url = f"{self.base_url}/files-pri/{self.team_id}-{file.id}/{file.name}"
        return _ok(file={"id": file.id, "name": file.name, "title": file.title or file.name,
                         "mimetype": file.mimetype, "size": len(file.data), "user": file.user,
                         "url_private": url, "url_private_download": url + "?download=1"})

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        data = await request.read()
        await self._record("upload", request, {"file_id": request.match_info["file_id"],
                                               "length": len(data)})
        try:
            fault = self.faults.decide("upload")
            if fault is not None:
                refused = await self._fault(request, fault)
                if refused is not None:
                    return refused
            if file is None or file.complete:
                return web.Response(status=404, text="upload URL unknown or used")
            file.data = data
            return web.Response(text=f"OK - {len(data)}")
        finally:
            await self._notify()

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"].split("-", 1)[-1]
        await self._record("download", request, {"file_id": file_id})
        try:
            file = self.files.get(file_id)
            if request.headers.get("Authorization") != f"Bearer {self.bot_token}" or file is None:
                # what Slack does without a valid token and files:read: a sign-in page
                return web.Response(text="<html><body>Sign in to Slack</body></html>",
                                    content_type="text/html")
            return web.Response(body=file.data, content_type=file.mimetype)
        finally:
            await self._notify()

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self._record("respond", request, body)
        self.ephemeral.append(body)
        await self._notify()
        return web.Response(text="ok")


def _ok(ok: bool = True, **fields: Any) -> web.Response:
    return web.json_response({"ok": ok, **fields})


def _rate_limited(wait_s: float) -> web.Response:
    """Slack's 429: whole seconds in Retry-After, ``ratelimited`` in the body."""
    return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                             headers={"Retry-After": str(max(0, math.ceil(wait_s)))})


def _message_violations(args: dict[str, Any]) -> list[str]:
    text = str(args.get("text") or "")
    broken = [f"text is {len(text)} characters (max {TEXT_MAX})"] if len(text) > TEXT_MAX else []
    try:
        blocks = _blocks(args.get("blocks"))
    except ValueError:
        return [*broken, "blocks are not JSON"]
    return broken + block_violations(blocks)


def _text_of(obj: Any) -> str:
    return str(obj.get("text") or "") if isinstance(obj, dict) else ""


def block_violations(blocks: list[dict[str, Any]]) -> list[str]:
    """Every documented Block Kit limit ``blocks`` break, as short sentences."""
    broken: list[str] = []
    if len(blocks) > BLOCKS_MAX:
        broken.append(f"{len(blocks)} blocks (max {BLOCKS_MAX})")
    block_ids: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if "block_id" in block:
            block_ids.append(str(block["block_id"]))
            if len(str(block["block_id"])) > BLOCK_ID_MAX:
                broken.append(f"block_id is longer than {BLOCK_ID_MAX}")
        if kind == "section":
            if not _text_of(block.get("text")) and not block.get("fields"):
                broken.append("a section has neither text nor fields")
            if len(_text_of(block.get("text"))) > SECTION_TEXT_MAX:
                broken.append(f"section text is {len(_text_of(block.get('text')))} characters "
                              f"(max {SECTION_TEXT_MAX})")
            fields = block.get("fields") or []
            if len(fields) > SECTION_FIELDS_MAX:
                broken.append(f"{len(fields)} section fields (max {SECTION_FIELDS_MAX})")
            if any(len(_text_of(f)) > FIELD_TEXT_MAX for f in fields):
                broken.append(f"a section field is longer than {FIELD_TEXT_MAX}")
        elif kind == "header":
            if len(_text_of(block.get("text"))) > HEADER_TEXT_MAX:
                broken.append(f"header text is longer than {HEADER_TEXT_MAX}")
        elif kind == "context":
            if len(block.get("elements") or []) > CONTEXT_ELEMENTS_MAX:
                broken.append(f"context holds more than {CONTEXT_ELEMENTS_MAX} elements")
        elif kind == "actions":
            elements = block.get("elements") or []
            if len(elements) > ACTIONS_ELEMENTS_MAX:
                broken.append(f"{len(elements)} elements in an actions block "
                              f"(max {ACTIONS_ELEMENTS_MAX})")
            action_ids = [str(e.get("action_id")) for e in elements if "action_id" in e]
            if len(set(action_ids)) != len(action_ids):
                broken.append("two elements of one block share an action_id")
            for element in elements:
                broken.extend(_element_violations(element))
    if len(set(block_ids)) != len(block_ids):
        broken.append("two blocks share a block_id")
    return broken


def _element_violations(element: dict[str, Any]) -> list[str]:
    broken = []
    if len(str(element.get("action_id") or "")) > ACTION_ID_MAX:
        broken.append(f"action_id is longer than {ACTION_ID_MAX}")
    if element.get("type") == "button":
        text = _text_of(element.get("text"))
        if not text or len(text) > BUTTON_TEXT_MAX:
            broken.append(f"button text is {len(text)} characters (1 to {BUTTON_TEXT_MAX})")
        if len(str(element.get("value") or "")) > BUTTON_VALUE_MAX:
            broken.append(f"button value is longer than {BUTTON_VALUE_MAX}")
        if len(str(element.get("url") or "")) > BUTTON_URL_MAX:
            broken.append(f"button url is longer than {BUTTON_URL_MAX}")
    return broken


def _blocks(raw: Any) -> list[dict[str, Any]]:
    if not raw:
        return []
    return list(json.loads(raw) if isinstance(raw, str) else raw)
