"""The bot's one loop that turns job events into replies in the right thread.

Every platform (terminal, Discord, Slack) runs the same pump: read an event from the queue,
let the Maestro turn it into replies, post them into the conversation the job belongs to,
and only then acknowledge the event. An event whose posting fails is not acknowledged, so
the queue delivers it again (after a bot restart, say) and the result is posted exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.app import App
from core.conversation import Reply
from core.jobs import JobEvent

__all__ = ["Poster", "handle_event", "pump_events"]

logger = logging.getLogger(__name__)

Poster = Callable[[str, Reply], Awaitable[None]]
"""Posts one reply into a conversation (``conversation_id``, ``reply``)."""


async def handle_event(app: App, event: JobEvent, post: Poster) -> bool:
    """Post the replies for one event, then acknowledge it; ``False`` when posting failed.

    The production id is the conversation id, so the event knows its thread.
    """
    try:
        replies = await app.maestro.on_event(event)
        for reply in replies:
            await post(event.production_id, reply)
    except Exception:  # one thread's failure must not stop the others' results
        logger.exception("could not post the result of job %s; it stays unacknowledged",
                         event.job_id)
        return False
    await app.queue.ack(event)
    return True


async def pump_events(app: App, post: Poster) -> None:
    """Run :func:`handle_event` for every job event until the queue closes."""
    async for event in app.queue.events():
        await handle_event(app, event, post)
