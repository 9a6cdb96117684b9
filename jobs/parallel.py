"""Long audio processed in pieces on every core the job has, with the same result.

The master-wide steps of a render (the limiter, the glue compressor, the true-peak
oversampling, the loudness filter) run in native code that releases the interpreter lock, so
threads on a second core halve them. Filters and dynamics carry state from one sample to the
next, so a piece is processed with a run-in before it (the state settles) and a run-out after
it (a limiter looks ahead), and only its own samples are kept: the seams are inaudible and
the numbers match a single pass to within rounding.

Threads, not processes: the pieces share the audio without a copy. The pool is made again in
a forked child (a job forked from the worker's forkserver), whose copy has no threads behind
it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = ["by_channel", "in_pieces", "map_parallel", "workers"]

T = TypeVar("T")
R = TypeVar("R")

_MAX_WORKERS = 4
_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
_INSIDE = threading.local()  # set in the pool's threads: work they start runs inline


def workers() -> int:
    """Cores this process may run on (its CPU affinity, not the host's count), at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores))


def _mark_inside() -> None:
    _INSIDE.active = True


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="vyke-audio",
                                       initializer=_mark_inside)
        return _POOL


def _forget_pool() -> None:
    global _POOL, _LOCK
    _POOL, _LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def map_parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(item) for item in items]``, spread over the pool's threads, in order.

    Inline with one core, one item, or when called from one of the pool's own threads (work
    that waits on the pool from inside it could wait for ever).
    """
    batch = list(items)
    if len(batch) <= 1 or workers() == 1 or getattr(_INSIDE, "active", False):
        return [fn(item) for item in batch]
    return list(_pool().map(fn, batch))


def by_channel(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """``fn`` on each channel of ``x`` (shape (channels, samples)) at once; rows stacked.

    For filters that treat channels alike and apart (``fn`` gets a (samples,) row).
    """
    if x.ndim != 2 or x.shape[0] == 1:
        return fn(x) if x.ndim == 1 else fn(x[0])[np.newaxis, :]
    return np.stack(map_parallel(fn, list(x)))


def in_pieces(process: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, sample_rate: int,
              run_in_s: float = 2.0, run_out_s: float = 0.1,
              min_piece_s: float = 20.0) -> np.ndarray:
    """``process(x)`` for a stateful, length-keeping process (shape (channels, samples)), done
    as one piece per core.

    Each piece is processed with ``run_in_s`` of the audio before it and ``run_out_s`` after
    it, which are dropped from its output. Pick ``run_in_s`` several times the longest
    release or filter decay of ``process`` and ``run_out_s`` past its look-ahead. Audio too
    short for two pieces of ``min_piece_s`` is processed whole.
    """
    n = x.shape[-1]
    count = min(workers(), int(n // max(1, round(min_piece_s * sample_rate))))
    if count <= 1 or getattr(_INSIDE, "active", False):
        return process(x)
    run_in, run_out = round(run_in_s * sample_rate), round(run_out_s * sample_rate)
    bounds = np.linspace(0, n, count + 1).round().astype(int)

    def piece(i: int) -> np.ndarray:
        start, stop = int(bounds[i]), int(bounds[i + 1])
        lo, hi = max(0, start - run_in), min(n, stop + run_out)
        out = process(np.ascontiguousarray(x[..., lo:hi]))
        return out[..., start - lo : start - lo + (stop - start)]

    return np.concatenate(map_parallel(piece, range(count)), axis=-1)
