"""Steps that act at once in any state: help, status, versions, stop and start over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core import replies as say
from core.brain import Intent
from core.brief import Brief
from core.conversation import Reply, TextReply
from core.jobs import JobKind
from core.maestro.machine import go
from core.maestro.parts import Parts
from core.production import Awaiting, MaestroState, Production

__all__ = ["AT_ONCE", "Step"]

S = MaestroState

Step = Callable[[Parts, Production], Awaitable[list[Reply]]]
"""One step of the conversation that needs nothing but the production."""


async def _help(parts: Parts, production: Production) -> list[Reply]:
    return [TextReply(text=say.help_text(sorted(g.name for g in parts.genres.values())))]


async def _status(parts: Parts, production: Production) -> list[Reply]:
    return [TextReply(text=say.status(production))]


async def _versions(parts: Parts, production: Production) -> list[Reply]:
    return [TextReply(text=say.versions(production))]


async def _stop(parts: Parts, production: Production) -> list[Reply]:
    cancelled = await parts.queue.cancel(production.id)
    steps = [j.kind for j in production.pending_jobs if j.job_id in cancelled]
    for job in production.pending_jobs:
        stopped = production.version(job.version) if job.job_id in cancelled \
            and job.kind == JobKind.RENDER.value else None
        if stopped is not None and not stopped.rendered:
            stopped.note = "stopped before it rendered"  # a plan kept, not one forgotten
    production.pending_jobs = [j for j in production.pending_jobs if j.job_id not in cancelled]
    if production.state is S.EXECUTING:
        go(production, S.REVIEWING if production.versions else S.IDLE)
    return [TextReply(text=say.stopped(steps, production))]


async def _start_over(parts: Parts, production: Production) -> list[Reply]:
    await parts.queue.cancel(production.id)
    production.pending_jobs = []
    production.pending_question = None
    production.pending_vote = None
    production.asked = []
    production.brief = Brief()
    production.awaiting = Awaiting.NOTHING
    if production.state is not S.IDLE:
        go(production, S.IDLE)
    return [TextReply(text=say.started_over(production))]


AT_ONCE: dict[Intent, Step] = {
    Intent.HELP: _help,
    Intent.STATUS: _status,
    Intent.STOP: _stop,
    Intent.VERSIONS: _versions,
    Intent.START_OVER: _start_over,
}
"""Intents answered at once in any state, in this order of precedence."""
