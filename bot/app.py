"""Wiring: builds the Maestro and its parts from the settings (the only place that does)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.inline_queue import InlineQueue
from bot.settings import Settings
from chefs import all_chefs, load_genres
from core.brain import Brain
from core.maestro import Maestro, MaestroLimits
from core.rule_brain import RuleBrain
from core.store import SqliteStore

__all__ = ["App", "build_app", "build_brain"]

logger = logging.getLogger(__name__)


@dataclass
class App:
    """The running pieces, for adapters and commands to use."""

    settings: Settings
    maestro: Maestro
    store: SqliteStore
    queue: InlineQueue


def build_brain(settings: Settings) -> Brain:
    """Claude when a key is set (falling back to rules on any error), else the rules."""
    rules = RuleBrain(genres=load_genres())
    if settings.anthropic_api_key is None:
        return rules
    from core.claude_brain import ClaudeBrain

    logger.info("using Claude (%s) for understanding, rules as fallback", settings.anthropic_model)
    return ClaudeBrain(api_key=settings.anthropic_api_key.get_secret_value(),
                       model=settings.anthropic_model, fallback=rules,
                       base_url=settings.anthropic_base_url,
                       timeout_s=settings.anthropic_timeout_s, genres=load_genres())


@asynccontextmanager
async def build_app(settings: Settings) -> AsyncIterator[App]:
    """Open the store and the queue, build the Maestro; close everything on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await SqliteStore(settings.database_path).open()
    expired = await store.expire(idle_s=settings.idle_expiry_hours * 3600)
    for production_id in expired:
        _remove_artifacts(settings, production_id)
    queue = InlineQueue(workers=settings.inline_workers)
    await queue.start()
    maestro = Maestro(
        brain=build_brain(settings), chefs=all_chefs(), genres=load_genres(), store=store,
        queue=queue,
        limits=MaestroLimits(max_upload_bytes=settings.max_upload_bytes,
                             max_song_s=settings.max_song_minutes * 60,
                             data_dir=str(settings.data_dir.resolve()),
                             separation=settings.separation_payload()),
    )
    try:
        yield App(settings=settings, maestro=maestro, store=store, queue=queue)
    finally:
        await queue.close()
        await store.close()


def _remove_artifacts(settings: Settings, production_id: str) -> None:
    import shutil

    from core.maestro import production_dir_name

    folder = settings.data_dir / "productions" / production_dir_name(production_id)
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("removed artifacts of expired production %s", production_dir_name(production_id))
