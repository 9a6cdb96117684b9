"""The Procfile's processes, started as a Procfile platform starts them: each line's command
with nothing set but ``DATABASE_URL``, ``REDIS_URL``, the S3 variables and ``PORT``.

The worker registers its heartbeat and the web process answers on ``PORT``; the chat bots,
whose tokens a deployment sets per platform, stop at once with one line naming the token
they miss (docs/deploy.md: scale a platform's process up once its token is set).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.integration.harness import ROOT, RedisServer
from tests.services import SeaweedS3, free_ports

pytestmark = pytest.mark.slow

_TOKENS = {"discord": "DISCORD_TOKEN", "slack": "SLACK_BOT_TOKEN"}


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def _command(line: str) -> list[str]:
    """A Procfile command run with this checkout's code (``vyke`` is ``python -m bot.cli``)."""
    words = line.split()
    assert words[0] == "vyke", line
    return [sys.executable, "-m", "bot.cli", *words[1:]]


def _heartbeats(url: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match="vyke:worker:*"))
    finally:
        client.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.timeout(240)
def test_each_procfile_process_starts_with_only_the_platform_variables(
        tmp_path: Path, redis_server: RedisServer, postgres_url: str,
        seaweed: SeaweedS3) -> None:
    processes = _procfile()
    assert set(processes) == {"discord", "slack", "worker", "web"}
    port = free_ports(1)[0]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": postgres_url, "REDIS_URL": redis_server.url, **seaweed.env(),
           "PORT": str(port)}
    for name, line in processes.items():
        # a dyno's folder: the data folder defaults to ./data there, never in the checkout
        folder = tmp_path / name
        folder.mkdir()
        process = subprocess.Popen(_command(line), cwd=folder, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            if name in _TOKENS:
                _, err = process.communicate(timeout=60)
                lines = [text for text in err.splitlines() if text.strip()]
                assert process.returncode == 2, err
                assert len(lines) == 1 and _TOKENS[name] in lines[0], err
                continue
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and process.poll() is None:
                if name == "worker" and _heartbeats(redis_server.url):
                    break
                if name == "web" and _answers(f"http://127.0.0.1:{port}/"):
                    break
                time.sleep(0.2)
            assert process.poll() is None, process.communicate(timeout=10)
            assert deadline > time.monotonic(), f"{name} did not come up"
            os.killpg(process.pid, signal.SIGTERM)  # a deploy stops it: it ends cleanly
            assert process.wait(timeout=30) == 0, process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    assert _heartbeats(redis_server.url) == []  # the stopped worker took its heartbeat away
