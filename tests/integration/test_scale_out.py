"""Beyond one machine: the seed conversation with the bot, two workers and the web process each
in a data folder of its own, sharing nothing but Redis, an S3 store (SeaweedFS) and PostgreSQL.

The bot (``vyke chat --script``) stores the song in S3 and the production in PostgreSQL; the
workers (one on the ``separate`` queue, as a GPU host would be, one on ``render``) fetch what
each job names from S3 into their own empty caches and publish what they make; the render
worker is killed with SIGKILL in the middle of a render and a fresh one (another empty
folder) takes its place and renders everything again from the store. Every version renders and is posted once, and the export zip
downloads through the signed link on the version's page, served by ``vyke web`` from
PostgreSQL and S3.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
import redis

from core.jobs import RedisKeys
from tests.integration.harness import ROOT, SEED, RedisServer, wait_for_workers
from tests.services import SeaweedS3, free_ports

pytestmark = pytest.mark.slow

SECRET = "scale-out-link-secret"
MAX_BARS = "48"  # the seed's sweep is on bars 33-48: the shortest arrangement that has them


def _env(data: Path, redis_url: str, database_url: str, s3: SeaweedS3,
         **extra: str) -> dict[str, str]:
    """A process's environment: its own data folder and the shared services, nothing else of ours."""
    ours = ("VYKE_", "AWS_", "SLACK_", "DISCORD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)
           and k not in ("REDIS_URL", "DATABASE_URL", "ANTHROPIC_API_KEY", "PORT")}
    return {**env, "PYTHONPATH": str(ROOT), "VYKE_DATA_DIR": str(data), "REDIS_URL": redis_url,
            "DATABASE_URL": database_url, **s3.env(), "VYKE_LINK_SECRET": SECRET,
            "VYKE_MAX_BARS": MAX_BARS, "VYKE_LOG_LEVEL": "INFO", **extra}


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _kill_mid_render(redis_url: str, workers: list[subprocess.Popen[bytes]],
                     bot: subprocess.Popen[bytes], *, timeout_s: float = 240) -> str:
    """SIGKILL the worker running the first render, a second into it; returns the job id."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and bot.poll() is None:
            running = {k.decode(): v.decode() for k, v in client.hgetall(RedisKeys.RUNNING).items()}
            render = next(((job, name) for job, name in running.items()
                           if job.startswith("render-")), None)
            if render is not None:
                time.sleep(0.5)  # into the render: its tracks are being played
                pid = int(render[1].rsplit("-", 1)[1])
                victim = next(w for w in workers if w.pid == pid)
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait(timeout=10)
                return render[0]
            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("no render started on a worker")


def _database_rows(url: str) -> list[tuple[str, int]]:
    import asyncpg

    async def read() -> list[tuple[str, int]]:
        db = await asyncpg.connect(url)
        try:
            rows = await db.fetch("SELECT id, jsonb_array_length(data->'versions') AS n "
                                  "FROM productions")
            return [(str(r["id"]), int(r["n"])) for r in rows]
        finally:
            await db.close()

    return asyncio.run(read())


@pytest.mark.timeout(600)
def test_the_seed_runs_across_processes_that_share_no_disk(
        song: Path, tmp_path: Path, redis_server: RedisServer, postgres_url: str,
        seaweed: SeaweedS3) -> None:
    started = time.monotonic()
    folders = {name: tmp_path / name for name in ("bot", "web", "worker-1", "worker-2",
                                                  "worker-3")}
    for folder in folders.values():
        folder.mkdir()
    web_port = free_ports(1)[0]
    public = f"http://127.0.0.1:{web_port}"

    def env(name: str, **extra: str) -> dict[str, str]:
        return _env(folders[name], redis_server.url, postgres_url, seaweed,
                    VYKE_PUBLIC_URL=public, **extra)

    web = _start(["web"], env("web", VYKE_WEB_PORT=str(web_port), VYKE_WEB_HOST="127.0.0.1"),
                 tmp_path / "web.log")
    workers = [_start(["worker", "--queues", queue], env(name), tmp_path / f"{name}.log")
               for name, queue in (("worker-1", "separate"), ("worker-2", "render"))]
    processes = [web, *workers]
    try:
        wait_for_workers(redis_server.url, 2)
        bot = _start(["chat", "--script", str(SEED), "--audio", str(song), "--out",
                      str(tmp_path / "out"), "--name", "chat"], env("bot"), tmp_path / "bot.log")
        processes.append(bot)
        killed_job = _kill_mid_render(redis_server.url, workers, bot)
        processes.append(_start(["worker", "--queues", "render"], env("worker-3"),
                                tmp_path / "worker-3.log"))
        bot.wait(timeout=420)
        log = (tmp_path / "bot.log").read_text(errors="replace")
        assert bot.returncode == 0, log[-3000:]
        assert "Traceback" not in log

        session = json.loads((tmp_path / "out" / "session.json").read_text())
        assert [v["number"] for v in session["versions"]] == [1, 2, 3]
        assert all(v["rendered"] for v in session["versions"])  # the killed render too
        transcript = (tmp_path / "out" / "transcript.md").read_text()
        for number in (1, 2, 3):  # each posted once, though one render ran twice
            assert transcript.count(f"✅ v{number} rendered") == 1, number
        assert transcript.count("Ableton Live project (Live 11+)") == 3
        assert "Change card, v1 → v2" in transcript
        assert killed_job.startswith("render-")
        workers_log = "".join((tmp_path / f"worker-{n}.log").read_text(errors="replace")
                              for n in (1, 2, 3))
        assert "goes back to the queue" in workers_log  # the dead worker's render was handed back

        # nothing shared on disk: no process kept a database file or a store of its own
        for name, folder in folders.items():
            assert not (folder / "vyke.sqlite").exists(), name
            assert not (folder / "blobs").exists(), name
        assert _database_rows(postgres_url) == [("local:chat", 3)]

        # the v3 page (from PostgreSQL) links the project, which streams from S3 via vyke web
        page_url = re.findall(r"download: (http\S+/p/\S+/v3\?\S+)", transcript)[-1]
        status, _, page = _get(page_url)
        assert status == 200
        href = re.search(r'href="([^"]+)"[^>]*data-artifact="project.zip"', page.decode())
        assert href is not None
        status, headers, body = _get(public + href.group(1).replace("&amp;", "&"))
        assert status == 200 and headers["Content-Disposition"].endswith('Project.zip"')
        project = (tmp_path / "out" / "project.zip").read_bytes()  # the bot fetched it from S3
        assert hashlib.sha256(body).digest() == hashlib.sha256(project).digest()
        with zipfile.ZipFile(BytesIO(body)) as archive:
            assert any(n.endswith(".als") for n in archive.namelist())
        status, _, _ = _get(public + href.group(1).replace("&amp;", "&").replace("sig=", "sig=0"))
        assert status == 403  # an edited link opens nothing
    finally:
        for process in processes:
            _stop(process)
    print(f"\nthe seed across processes took {time.monotonic() - started:.1f} s")
