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
* opening a thread sends the bot ``THREAD_CREATE``, as the gateway does;
* a message, embed or component that breaks one of Discord's documented limits (see
  :func:`limit_violations`) gets ``400 Invalid Form Body`` (50035), and is kept in
  :attr:`FakeDiscordAPI.violations`, so a test can assert that the bot never broke one;
* each route has a rate-limit bucket (``X-RateLimit-*`` headers, as discord.py reads them);
  a request that finds its bucket empty gets ``429`` with ``retry_after``;
* faults on demand (:attr:`FakeDiscordAPI.faults`, see ``tests/fakes/faults.py``): 429 and
  5xx answers, requests held until the client gives up, dropped connections, slow uploads.

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
from typing import Any

import discord
import pytest
from aiohttp import BodyPartReader, web

from tests.fakes.faults import Fault, Faults, LoopbackServer, RateBuckets, Tier, hold

__all__ = ["DEADLINE_S", "DISCORD_TIERS", "FakeDiscordAPI", "RecordedRequest", "SentFile",
           "limit_violations"]

DEADLINE_S = 3.0
"""Discord drops an interaction not answered within this long."""
_MESSAGE_CONTENT = 1 << 15  # application flag: GATEWAY_MESSAGE_CONTENT

# Discord's documented limits (discord.com/developers/docs: Message, Embed, Component, Thread)
CONTENT_MAX = 2000  #: message content characters
EMBEDS_MAX = 10  #: embeds per message
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBEDS_TOTAL_MAX = 6000  #: characters across every embed of one message
ROWS_MAX = 5  #: action rows per message
ROW_BUTTONS_MAX = 5  #: buttons per action row
LABEL_MAX = 80  #: button label characters
CUSTOM_ID_MAX = 100  #: custom_id characters (unique within a message)
FILES_MAX = 10  #: attachments per message
THREAD_NAME_MAX = 100

DISCORD_TIERS: dict[str, Tier] = {
    # per-route buckets Discord reports in X-RateLimit-* headers; a channel's messages and
    # edits are about 5 per 5 s, reactions 1 per 0.25 s, and 50 requests a second in all
    "POST messages": Tier(burst=5, per_s=1.0),
    "PATCH messages": Tier(burst=5, per_s=1.0),
    "POST threads": Tier(burst=10, per_s=1.0),
    "PUT reactions": Tier(burst=1, per_s=4.0),
    "global": Tier(burst=50, per_s=50.0),
}


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


def limit_violations(body: dict[str, Any], files: list[SentFile]) -> list[str]:
    """Every documented limit a message body (create or edit) breaks, as short sentences."""
    broken: list[str] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        broken.append(f"content is {len(content)} characters (max {CONTENT_MAX})")
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        broken.append(f"{len(embeds)} embeds (max {EMBEDS_MAX})")
    total = 0
    for embed in embeds:
        for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
            text = str(embed.get(key) or "")
            total += len(text)
            if len(text) > limit:
                broken.append(f"embed {key} is {len(text)} characters (max {limit})")
        for key, limit in (("footer", EMBED_FOOTER_MAX), ("author", EMBED_AUTHOR_MAX)):
            text = str((embed.get(key) or {}).get("text" if key == "footer" else "name") or "")
            total += len(text)
            if len(text) > limit:
                broken.append(f"embed {key} is {len(text)} characters (max {limit})")
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            broken.append(f"{len(fields)} embed fields (max {EMBED_FIELDS_MAX})")
        for item in fields:
            name, value = str(item.get("name") or ""), str(item.get("value") or "")
            total += len(name) + len(value)
            if len(name) > EMBED_FIELD_NAME_MAX or len(value) > EMBED_FIELD_VALUE_MAX:
                broken.append("an embed field is too long")
    if total > EMBEDS_TOTAL_MAX:
        broken.append(f"embeds hold {total} characters (max {EMBEDS_TOTAL_MAX})")
    rows = body.get("components") or []
    if len(rows) > ROWS_MAX:
        broken.append(f"{len(rows)} action rows (max {ROWS_MAX})")
    custom_ids: list[str] = []
    for row in rows:
        items = row.get("components") or []
        if len(items) > ROW_BUTTONS_MAX:
            broken.append(f"{len(items)} buttons in a row (max {ROW_BUTTONS_MAX})")
        for item in items:
            label = str(item.get("label") or "")
            if len(label) > LABEL_MAX:
                broken.append(f"button label is {len(label)} characters (max {LABEL_MAX})")
            if not label and not item.get("emoji"):
                broken.append("a button has neither label nor emoji")
            if "custom_id" in item:
                custom_id = str(item["custom_id"])
                custom_ids.append(custom_id)
                if not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
                    broken.append(f"custom_id is {len(custom_id)} characters (max {CUSTOM_ID_MAX})")
    if len(set(custom_ids)) != len(custom_ids):
        broken.append("two components share a custom_id")
    if len(files) > FILES_MAX:
        broken.append(f"{len(files)} files (max {FILES_MAX})")
    return broken


class FakeDiscordAPI(LoopbackServer):
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
        #: every limit a request broke (each such request was answered 400)
        self.violations: list[str] = []
        self.faults = Faults()
        self.rates = RateBuckets(dict(DISCORD_TIERS))
        self.client: discord.Client | None = None
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> payload
        self._issued_at: dict[str, float] = {}
        self._answered: set[str] = set()
        self._original: dict[str, int] = {}  # token -> message id
        self._changed = asyncio.Condition()

    # --- lifecycle -------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

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

    def react(self, message_id: int, emoji: str, *, user: dict[str, Any]) -> None:
        """``user`` adds ``emoji`` to a stored message: MESSAGE_REACTION_ADD, as the gateway sends it."""
        assert self.client is not None, "connect(client) first"
        payload = {"user_id": user["id"], "channel_id": str(self.channel_of[message_id]),
                   "message_id": str(message_id), "guild_id": str(self.guild_id),
                   "emoji": {"id": None, "name": emoji}, "member": self.member(user),
                   "burst": False, "type": 0}
        self.client._connection.parse_message_reaction_add(payload)  # type: ignore[arg-type]

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
        fault = self.faults.decide(f"{request.method} {api_path}")
        if fault is not None and fault.kind != "slow":
            return await self._fail(request, api_path, body, files, fault)
        if fault is not None:
            await hold(fault)
        limited = self._rate_limited(request.method, api_path)
        headers = {"Content-Type": "application/json"}
        if limited is not None:
            status, answer = 429, {"message": "You are being rate limited.",
                                   "retry_after": limited, "global": False, "code": 0}
            headers |= {"Retry-After": f"{limited:.3f}", "Via": "1.1 google"}
        else:
            status, answer = await self._route(request.method, api_path, body or {}, files)
            headers |= self._rate_headers(request.method, api_path)
        self.requests.append(RecordedRequest(request.method, api_path, body, files, status))
        async with self._changed:
            self._changed.notify_all()
        if status == 204:
            return web.Response(status=204)
        # exactly "application/json": discord.py parses nothing else as JSON
        return web.Response(body=json.dumps(answer).encode(), status=status, headers=headers)

    async def _fail(self, request: web.Request, api_path: str, body: Any,
                    files: list[SentFile], fault: Fault) -> web.StreamResponse:
        """Answer a fault instead of the request; nothing of it is applied."""
        await hold(fault)
        status = fault.status if fault.kind == "status" else 0
        self.requests.append(RecordedRequest(request.method, api_path, body, files, status))
        async with self._changed:
            self._changed.notify_all()
        if fault.kind in ("timeout", "drop"):  # the connection breaks without an answer
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)  # never written: the connection is closed
        answer: dict[str, Any] = {"message": "500: Internal Server Error", "code": 0}
        headers = {"Content-Type": "application/json"}
        if status == 429:  # the "Via" header tells discord.py it is not a Cloudflare ban
            answer = {"message": "You are being rate limited.", "retry_after": fault.seconds,
                      "global": False, "code": 0}
            headers |= {"Retry-After": f"{fault.seconds:.3f}", "Via": "1.1 google"}
        return web.Response(body=json.dumps(answer).encode(), status=status, headers=headers)

    @staticmethod
    def _bucket(method: str, api_path: str) -> tuple[str, str] | None:
        """The rate-limit bucket of a request: (route, channel), or None when unlimited."""
        parts = api_path.strip("/").split("/")
        if parts[0] != "channels" or len(parts) < 3:
            return None
        kind = "reactions" if "reactions" in parts else "threads" if parts[-1] == "threads" \
            else parts[2]
        route = f"{method} {kind}"
        return (route, parts[1]) if route in DISCORD_TIERS else None

    def _rate_limited(self, method: str, api_path: str) -> float | None:
        """Seconds to wait when the request's bucket (or the global one) is empty."""
        if not api_path.startswith("/interactions/"):  # interactions skip the global limit
            wait = self.rates.take("global")
            if wait:
                return wait
        bucket = self._bucket(method, api_path)
        if bucket is None:
            return None
        return self.rates.take(*bucket) or None

    def _rate_headers(self, method: str, api_path: str) -> dict[str, str]:
        bucket = self._bucket(method, api_path)
        if bucket is None:
            return {}
        remaining, reset_after = self.rates.remaining(*bucket)
        return {"X-RateLimit-Limit": str(DISCORD_TIERS[bucket[0]].burst),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": f"{bucket[0].replace(' ', '-')}"}

    def _refuse(self, body: dict[str, Any], files: list[SentFile]) -> tuple[int, Any] | None:
        """``400 Invalid Form Body`` when the message breaks a limit (remembered)."""
        broken = limit_violations(body, files)
        if not broken:
            return None
        self.violations.extend(broken)
        return 400, {"code": 50035, "message": "Invalid Form Body", "errors": broken}

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
        if (refused := self._refuse(body.get("data") or {}, files)) is not None:
            return refused
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
        if (refused := self._refuse(body, files)) is not None:
            return refused
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
            if not 1 <= len(str(body.get("name") or "")) <= THREAD_NAME_MAX:
                self.violations.append(f"thread name is {len(str(body.get('name') or ''))} "
                                       f"characters (1 to {THREAD_NAME_MAX})")
                return 400, {"code": 50035, "message": "Invalid Form Body"}
            return 201, await self.open_thread(channel_id, body)
        if channel_id != self.channel_id and channel_id not in self.threads \
                and channel_id not in self.dm_channels:
            return 404, {"code": 10003, "message": "Unknown Channel"}
        if method == "POST" and parts[2:] == ["messages"]:
            if self._too_big(files):
                return 413, {"code": 40005, "message": "Request entity too large"}
            if (refused := self._refuse(body, files)) is not None:
                return refused
            return 200, self._new_message(channel_id, body, files).payload
        if method == "GET" and len(parts) == 4 and parts[2] == "messages":
            message = self.messages.get(int(parts[3]))
            if message is None or self.channel_of[int(parts[3])] != channel_id:
                return 404, {"code": 10008, "message": "Unknown Message"}
            return 200, message.payload
        if method == "PATCH" and len(parts) == 4 and parts[2] == "messages":
            message = self.messages.get(int(parts[3]))
            if message is None or self.channel_of[int(parts[3])] != channel_id:
                return 404, {"code": 10008, "message": "Unknown Message"}
            if (refused := self._refuse(body, files)) is not None:
                return refused
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
