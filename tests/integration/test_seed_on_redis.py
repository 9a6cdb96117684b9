"""The seed conversation through ``vyke chat --script`` on both queues: inline (no Redis) and
Redis with two ``vyke worker`` processes (one per queue). The sessions must agree on everything
deterministic, renders and exports included.

The Redis run reads the inline run's caches (``VYKE_CACHE_DIR``): the song's analysis, its stems
and the tracks' raw audio and chains, which the inline run made and
``tests/bot/test_chat.py`` checks. Everything the queue carries is still done by the workers:
every job goes through Redis, and each render mixes, masters, writes and measures its master
there, and each export builds its project there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.artifacts import LocalArtifactStore
from tests.conftest import SeedRun
from tests.integration.harness import SEED, RedisServer, Workers, vyke, vyke_env, wait_for_workers


def _deterministic(session: dict[str, Any], *folders: Path) -> dict[str, Any]:
    """The parts of session.json that do not depend on time or on where files live."""
    text = json.dumps(session)
    for folder in folders:
        text = text.replace(str(folder.resolve()), "<run>")
    session = json.loads(text)
    return {
        "state": session["state"],
        "brief": session["brief"],
        "versions": [{k: v[k] for k in ("number", "parent", "rendered", "note", "changes",
                                        "routed_to", "spec")} for v in session["versions"]],
        "current": session["current"],
        "requests": [{k: r[k] for k in ("text", "intent", "routed_to", "version")}
                     for r in session["requests"]],
        "transitions": session["transitions"],
        "analysis": session["analysis"],
        "stems": sorted(session["stems"]),
        "artifacts": sorted((a["version"], a["name"]) for a in session["artifacts"]),
    }


def _run_seed(song: Path, folder: Path, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    out = folder / "out"
    # the same conversation name on both queues: the name seeds the patterns
    result = vyke("chat", "--script", str(SEED), "--audio", str(song), "--out", str(out),
                  "--name", "chat", env=env, timeout_s=580)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads((out / "session.json").read_text()), result.stdout


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the seed twice, with renders (the inline one maybe on the other worker)
def test_redis_and_inline_sessions_agree(song: Path, tmp_path: Path, redis_server: RedisServer,
                                         workers: Workers, seed_run: SeedRun) -> None:
    # the inline run is the one tests/bot/test_chat.py checks (made once: tests/conftest.py),
    # on the same generated song
    assert seed_run.returncode == 0, seed_run.stderr
    assert (seed_run.folder / "song.wav").read_bytes() == song.read_bytes()
    inline = seed_run.session
    env = vyke_env(tmp_path / "redis" / "data", redis_server.url,
                   VYKE_CACHE_DIR=str(seed_run.folder / "data" / "cache"))
    workers.env = env
    workers.start("separate")
    workers.start("render")
    wait_for_workers(redis_server.url, 2)
    redis, stdout = _run_seed(song, tmp_path / "redis", env)
    assert "I suggest Am at 128 BPM for dark tribal energy, the Afro House key nearest" in stdout
    assert redis["analysis"]["key"]["key"] == {"tonic": 0, "mode": "major"}  # the demo song
    assert set(redis["stems"]) == {"vocals", "drums", "bass", "other"}
    stored = LocalArtifactStore(tmp_path / "redis" / "data")  # the workers' store
    assert all(stored.fetch(key).is_file() for key in redis["stems"].values())
    assert [v["number"] for v in redis["versions"]] == [1, 2, 3]
    assert all(v["rendered"] for v in redis["versions"])
    # the shared caches' files (the stems) live in the inline run's folder
    assert (_deterministic(redis, tmp_path / "redis", seed_run.folder)
            == _deterministic(inline, seed_run.folder))
    log = workers.log_text()
    assert "on separate: separate" in log and "on render: analyze" in log  # each queue its worker
