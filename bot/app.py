"""Wiring: builds the Maestro and its parts from the settings (the only place that does)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.inline_queue import InlineQueue
from bot.redis_queue import RedisQueue
from bot.settings import Settings
from chefs import all_chefs, load_genres
from core.artifacts import ArtifactStore, check_key, folder_name, open_artifact_store
from core.brain import Brain
from core.conversation import Attachment
from core.maestro import Maestro, MaestroLimits
from core.rule_brain import RuleBrain
from core.server_settings import ServerSettingsStore
from core.store import Store

if TYPE_CHECKING:
    from core.claude_chef import ClaudeChefAdvisor
    from core.claude_client import ClaudeTools

__all__ = ["App", "LinkMaker", "build_advisor", "build_app", "build_brain", "build_claude",
           "build_queue", "link_maker"]

logger = logging.getLogger(__name__)


@dataclass
class App:
    """The running pieces, for adapters and commands to use."""

    settings: Settings
    maestro: Maestro
    store: Store
    queue: InlineQueue | RedisQueue
    server_settings: ServerSettingsStore  #: each server's choices (same database)
    artifacts: ArtifactStore  #: every file of every production (local folder or S3)


def build_claude(settings: Settings) -> ClaudeTools | None:
    """The one Claude client of this process (brain and Chef advisor share it), or ``None``."""
    if settings.anthropic_api_key is None:
        return None
    from core.claude_client import ClaudeTools

    return ClaudeTools(api_key=settings.anthropic_api_key.get_secret_value(),
                       model=settings.anthropic_model, base_url=settings.anthropic_base_url,
                       timeout_s=settings.anthropic_timeout_s)


def build_brain(settings: Settings, claude: ClaudeTools | None = None) -> Brain:
    """Claude when a key is set (falling back to rules on any error), else the rules."""
    rules = RuleBrain(genres=load_genres())
    claude = claude or build_claude(settings)
    if claude is None:
        return rules
    from core.claude_brain import ClaudeBrain

    logger.info("using Claude (%s) for understanding, rules as fallback", settings.anthropic_model)
    return ClaudeBrain(client=claude, fallback=rules, genres=load_genres())


def page_link_maker(settings: Settings) -> Callable[[str, int], str] | None:
    """Signed links to a version's page on ``vyke web``; ``None`` without a link secret."""
    if settings.link_secret is None:
        return None
    from bot import links

    secret = settings.link_secret.get_secret_value()

    def page_link(production_id: str, version: int) -> str:
        return links.sign_page(production_id, version, secret=secret,
                               ttl_s=settings.link_ttl_hours * 3600, base_url=settings.public_url)

    return page_link


LinkMaker = Callable[[Attachment], str]
"""Turns a stored file (an attachment with an artifact key) into a signed download URL
(``ValueError`` for one that is not stored)."""


def link_maker(settings: Settings, artifacts: ArtifactStore | None = None) -> LinkMaker | None:
    """Signs download links for stored files; ``None`` without a link secret.

    Files over a platform's upload limit (a project zip of hundreds of MB) go as these links,
    served by ``vyke web`` (or, for a public-facing S3 store, by the store itself).
    """
    if settings.link_secret is None:
        return None
    from bot import links

    secret = settings.link_secret.get_secret_value()
    ttl_s = settings.link_ttl_hours * 3600
    presign = getattr(artifacts, "presign", None) if settings.s3_public else None

    def link_for(attachment: Attachment) -> str:
        key = check_key(attachment.key)  # ValueError for anything not in the store
        if presign is not None:
            return str(presign(key, expires_s=ttl_s))
        return links.sign(links.artifact_path(key, attachment.name), secret=secret, ttl_s=ttl_s,
                          base_url=settings.public_url)

    return link_for


def build_advisor(settings: Settings, claude: ClaudeTools | None = None
                  ) -> ClaudeChefAdvisor | None:
    """Claude tuning the Chefs' operations when a key is set (rules on any error), else none."""
    claude = claude or build_claude(settings)
    if claude is None:
        return None
    from core.claude_chef import ClaudeChefAdvisor

    logger.info("using Claude (%s) to tune the Chefs' operations, rules as fallback",
                settings.anthropic_model)
    return ClaudeChefAdvisor(client=claude)


def build_queue(settings: Settings, *, platforms: Sequence[str] = ("local",)
                ) -> InlineQueue | RedisQueue:
    """Redis and its workers when ``REDIS_URL`` is set, else jobs in child processes here.

    ``platforms`` are the conversations this process serves: on Redis it reads only their
    results, so a Discord bot and a Slack bot can share one Redis and its workers.
    """
    if settings.redis_url:
        logger.info("jobs go to the workers through Redis")
        return RedisQueue(settings.redis_url, consumer=settings.bot_consumer, platforms=platforms)
    return InlineQueue(store=settings.store_config(), workers=settings.inline_workers,
                       timeouts_s=settings.job_timeouts_s,
                       max_tries=settings.job_max_tries,
                       retry_backoff_s=settings.job_retry_backoff_s)


@asynccontextmanager
async def build_app(settings: Settings, *, platforms: Sequence[str] = ("local",)
                    ) -> AsyncIterator[App]:
    """Open the store and the queue, build the Maestro; close everything on exit."""
    from bot.state import open_state

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_state(settings) as state, _maestro_app(
            settings, state.store, state.server_settings, platforms=platforms) as app:
        yield app


@asynccontextmanager
async def _maestro_app(settings: Settings, store: Store, server_settings: ServerSettingsStore,
                       *, platforms: Sequence[str]) -> AsyncIterator[App]:
    """The queue and the Maestro over an open database (expired productions removed first)."""
    expired = await store.expire(idle_s=settings.idle_expiry_hours * 3600)
    artifacts = open_artifact_store(settings.store_config())
    for production_id in expired:
        await asyncio.to_thread(artifacts.remove, production_id)
        # the uploads the platforms saved here before they were stored
        await asyncio.to_thread(shutil.rmtree, settings.data_dir / "productions"
                                / folder_name(production_id), True)
        logger.info("removed the files of expired production %s", production_id)
    if expired:
        await asyncio.to_thread(artifacts.collect)
    queue = build_queue(settings, platforms=platforms)
    await queue.start()
    claude = build_claude(settings)
    maestro = Maestro(
        brain=build_brain(settings, claude), chefs=all_chefs(), genres=load_genres(), store=store,
        queue=queue, advisor=build_advisor(settings, claude), page_link=page_link_maker(settings),
        server_settings=server_settings, artifacts=artifacts,
        limits=MaestroLimits(max_upload_bytes=settings.max_upload_bytes,
                             max_song_s=settings.max_song_minutes * 60,
                             data_dir=str(settings.data_dir.resolve()),
                             separation=settings.separation_payload(),
                             samples=settings.samples_payload(),
                             productions_per_person=settings.jobs_per_user,
                             productions_per_server=settings.productions_per_server,
                             turns_per_minute=settings.turns_per_minute,
                             server_turns_per_minute=settings.server_turns_per_minute,
                             max_bars=settings.max_bars),
    )
    try:
        yield App(settings=settings, maestro=maestro, store=store, queue=queue,
                  server_settings=server_settings, artifacts=artifacts)
    finally:
        await queue.close()
        if claude is not None:
            await claude.aclose()
