"""How a long-running process (the Slack bot, the web server) learns it should stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal

__all__ = ["stop_event"]


def stop_event() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets, for the running loop's main task to wait on.

    Where the loop cannot take signal handlers (not the main thread, or Windows), the event is
    only set by whoever holds it.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    return stopping
