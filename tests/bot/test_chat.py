"""``vyke chat --script``: the seed conversation end to end through the real command line,
the inline process-pool queue, real analysis of a generated song and SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "bot" / "scenarios" / "seed-remix.txt"


def vyke(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VYKE_DATA_DIR": str(data_dir), "VYKE_LOG_LEVEL": "WARNING"}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=20.0)


@pytest.mark.slow
def test_seed_script_runs_unattended(song: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = vyke("chat", "--script", str(SEED), "--audio", str(song), "--out", str(out),
                  data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "I suggest Fm at 128 BPM for dark tribal energy. Agree?" in result.stdout
    session = json.loads((out / "session.json").read_text())
    assert session["brief"]["key"]["value"] == {"tonic": 5, "mode": "minor"}
    assert session["brief"]["bpm"]["value"] == 126
    assert session["brief"]["vocal"]["value"]["stutter_sections"] == ["build"]
    assert session["analysis"]["key"]["key"] == {"tonic": 0, "mode": "major"}  # the demo song
    routed = [r["routed_to"] for r in session["requests"]]
    assert ["MixingChef", "MixingChef"] in routed and ["SoundDesignChef"] in routed
    assert [v["number"] for v in session["versions"]] == [1, 2, 3]
    assert not any(v["rendered"] for v in session["versions"])  # no render step yet: none faked
    transcript = (out / "transcript.md").read_text()
    assert "Bass too loud, needs more sidechain" in transcript
    assert "Want me to add a riser sample too?" in transcript


@pytest.mark.slow
def test_restart_between_scripted_turns_loses_nothing(song: Path, tmp_path: Path) -> None:
    lines = [line for line in SEED.read_text().splitlines() if line and not line.startswith("#")]
    data = tmp_path / "data"
    for i, line in enumerate(lines):
        script = tmp_path / f"part{i}.txt"
        script.write_text(line + "\n")
        args = ["chat", "--script", str(script), "--out", str(tmp_path / "out"), "--name", "r"]
        if i == 0:
            args += ["--audio", str(song)]
        result = vyke(*args, data_dir=data)
        assert result.returncode == 0, result.stderr
    session = json.loads((tmp_path / "out" / "session.json").read_text())
    assert len(session["versions"]) == 3
    assert session["brief"]["bpm"]["value"] == 126
    assert session["transitions"][0] == "idle->gathering_params"


def test_remix_request_without_a_song(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("Remix Madonna to Afro Circuit\n")
    result = vyke("chat", "--script", str(script), "--out", str(tmp_path / "o"),
                  data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "attach the song" in result.stdout
