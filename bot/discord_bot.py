"""``vyke discord``: the Maestro on Discord (gateway bot, ``DISCORD_TOKEN``).

Builds the app (store, queue, Maestro), the per-server settings, the Discord adapter and its
client, and runs the one event pump that posts job results into threads. The bot asks for
the message-content intent so every message in a production thread is a turn; when the
application is not allowed that intent it reconnects without it and reads only messages
that mention it (see docs/discord.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord import DiscordAdapter, VykeClient
from bot.app import App, build_app, link_maker
from bot.runtime import pump_events
from bot.settings import Settings
from core.server_settings import ServerSettingsStore

__all__ = ["DiscordBot", "intents", "open_discord", "run_discord", "serve"]

logger = logging.getLogger(__name__)


@dataclass
class DiscordBot:
    """The running Discord bot's pieces."""

    app: App
    server_settings: ServerSettingsStore
    adapter: DiscordAdapter
    client: VykeClient


def intents(*, message_content: bool) -> discord.Intents:
    """The gateway intents: the defaults (guilds, messages, reactions), plus message content if
    allowed."""
    chosen = discord.Intents.default()
    chosen.message_content = message_content
    return chosen


@asynccontextmanager
async def open_discord(settings: Settings, *, message_content: bool = True,
                       **client_options: Any) -> AsyncIterator[DiscordBot]:
    """Build everything the Discord bot needs; close it all on exit (not yet logged in)."""
    async with build_app(settings, platforms=("discord",)) as app:
        server_settings = app.server_settings
        adapter = DiscordAdapter(maestro=app.maestro, store=app.store,
                                 server_settings=server_settings,
                                 data_dir=settings.data_dir,
                                 max_song_bytes=settings.max_upload_bytes,
                                 link_for=link_maker(settings, app.artifacts))
        client = VykeClient(adapter, intents=intents(message_content=message_content),
                            synced_file=settings.data_dir / "discord-commands.sha256",
                            **client_options)
        try:
            yield DiscordBot(app=app, server_settings=server_settings, adapter=adapter,
                             client=client)
        finally:
            await client.close()


async def serve(bot: DiscordBot, token: str) -> None:
    """Log in, start posting job results, and stay on the gateway until closed."""
    await bot.client.login(token)
    pump = asyncio.create_task(pump_events(bot.app, bot.adapter.post), name="discord-event-pump")
    try:
        await bot.client.connect(reconnect=True)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def run_discord(settings: Settings) -> int:
    """Run the Discord bot until it is stopped; the exit status for ``vyke discord``."""
    if settings.discord_token is None:
        print("Set DISCORD_TOKEN (the bot token of the Discord application); see "
              "docs/discord.md.", file=sys.stderr)
        return 2
    token = settings.discord_token.get_secret_value()
    try:
        try:
            async with open_discord(settings, message_content=True) as bot:
                await serve(bot, token)
        except discord.PrivilegedIntentsRequired:
            logger.warning("the message-content intent is not enabled for this application: "
                           "running in mention-only mode (enable it in the Developer Portal, "
                           "Bot > Privileged Gateway Intents, to read every thread message)")
            async with open_discord(settings, message_content=False) as bot:
                await serve(bot, token)
    except discord.LoginFailure:
        logger.error("Discord refused DISCORD_TOKEN; copy the bot token again from the "
                     "Developer Portal (Bot > Reset Token)")
        return 1
    return 0
