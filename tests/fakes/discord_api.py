"""A loopback fake of Discord's HTTP API, plus gateway payloads, for driving real discord.py.

The fake is an aiohttp server on 127.0.0.1 serving the REST routes a slash-command bot uses
(log in, publish commands, answer interactions, edit the original response, open threads,
send and edit messages with files) and the CDN URLs of attachments. ``discord.http.Route.BASE``
is pointed at it, so the client's own HTTP code (rate-limit buckets, multipart uploads,
webhook adapter) runs unchanged. Gateway events are fed to the client through the parsers
discord.py uses for them (``client._connection.parse_*``), built by the ``*_payload`` helpers.

It behaves like Discord where the bot's correctness depends on it:

* an interaction answered more than 3 s after it was dispatched gets ``404 Unknown
  interaction`` (10062), and a second answer gets ``400 already acknowledged`` (40060);
* a file over the server's upload limit gets ``413 Request entity too large`` (40005);
* opening a thread sends the bot ``THREAD_CREATE``, as the gateway does.

Usage::

    async with FakeDiscordAPI() as api:
        api.point(monkeypatch)             # Route.BASE -> the fake
        await client.login("token")        # GET /users/@me, /oauth2/applications/@me
        api.connect(client)                # GUILD_CREATE for the fake's guild
        interaction = api.slash_command("remix", prompt="…", attachment=("song.wav", data))
        await api.dispatch(interaction)
        await api.wait_until(lambda: api.messages_in(thread_id))
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import discord
import pytest
from aiohttp import BodyPartReader, web

__all__ = ["DEADLINE_S", "FakeDiscordAPI", "RecordedRequest", "SentFile"]

DEADLINE_S = 3.0
"""Discord drops an interaction not answered within this long."""
_MESSAGE_CONTENT = 1 << 15  # application flag: GATEWAY_MESSAGE_CONTENT


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str  #: without the ``/api/v10`` prefix
    body: Any  #: parsed JSON (``payload_json`` for multipart), or ``None``
    files: list[SentFile]
    status: int  #: what the fake answered


@dataclass(frozen=True)
class SentFile:
    """A file the bot uploaded."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class FakeMessage:
    """A message as the fake keeps it (the payload it answers with, plus the uploaded bytes)."""

    payload: dict[str, Any]
    files: list[SentFile] = field(default_factory=list)
    edits: int = 0

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.payload.get("embeds") or [])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.payload.get("components") or [] for c in row.get("components", [])]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscordAPI:
    """One guild with one text channel, one bot, any number of people."""

    def __init__(self, *, upload_limit_bytes: int = 10 * 1024 * 1024,
                 application_flags: int = _MESSAGE_CONTENT) -> None:
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self.application_id = self.snowflake()
        self.bot_user = self.user("Vyke", bot=True, user_id=self.application_id)
        self.guild_id = self.snowflake()
        self.channel_id = self.snowflake()
        self.upload_limit_bytes = upload_limit_bytes
        self.application_flags = application_flags
        self.requests: list[RecordedRequest] = []
        self.commands: list[dict[str, Any]] = []
        self.messages: dict[int, FakeMessage] = {}
        self.channel_of: dict[int, int] = {}  # message id -> channel id
        self.threads: dict[int, dict[str, Any]] = {}
        self.dm_channels: set[int] = set()  #: direct-message channels people opened
        #: the bot's role lacks Create Public Threads in the channel: thread creation is a 403
        self.threads_allowed = True
        self.cdn: dict[str, bytes] = {}
        self.client: discord.Client | None = None
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> payload
        self._issued_at: dict[str, float] = {}
        self._answered: set[str] = set()
        self._original: dict[str, int] = {}  # token -> message id
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscordAPI:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def point(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Send discord.py's REST calls here instead of discord.com."""
        monkeypatch.setattr(discord.http.Route, "BASE", f"{self.base_url}/api/v10")

    # --- ids and payloads ------------------------------------------------------------------

    def snowflake(self) -> int:
        return next(self._ids)

    def user(self, name: str, *, bot: bool = False, user_id: int | None = None) -> dict[str, Any]:
        return {"id": str(user_id or self.snowflake()), "username": name, "global_name": name,
                "discriminator": "0", "avatar": None, "bot": bot, "public_flags": 0}

    def member(self, user: dict[str, Any], *, manage_guild: bool = False) -> dict[str, Any]:
        permissions = discord.Permissions.text()
        permissions.manage_guild = manage_guild
        return {"user": user, "roles": [], "joined_at": _now_iso(), "deaf": False, "mute": False,
                "flags": 0, "permissions": str(permissions.value), "nick": None}

    def channel_payload(self) -> dict[str, Any]:
        return {"id": str(self.channel_id), "type": 0, "guild_id": str(self.guild_id),
                "name": "remixes", "position": 0, "permission_overwrites": [], "nsfw": False,
                "parent_id": None, "rate_limit_per_user": 0, "topic": None,
                "last_message_id": None}

    def guild_payload(self) -> dict[str, Any]:
        """GUILD_CREATE for the fake's guild (premium tier from the upload limit)."""
        tier = {50 * 1024 * 1024: 2, 100 * 1024 * 1024: 3}.get(self.upload_limit_bytes, 0)
        return {
            "id": str(self.guild_id), "name": "Studio", "icon": None, "owner_id": "1",
            "roles": [{"id": str(self.guild_id), "name": "@everyone", "permissions":
                       str(discord.Permissions.text().value), "position": 0, "color": 0,
                       "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
            "emojis": [], "stickers": [], "features": [], "premium_tier": tier,
            "member_count": 2, "members": [], "channels": [self.channel_payload()],
            "threads": [], "voice_states": [], "presences": [], "large": False,
            "unavailable": False, "mfa_level": 0, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0,
            "system_channel_flags": 0, "preferred_locale": "en-US", "nsfw_level": 0,
        }

    def connect(self, client: discord.Client) -> None:
        """What the gateway does on connect, as far as the bot needs: the guild, with channels."""
        self.client = client
        client._connection.parse_guild_create(self.guild_payload())

    def attachment(self, filename: str, data: bytes, content_type: str) -> dict[str, Any]:
        """An uploaded file as Discord resolves it; the fake's CDN serves its bytes."""
        attachment_id = self.snowflake()
        path = f"/attachments/{self.channel_id}/{attachment_id}/{filename}"
        self.cdn[path] = data
        return {"id": str(attachment_id), "filename": filename, "size": len(data),
                "url": self.base_url + path, "proxy_url": self.base_url + path,
                "content_type": content_type}

    def slash_command(self, name: str, *, user: dict[str, Any], channel_id: int | None = None,
                      attachment: dict[str, Any] | None = None, attachment_option: str = "audio",
                      manage_guild: bool = False, **options: Any) -> dict[str, Any]:
        """An APPLICATION_COMMAND interaction as the gateway delivers it."""
        option_types = {str: 3, int: 4, bool: 5, float: 10}
        data: dict[str, Any] = {
            "id": str(self._command_id(name)), "name": name, "type": 1,
            "options": [{"name": key, "type": option_types[type(value)], "value": value}
                        for key, value in options.items()],
        }
        if attachment is not None:
            data["options"].append({"name": attachment_option, "type": 11, "value": attachment["id"]})
            data["resolved"] = {"attachments": {attachment["id"]: attachment}}
        return self._interaction(2, data, user=user, channel_id=channel_id,
                                 manage_guild=manage_guild)

    def press(self, message_id: int, custom_id: str, *, user: dict[str, Any],
              channel_id: int | None = None) -> dict[str, Any]:
        """A MESSAGE_COMPONENT interaction: ``user`` pressed ``custom_id`` on a stored message."""
        message = self.messages[message_id].payload
        return self._interaction(3, {"custom_id": custom_id, "component_type": 2},
                                 user=user, channel_id=channel_id or int(message["channel_id"]),
                                 message=message)

    def message_create(self, content: str, *, user: dict[str, Any], channel_id: int,
                       attachments: list[dict[str, Any]] | None = None,
                       mentions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A MESSAGE_CREATE gateway payload."""
        return {
            "id": str(self.snowflake()), "channel_id": str(channel_id),
            "guild_id": str(self.guild_id), "author": user, "member": self.member(user),
            "content": content, "timestamp": _now_iso(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": mentions or [], "mention_roles": [],
            "attachments": attachments or [], "embeds": [], "pinned": False, "type": 0,
            "flags": 0, "components": [],
        }

    def direct_message(self, content: str, *, user: dict[str, Any]) -> dict[str, Any]:
        """A MESSAGE_CREATE of a direct message to the bot (no guild; its own DM channel)."""
        channel_id = self.snowflake()
        self.dm_channels.add(channel_id)
        payload = self.message_create(content, user=user, channel_id=channel_id)
        del payload["guild_id"], payload["member"]
        return payload

    async def dispatch(self, payload: dict[str, Any]) -> None:
        """Deliver an INTERACTION_CREATE through discord.py's own parser; starts the clock."""
        assert self.client is not None, "connect(client) first"
        self._issued_at[payload["token"]] = asyncio.get_running_loop().time()
        self._interactions[payload["token"]] = payload
        self.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]

    def deliver_message(self, payload: dict[str, Any]) -> None:
        """Deliver a MESSAGE_CREATE through discord.py's own parser."""
        assert self.client is not None, "connect(client) first"
        self.client._connection.parse_message_create(payload)  # type: ignore[arg-type]

    # --- what the bot did ------------------------------------------------------------------

    def messages_in(self, channel_id: int, *, ephemeral: bool = False) -> list[FakeMessage]:
        """Messages everyone sees in a channel (with ``ephemeral``: only the private ones)."""
        return [m for mid, m in self.messages.items() if self.channel_of.get(mid) == channel_id
                and bool(int(m.payload.get("flags") or 0) & 64) == ephemeral]

    def callbacks(self, payload: dict[str, Any]) -> list[RecordedRequest]:
        """The answers the bot sent to one interaction, in order."""
        prefix = f"/interactions/{payload['id']}/{payload['token']}/callback"
        return [r for r in self.requests if r.path == prefix]

    def requests_for(self, payload: dict[str, Any]) -> list[RecordedRequest]:
        """Every request that used the interaction's token (answer, original, follow-ups)."""
        return [r for r in self.requests if payload["token"] in r.path]

    async def wait_until(self, predicate: Callable[[], Any], *, timeout_s: float = 60.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every request)."""
        async def _wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(_wait(), timeout_s)

    async def poke(self) -> None:
        """Re-check waiters (after something outside the HTTP API changed)."""
        async with self._changed:
            self._changed.notify_all()

    # --- internals -------------------------------------------------------------------------

    def _command_id(self, name: str) -> int:
        for command in self.commands:
            if command["name"] == name:
                return int(command["id"])
        return self.snowflake()

    def _interaction(self, kind: int, data: dict[str, Any], *, user: dict[str, Any],
                     channel_id: int | None, manage_guild: bool = False,
                     message: dict[str, Any] | None = None) -> dict[str, Any]:
        channel = channel_id or self.channel_id
        channel_payload = (self.threads[channel] if channel in self.threads
                           else self.channel_payload())
        payload: dict[str, Any] = {
            "id": str(self.snowflake()), "application_id": str(self.application_id),
            "type": kind, "token": f"tok-{self.snowflake()}", "version": 1,
            "guild_id": str(self.guild_id), "channel_id": str(channel), "channel": channel_payload,
            "member": self.member(user, manage_guild=manage_guild), "data": data,
            "app_permissions": str(discord.Permissions.all().value), "locale": "en-GB",
            "guild_locale": "en-GB", "entitlements": [], "context": 0,
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "attachment_size_limit": self.upload_limit_bytes,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def _new_message(self, channel_id: int, body: dict[str, Any], files: list[SentFile], *,
                     author: dict[str, Any] | None = None, flags: int = 0) -> FakeMessage:
        message_id = self.snowflake()
        payload = {
            "id": str(message_id), "channel_id": str(channel_id), "guild_id": str(self.guild_id),
            "author": author or self.bot_user, "content": body.get("content") or "",
            "timestamp": _now_iso(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": self._attachments(files), "embeds": body.get("embeds") or [],
            "pinned": False, "type": 0, "flags": body.get("flags", flags),
            "components": body.get("components") or [],
        }
        message = FakeMessage(payload=payload, files=files)
        self.messages[message_id] = message
        self.channel_of[message_id] = channel_id
        return message

    def _attachments(self, files: list[SentFile]) -> list[dict[str, Any]]:
        out = []
        for sent in files:
            attachment_id = self.snowflake()
            path = f"/attachments/{attachment_id}/{sent.filename}"
            self.cdn[path] = sent.data
            out.append({"id": str(attachment_id), "filename": sent.filename,
                        "size": len(sent.data), "url": self.base_url + path,
                        "proxy_url": self.base_url + path, "content_type": sent.content_type})
        return out

    def _edit(self, message: FakeMessage, body: dict[str, Any], files: list[SentFile]) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message.payload[key] = body[key]
        if files:
            message.files = files
            message.payload["attachments"] = self._attachments(files)
        message.payload["edited_timestamp"] = _now_iso()
        message.edits += 1

    async def _read(self, request: web.Request) -> tuple[Any, list[SentFile]]:
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[SentFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append(SentFile(filename=part.filename or "",
                                          content_type=part.headers.get("Content-Type", ""),
                                          data=bytes(await part.read())))
            return body, files
        if request.can_read_body:
            text = await request.text()
            return (json.loads(text) if text else None), []
        return None, []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in self.cdn:
            self.requests.append(RecordedRequest(request.method, path, None, [], 200))
            return web.Response(body=self.cdn[path], content_type="application/octet-stream")
        body, files = await self._read(request)
        api_path = path.removeprefix("/api/v10")
        status, answer = await self._route(request.method, api_path, body or {}, files)
        self.requests.append(RecordedRequest(request.method, api_path, body, files, status))
        async with self._changed:
            self._changed.notify_all()
        if status == 204:
            return web.Response(status=204)
        # exactly "application/json": discord.py parses nothing else as JSON
        return web.Response(body=json.dumps(answer).encode(), status=status,
                            headers={"Content-Type": "application/json"})

    async def _route(self, method: str, path: str, body: dict[str, Any],
                     files: list[SentFile]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if (method, path) == ("GET", "/users/@me"):
            return 200, self.bot_user
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return 200, {"id": str(self.application_id), "name": "Vyke", "icon": None,
                         "description": "", "bot_public": True, "bot_require_code_grant": False,
                         "owner": self.user("operator"), "verify_key": "0" * 64,
                         "flags": self.application_flags, "bot": self.bot_user}
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            self.commands = [{**c, "id": str(self.snowflake()),
                              "application_id": str(self.application_id), "version": "1"}
                             for c in body]  # type: ignore[union-attr]
            return 200, self.commands
        if parts[0] == "interactions" and parts[-1] == "callback":
            return self._callback(parts[2], body, files)
        if parts[0] == "webhooks":
            return self._webhook(method, parts, body, files)
        if parts[0] == "channels":
            return await self._channel(method, parts, body, files)
        return 404, {"code": 0, "message": f"404: Not Found ({method} {path})"}

    def _too_big(self, files: list[SentFile]) -> bool:
        return any(len(f.data) > self.upload_limit_bytes for f in files)

    def _callback(self, token: str, body: dict[str, Any], files: list[SentFile]
                  ) -> tuple[int, Any]:
        interaction = self._interactions.get(token)
        issued = self._issued_at.get(token)
        if interaction is None or issued is None or \
                asyncio.get_running_loop().time() - issued > DEADLINE_S:
            return 404, {"code": 10062, "message": "Unknown interaction"}
        if token in self._answered:
            return 400, {"code": 40060, "message": "Interaction has already been acknowledged."}
        if self._too_big(files):
            return 413, {"code": 40005, "message": "Request entity too large"}
        self._answered.add(token)
        kind = body["type"]
        data = body.get("data") or {}
        response: dict[str, Any] = {"interaction": {"id": interaction["id"],
                                                    "type": interaction["type"]}}
        channel = int(interaction["channel_id"])
        if kind in (4, 5):  # a message (or "thinking…") as the original response
            message = self._new_message(channel, data, files,
                                        flags=(data.get("flags") or 0) | (128 if kind == 5 else 0))
            self._original[token] = int(message.payload["id"])
            response["interaction"]["response_message_id"] = message.payload["id"]
            response["interaction"]["response_message_loading"] = kind == 5
            response["interaction"]["response_message_ephemeral"] = bool(
                (data.get("flags") or 0) & 64)
            response["resource"] = {"type": kind, "message": message.payload}
        elif kind == 7:  # update the message the button is on
            message = self.messages[int(interaction["message"]["id"])]
            self._edit(message, data, files)
            response["resource"] = {"type": kind, "message": message.payload}
        return 200, response

    def _webhook(self, method: str, parts: list[str], body: dict[str, Any],
                 files: list[SentFile]) -> tuple[int, Any]:
        token = parts[2]
        interaction = self._interactions.get(token)
        if interaction is None:
            return 404, {"code": 10015, "message": "Unknown Webhook"}
        if self._too_big(files):
            return 413, {"code": 40005, "message": "Request entity too large"}
        if method == "PATCH" and parts[-1] == "@original":
            message_id = self._original.get(token)
            if message_id is None:
                return 404, {"code": 10008, "message": "Unknown Message"}
            message = self.messages[message_id]
            self._edit(message, body, files)
            message.payload["flags"] = int(message.payload.get("flags") or 0) & ~128
            return 200, message.payload
        if method == "POST":
            message = self._new_message(int(interaction["channel_id"]), body, files)
            return 200, message.payload
        return 404, {"code": 0, "message": "unsupported webhook route"}

    async def _channel(self, method: str, parts: list[str], body: dict[str, Any],
                       files: list[SentFile]) -> tuple[int, Any]:
        channel_id = int(parts[1])
        if method == "POST" and parts[-1] == "threads":
            if not self.threads_allowed:
                return 403, {"code": 50013, "message": "Missing Permissions"}
            return 201, await self.open_thread(channel_id, body)
        if channel_id != self.channel_id and channel_id not in self.threads \
                and channel_id not in self.dm_channels:
            return 404, {"code": 10003, "message": "Unknown Channel"}
        if method == "POST" and parts[2:] == ["messages"]:
            if self._too_big(files):
                return 413, {"code": 40005, "message": "Request entity too large"}
            return 200, self._new_message(channel_id, body, files).payload
        if method == "PATCH" and len(parts) == 4 and parts[2] == "messages":
            message = self.messages.get(int(parts[3]))
            if message is None or self.channel_of[int(parts[3])] != channel_id:
                return 404, {"code": 10008, "message": "Unknown Message"}
            self._edit(message, body, files)
            return 200, message.payload
        return 404, {"code": 0, "message": "unsupported channel route"}

    async def open_thread(self, parent_id: int, body: dict[str, Any]) -> dict[str, Any]:
        thread_id = self.snowflake()
        thread = {
            "id": str(thread_id), "guild_id": str(self.guild_id), "parent_id": str(parent_id),
            "owner_id": str(self.application_id), "name": body["name"], "type": 11,
            "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0,
            "member_count": 1, "flags": 0,
            "thread_metadata": {"archived": False,
                                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                                "archive_timestamp": _now_iso(), "locked": False},
        }
        self.threads[thread_id] = thread
        if self.client is not None:  # the gateway tells the bot about its new thread
            self.client._connection.parse_thread_create({**thread, "newly_created": True})  # type: ignore[arg-type]
        return thread
