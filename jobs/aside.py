"""Work done beside the render in a forked process, so a second core overlaps it.

Encoding the preview (LAME holds the interpreter lock), writing the 24-bit master and drawing
the arrangement picture need nothing the render computes after its master, while measuring
the master needs none of them. A fork shares the audio without a copy; the child hands its
result back through a pipe. Where the fork fails or the child dies, the wait does the work
in this process instead, so the caller gets the same result or the same exception either way.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from typing import TypeVar

__all__ = ["aside"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def aside(work: Callable[[], T], *, what: str) -> Callable[[], T]:
    """Start ``work`` in a forked process; the returned function waits for its result.

    ``what`` names the work in the warning logged when the child fails. ``work`` must return
    something picklable and must be safe to run twice (the fallback runs it again here).
    """
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:
        return work
    if pid == 0:  # the child: work, hand the result back, leave without running any cleanup
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(work(), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)

    def wait() -> T:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            logger.warning("%s failed in its own process (status %d); doing it here", what,
                           status)
            return work()
        result: T = pickle.loads(data)
        return result

    return wait
