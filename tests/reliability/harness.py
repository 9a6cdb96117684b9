"""A thread driven through the real Maestro, SQLite store and inline job queue, in process.

Each :class:`Thread` says one message at a time and then posts every job event of its
conversation (through :func:`bot.runtime.handle_event`, as the platforms do) until nothing
is pending, so a test reads the conversation exactly as the people in the thread would.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import App, build_app
from bot.runtime import handle_event
from bot.settings import Settings
from core.conversation import (
    Attachment,
    AttachmentKind,
    Author,
    FileReply,
    ProgressReply,
    QuestionReply,
    Reply,
    TextReply,
    Turn,
)
from core.jobs import JobEvent
from core.production import Production

__all__ = ["Thread", "open_app", "reply_texts", "settings_for", "words"]

DEE = Author(id="u-dee", name="Dee")


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    """Settings for one in-process bot: no Redis, no Claude unless ``extra`` says so."""
    values: dict[str, Any] = {"data_dir": data_dir, "redis_url": None, "anthropic_api_key": None,
                              "job_max_tries": 1, **extra}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    """:func:`bot.app.build_app`, unchanged: the real wiring."""
    async with build_app(settings) as app:
        yield app


def reply_texts(replies: list[Reply]) -> list[str]:
    """Every piece of text a reply would show in the thread."""
    out: list[str] = []
    for reply in replies:
        if isinstance(reply, TextReply):
            out.append(reply.text)
        elif isinstance(reply, QuestionReply):
            out.append(reply.question.text)
            out.extend(option.label for option in reply.question.options)
        elif isinstance(reply, ProgressReply):
            out.append(reply.step)
        elif isinstance(reply, FileReply):
            out.extend([reply.caption, reply.attachment.name])
    return out


def words(replies: list[Reply]) -> str:
    """All the text of ``replies`` as one string, for ``in`` checks."""
    return "\n".join(reply_texts(replies))


class Thread:
    """One conversation with the real Maestro; ``say`` returns its replies and the job results."""

    def __init__(self, app: App, conversation_id: str, *, author: Author = DEE) -> None:
        self.app = app
        self.conversation_id = conversation_id
        self.author = author
        self.posted: list[Reply] = []

    async def say(self, text: str, *, audio: Path | None = None, wait: bool = True,
                  timeout_s: float = 300.0) -> list[Reply]:
        files = [Attachment(name=audio.name, path=str(audio), size_bytes=audio.stat().st_size,
                            content_type="application/octet-stream", kind=AttachmentKind.AUDIO)
                 ] if audio is not None else []
        turn = Turn(conversation_id=self.conversation_id, author=self.author, text=text,
                    attachments=files)
        replies = await self.app.maestro.handle(turn)
        if wait:
            replies += await self.drain(timeout_s=timeout_s)
        self.posted += replies
        return replies

    async def drain(self, *, timeout_s: float = 300.0) -> list[Reply]:
        """Post job events until this conversation has no job pending.

        ``timeout_s`` is generous: a four-minute render on a busy two-core machine (the suite
        runs on two workers) takes minutes, and a wait that ends early is a false failure.
        """
        out: list[Reply] = []

        async def post(conversation_id: str, reply: Reply) -> None:
            assert conversation_id == self.conversation_id, "a result went to another thread"
            out.append(reply)

        async with asyncio.timeout(timeout_s):
            while (await self.production()).pending_jobs:
                event: JobEvent = await _next_event(self.app)
                assert await handle_event(self.app, event, post)
        return out

    async def production(self) -> Production:
        production = await self.app.store.get(self.conversation_id)
        assert production is not None
        return production


_events: weakref.WeakKeyDictionary[Any, AsyncIterator[JobEvent]] = weakref.WeakKeyDictionary()


async def _next_event(app: App) -> JobEvent:
    """The queue's next event; one generator per queue, so no event is read twice."""
    events = _events.get(app.queue)
    if events is None:
        events = _events[app.queue] = app.queue.events()
    return await anext(events)
