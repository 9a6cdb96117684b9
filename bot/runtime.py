"""The bot's one loop that turns job events into replies in the right thread.

Every platform (terminal, Discord, Slack) runs the same pump: read an event from the queue,
let the Maestro turn it into replies, post them into the conversation the job belongs to,
and only then acknowledge the event. A finished job's replies wait in the production's
outbox until each one is posted (:meth:`core.maestro.Maestro.posted`), so a post that fails
is tried again a few times at once (honouring the platform's ``Retry-After``), then again
when the event is delivered again or the bot next starts: every result reaches its thread,
once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential

from bot.app import App
from core.artifacts import ArtifactStore
from core.conversation import FileReply, Reply
from core.jobs import JobEvent

__all__ = ["POST_ATTEMPTS", "Poster", "deliver_undelivered", "handle_event", "local_copy",
           "pump_events"]

logger = logging.getLogger(__name__)

Poster = Callable[[str, Reply], Awaitable[None]]
"""Posts one reply into a conversation (``conversation_id``, ``reply``)."""

POST_ATTEMPTS = 4
"""Tries of one post before its event is left for a later delivery (about 7 s of waiting)."""

_MAX_WAIT_S = 30.0

_LARGEST_UPLOAD = {"discord": 100 * 1024 * 1024, "slack": 1024 * 1024 * 1024}
"""The most a platform takes from a bot anywhere (a fully boosted Discord server, Slack's
limit): a stored file over it is only ever linked, so it is never fetched to post it."""
_backoff = wait_exponential(multiplier=1.0, min=1.0, max=8.0)


def _wait_s(state: RetryCallState) -> float:
    """The platform's ``Retry-After`` when the failure carries one, else exponential backoff."""
    error = state.outcome.exception() if state.outcome is not None else None
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        return min(float(retry_after), _MAX_WAIT_S)
    return float(_backoff(state))


async def local_copy(artifacts: ArtifactStore, conversation_id: str, reply: Reply) -> Reply:
    """The reply with its stored file fetched to this host, for the platform to upload.

    A file over the platform's upload limit is not fetched: the adapter posts a signed link
    to it instead (by its key), so the bot never downloads a 300 MB project to say so.
    """
    if not isinstance(reply, FileReply) or not reply.attachment.key or reply.attachment.path:
        return reply
    attachment = reply.attachment
    largest = _LARGEST_UPLOAD.get(conversation_id.split(":", 1)[0])
    if largest is not None and attachment.size_bytes > largest:
        return reply
    path = await asyncio.to_thread(artifacts.fetch, attachment.key)
    return reply.model_copy(update={"attachment": attachment.model_copy(
        update={"path": str(path)})})


async def _post(app: App, post: Poster, conversation_id: str, reply: Reply) -> None:
    reply = await local_copy(app.artifacts, conversation_id, reply)
    async for attempt in AsyncRetrying(stop=stop_after_attempt(POST_ATTEMPTS), wait=_wait_s,
                                       reraise=True):
        with attempt:
            await post(conversation_id, reply)


async def handle_event(app: App, event: JobEvent, post: Poster) -> bool:
    """Post the replies for one event, then acknowledge it; ``False`` when posting failed.

    The production id is the conversation id, so the event knows its thread.
    """
    try:
        replies = await app.maestro.on_event(event)
        for reply in replies:
            await _post(app, post, event.production_id, reply)
            if event.finished:
                await app.maestro.posted(event.production_id, event.job_id)
    except Exception:  # one thread's failure must not stop the others' results
        logger.exception("could not post the result of job %s; it stays unacknowledged",
                         event.job_id)
        return False
    await app.queue.ack(event)
    return True


async def deliver_undelivered(app: App, post: Poster) -> int:
    """Post every finished job's replies that never reached their thread; returns how many.

    Run when the bot starts: a result whose posting failed before a restart is posted now.
    """
    count = 0
    for production_id, job_id, replies in await app.maestro.undelivered():
        try:
            for reply in replies:
                await _post(app, post, production_id, reply)
                await app.maestro.posted(production_id, job_id)
                count += 1
        except Exception:
            logger.exception("could not post the held result of job %s; kept for next time",
                             job_id)
    return count


async def pump_events(app: App, post: Poster) -> None:
    """Post what is held from before, then :func:`handle_event` every job event until closed."""
    await deliver_undelivered(app, post)
    async for event in app.queue.events():
        await handle_event(app, event, post)
