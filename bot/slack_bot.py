"""``vyke slack``: the Maestro in Slack, over Socket Mode or over HTTP.

Socket Mode (``SLACK_APP_TOKEN``) needs no public address: the bot dials out to Slack. HTTP
mode (``SLACK_SIGNING_SECRET``) serves Slack's requests at ``/slack/events``; the web process
mounts the same routes with :func:`slack_routes`. Either way one pump
(:func:`bot.runtime.pump_events`) posts job results into their threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackAdapter
from bot.app import App, build_app, link_maker
from bot.runtime import pump_events
from bot.settings import Settings
from bot.signals import stop_event

__all__ = ["EVENTS_PATH", "open_slack", "run_slack", "slack_routes"]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
"""Where Slack sends events, slash commands and button presses in HTTP mode (the manifest's URLs)."""


@asynccontextmanager
async def open_slack(app: App, *, client: AsyncWebClient | None = None,
                     download_hosts: frozenset[str] | None = None,
                     progress_interval_s: float = 2.0) -> AsyncIterator[SlackAdapter]:
    """The Slack adapter wired to ``app``; turns in flight finish before it closes.

    ``client`` defaults to one with the bot token from the settings; tests pass one whose
    ``base_url`` points at a fake Web API, with that fake's host in ``download_hosts``.
    """
    settings = app.settings
    if client is None:
        if settings.slack_bot_token is None:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value())
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    server_settings = app.server_settings
    extra = {"download_hosts": download_hosts} if download_hosts is not None else {}
    adapter = SlackAdapter(client=client, signing_secret=secret, maestro=app.maestro,
                           store=app.store, data_dir=settings.data_dir,
                           max_upload_bytes=settings.max_upload_bytes,
                           server_settings=server_settings,
                           progress_interval_s=progress_interval_s,
                           link_for=link_maker(settings, app.artifacts), **extra)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def slack_routes(adapter: SlackAdapter, *, path: str = EVENTS_PATH) -> list[web.RouteDef]:
    """The aiohttp route Slack calls in HTTP mode, for any ``web.Application`` to mount.

    Requests are verified by Bolt (v0 signature, 5-minute timestamp window) before anything
    else runs; a bad one gets 401 and does nothing.
    """

    async def slack_events(request: web.Request) -> web.Response:
        response = await adapter.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return [web.post(path, slack_events)]


async def run_slack(settings: Settings) -> int:
    """Run the Slack bot until SIGINT or SIGTERM; returns the process exit status."""
    problem = _missing(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    stopping = stop_event()
    async with build_app(settings, platforms=("slack",)) as app, open_slack(app) as slack:
        pump = asyncio.create_task(pump_events(app, slack.post), name="vyke-slack-job-events")
        try:
            if settings.slack_app_token is not None:
                await _socket_mode(slack, settings.slack_app_token.get_secret_value(), stopping)
            else:
                await _http_mode(slack, settings, stopping)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    return 0


def _missing(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        return "Set SLACK_BOT_TOKEN (the xoxb- token from the app's OAuth & Permissions page)."
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        return ("Set SLACK_APP_TOKEN (xapp-, Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode); "
                "see docs/slack.md.")
    return ""


async def _socket_mode(slack: SlackAdapter, app_token: str, stopping: asyncio.Event) -> None:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(slack.app, app_token)
    await handler.connect_async()
    logger.info("connected to Slack over Socket Mode")
    try:
        await stopping.wait()
    finally:
        await handler.close_async()


async def _http_mode(slack: SlackAdapter, settings: Settings, stopping: asyncio.Event) -> None:
    web_app = web.Application()
    web_app.add_routes(slack_routes(slack))
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, host=settings.web_host, port=settings.web_port)
    await site.start()
    logger.info("serving Slack requests at http://%s:%d%s", settings.web_host, settings.web_port,
                EVENTS_PATH)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
