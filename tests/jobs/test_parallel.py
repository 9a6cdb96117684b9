"""Audio processed in pieces on several cores sounds the same as one pass."""

from __future__ import annotations

import numpy as np
import pytest

import jobs.parallel as parallel
from jobs.loudness import integrated_loudness, true_peak_dbtp
from jobs.master import _drive

SR = 44100


def _music(seconds: float) -> np.ndarray:
    """Kick-like thumps over a chord: peaks for the limiter and a steady bed between them."""
    t = np.arange(round(seconds * SR)) / SR
    bed = 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    thump = np.exp(-((t % 0.5) / 0.05)) * np.sin(2 * np.pi * 55 * t)
    left, right = bed + 0.9 * thump, 0.8 * bed + 0.9 * thump
    return np.stack([left, right]).astype(np.float32)


def _one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "workers", lambda: 1)


def test_a_limited_master_made_in_pieces_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _music(50.0)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    pieces = _drive(x, 6.0, limiter_ceiling_db=-1.3, sample_rate=SR)
    _one_core(monkeypatch)
    whole = _drive(x, 6.0, limiter_ceiling_db=-1.3, sample_rate=SR)
    assert pieces.shape == whole.shape
    # no seam: the largest difference anywhere is far below hearing (and the file's 24 bits)
    assert float(np.max(np.abs(pieces - whole))) < 10 ** (-120 / 20)
    assert integrated_loudness(pieces, sample_rate=SR) == pytest.approx(
        integrated_loudness(whole, sample_rate=SR), abs=0.01)


def test_true_peak_and_loudness_read_the_same_on_one_core_and_two(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x = _music(25.0)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    both = (true_peak_dbtp(x, sample_rate=SR), integrated_loudness(x, sample_rate=SR))
    _one_core(monkeypatch)
    assert (true_peak_dbtp(x, sample_rate=SR), integrated_loudness(x, sample_rate=SR)) == both


def test_work_started_inside_the_pool_runs_inline_instead_of_waiting_for_ever() -> None:
    def outer(i: int) -> list[int]:
        return parallel.map_parallel(lambda j: i * 10 + j, range(3))

    assert parallel.map_parallel(outer, range(4)) == [[0, 1, 2], [10, 11, 12], [20, 21, 22],
                                                      [30, 31, 32]]


def test_a_forked_child_measures_with_a_pool_of_its_own() -> None:
    """A job forked from a process whose pool has threads (they are not copied) still
    measures on a pool: a new one, made in the child."""
    import os
    import pickle

    x = _music(45.0)
    parallel.map_parallel(abs, range(4))  # the parent's pool has threads before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, hand the reading back, leave without any cleanup
        code = 1
        try:
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(integrated_loudness(x, sample_rate=SR), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reading = pickle.loads(pipe.read())
    assert os.waitpid(pid, 0)[1] == 0
    assert reading == pytest.approx(integrated_loudness(x, sample_rate=SR), abs=1e-9)
