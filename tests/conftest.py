"""Fixtures shared across test folders, and across xdist workers when the suite runs on two.

The seed conversation through ``vyke chat --script`` (three renders of a four-minute
production) is the costliest thing the suite does. ``tests/bot/test_chat.py`` checks what it
says and makes, and ``tests/integration/test_seed_on_redis.py`` compares it with the same
conversation on the Redis queue; both read the one run made here. Under xdist the run is
made once per session, by whichever worker asks first, in the session's shared base temp
under a file lock; the other worker waits for it instead of rendering it again. The
production-page tests (``tests/bot/test_web.py``, ``tests/browser/test_page.py``) share their
rendered two-version production the same way (:func:`made_once`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from filelock import FileLock

if TYPE_CHECKING:
    from tests.services import SeaweedS3

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "bot" / "scenarios" / "seed-remix.txt"
SEED_SONG_S = 20.0
"""The generated song the seed conversation remixes (C major, 118 BPM)."""

TEST_MAX_BARS = "64"
"""Every app and ``vyke`` process the tests start renders arrangements of about 64 bars
(``VYKE_MAX_BARS``) instead of each genre's full four minutes: long enough for the seed's
sweep on bars 33-48 and every section kind, half the render time and disk. Length is not
what those tests check; the cap itself is tested in ``tests/core/test_planner_cap.py``."""
os.environ.setdefault("VYKE_MAX_BARS", TEST_MAX_BARS)


@dataclass(frozen=True)
class SeedRun:
    """One finished ``vyke chat --script seed-remix.txt`` on the inline queue."""

    folder: Path  #: holds ``song.wav``, ``data/`` and ``out/`` (transcript, session, files)
    returncode: int
    stdout: str
    stderr: str

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def session(self) -> dict[str, object]:
        return dict(json.loads((self.out / "session.json").read_text(encoding="utf-8")))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a ``slow`` test run first, the rest after, each group in its own order.

    ``make test`` hands whole files to two workers (``--dist loadfile``) in collection order;
    a slow file that came last would leave one worker rendering alone at the end while the
    other idles. Longest first keeps both busy to the end.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)  # stable: order within groups kept


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every xdist worker of this session sees (the session's base temp otherwise).

    It goes with the base temp: removed after a green run, kept after a red one.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return root / name


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str,
              make: Callable[[Path], None]) -> Path:
    """``make(folder)`` once per session across the xdist workers; returns the folder.

    The first caller makes it under a file lock while any other waits; a folder left half
    made by a crash is made again.
    """
    folder = shared_folder(tmp_path_factory, name)
    with FileLock(str(folder) + ".lock"):
        if not (folder / ".made").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            make(folder)
            (folder / ".made").touch()
    return folder


def vyke_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``vyke`` process: its own data folder, no Claude, no Redis."""
    env = {**os.environ, "VYKE_DATA_DIR": str(data_dir), "VYKE_LOG_LEVEL": "WARNING", **extra}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> SeedRun:
    """The seed conversation on the inline queue, run once per session (see the module)."""

    def run(folder: Path) -> None:
        from jobs.demo_song import make_demo_song

        song = make_demo_song(folder / "song.wav", duration_s=SEED_SONG_S)
        # named, so the patterns (seeded by the conversation's name) are the same every run
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--script", str(SEED), "--audio",
             str(song), "--out", str(folder / "out"), "--name", "chat"],
            cwd=ROOT, env=vyke_env(folder / "data"), capture_output=True, text=True,
            timeout=880, stdin=subprocess.DEVNULL)
        (folder / "run.json").write_text(json.dumps({
            "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}),
            encoding="utf-8")

    folder = made_once(tmp_path_factory, "seed-run", run)
    saved = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return SeedRun(folder=folder, returncode=saved["returncode"], stdout=saved["stdout"],
                   stderr=saved["stderr"])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own on the local service, dropped after it."""
    from tests.services import Postgres

    database = Postgres().create()
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server of this test's own on loopback, killed after it."""
    from tests.services import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    try:
        yield server
    finally:
        server.stop()
