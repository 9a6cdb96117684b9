"""Fixtures of the integration tests: a real ``redis-server`` per test (started on a free
loopback port in a temporary folder and stopped after), workers, and a generated song."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import ROOT, RedisServer, Workers


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    made = Workers({}, tmp_path)
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture(scope="session")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 20-second song (C major, 118 BPM): real audio for real jobs.

    One process analyses it first, so librosa's numba code is compiled (into numba's cache,
    which ``make test`` warms before the suite) before these tests start several job
    processes at once: parallel first compilations never race on the cache.
    """
    from jobs.demo_song import make_demo_song

    path = make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=20.0)
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                    "from jobs.analysis import analyze_file; "
                    "analyze_file(Path(sys.argv[1]), max_duration_s=600, max_size_bytes=10**9)",
                    str(path)], cwd=ROOT, check=True, timeout=180, env=dict(os.environ))
    return path
