"""``vyke chat --script``: the seed conversation end to end through the real command line,
the inline process-pool queue, real analysis of a generated song and SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SeedRun

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "bot" / "scenarios" / "seed-remix.txt"


def vyke(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VYKE_DATA_DIR": str(data_dir), "VYKE_LOG_LEVEL": "WARNING"}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=20.0)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # it may wait for the other worker's seed run (tests/conftest.py)
def test_seed_script_runs_unattended(seed_run: SeedRun, tmp_path: Path) -> None:
    # the run is shared with tests/integration/test_seed_on_redis.py (see tests/conftest.py)
    out = seed_run.out
    assert seed_run.returncode == 0, seed_run.stderr
    assert "Traceback" not in seed_run.stdout + seed_run.stderr
    # the Afro House key nearest the song's own: the demo's C major vocal keeps its pitch
    assert ("I suggest Am at 128 BPM for dark tribal energy, the Afro House key nearest the "
            "song's C major (C major is the relative major of A minor: no shift). Agree?"
            ) in seed_run.stdout
    session = json.loads((out / "session.json").read_text())
    assert session["brief"]["key"]["value"] == {"tonic": 9, "mode": "minor"}
    assert session["brief"]["bpm"]["value"] == 126
    assert session["brief"]["vocal"]["value"]["stutter_sections"] == ["build"]
    assert session["analysis"]["key"]["key"] == {"tonic": 0, "mode": "major"}  # the demo song
    routed = [r["routed_to"] for r in session["requests"]]
    assert ["MixingChef", "MixingChef"] in routed and ["SoundDesignChef"] in routed
    assert [v["number"] for v in session["versions"]] == [1, 2, 3]
    assert all(v["rendered"] for v in session["versions"])
    for version in session["versions"]:  # every render measured on its own master
        m, spec = version["measurements"], version["spec"]
        assert m["mismatches"] == [], m["mismatches"]
        assert abs(m["integrated_lufs"] - spec["master"]["target_lufs"]) <= 0.5
        # A minor, or its relative C major where the vocal sings in C major
        assert abs(m["tempo_bpm"] - 126) <= 0.5
        assert "Am" in (m["key"], m["key_alternative"]) or m["key"] == m["vocal"]["key"] == "C"
    v1, v2, v3 = (v["measurements"] for v in session["versions"])
    # the vocal in A minor's notes at its own pitch, its hook found and sung in both drops
    assert v1["vocal"]["fits"] is True and v1["vocal"]["applied_shift"] == 0
    drops = [(first, first + s["bars"] - 1) for s, first in _starts(session["versions"][0]["spec"])
             if s["kind"] == "drop"]
    hooks = [p["bar"] for p in v1["vocal"]["placements"] if p["part"] == "hook"]
    assert len(drops) == 2 and all(any(a <= bar <= b for bar in hooks) for a, b in drops)
    bass = (v1["tracks"]["bass"], v2["tracks"]["bass"])
    assert -4.0 <= bass[1]["track_level_db"] - bass[0]["track_level_db"] <= -2.0
    assert bass[1]["ducking_depth_db"] - bass[0]["ducking_depth_db"] >= 2.0
    assert v3["centroid_by_bar"]["music"][-1] > v3["centroid_by_bar"]["music"][0]
    transcript = (out / "transcript.md").read_text()
    assert "Bass too loud, needs more sidechain" in transcript
    assert "Want me to add a riser sample too?" in transcript
    assert "Change card, v1 → v2" in transcript and "bass ducking depth 6 → 9 dB" in transcript
    for name in ("preview.mp3", "master.wav", "arrangement.png", "project.zip",
                 "stems/vocals.flac"):
        assert (out / name).stat().st_size > 0, name
    # storage: one project zip for the production (v3's), and every version's tracks are the
    # same FLAC files as the render cache's (the changes moved chains, not notes)
    data = seed_run.folder / "data"
    (manifest,) = (data / "manifests").glob("*.json")
    stored = json.loads(manifest.read_text())
    assert [name for name in stored if name.endswith("project.zip")] == ["v3/project.zip"]
    assert len(list((data / "blobs").glob("*/*.zip"))) == 1  # the others' bytes went
    tracks = [{(Path(name).name, entry["key"]) for name, entry in stored.items()
               if name.startswith(f"v{number}/tracks/") and name.endswith(".flac")}
              for number in (1, 2, 3)]
    assert tracks[0] and tracks[0] == tracks[1] == tracks[2]
    cached = {f.stat().st_ino for f in (data / "cache").glob("render/*/raw/*.flac")}
    assert all((data / key).stat().st_ino in cached for _, key in tracks[0])
    _assert_live_set_reads_back(out / "project.zip", tmp_path, tracks=len(session["versions"][2]["spec"]["tracks"]))


def _starts(spec: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """Each section of a stored spec with its first bar."""
    out, bar = [], 1
    for section in spec["sections"]:
        out.append((section, bar))
        bar += section["bars"]
    return out


def _assert_live_set_reads_back(project: Path, tmp_path: Path, *, tracks: int) -> None:
    """The seed's export passes our checker, and a reader that is not ours (pyableton) finds
    the tempo and an audio and a MIDI track per pattern track."""
    import zipfile

    from pyableton import Ableton

    from jobs.export.checker import check_live_set

    with zipfile.ZipFile(project) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".als"))
        data = archive.read(name)
    assert check_live_set(data).ok
    als = tmp_path / "seed.als"
    als.write_bytes(data)
    cwd = Path.cwd()
    os.chdir(tmp_path)  # pyableton writes temp.xml into the working folder
    try:
        live_set = Ableton(str(als)).live_set
    finally:
        os.chdir(cwd)
    assert live_set.master_track.device_chain.mixer.tempo.manual == 126
    kinds = [type(t).__name__ for t in live_set.tracks]
    assert kinds.count("AudioTrack") == tracks and kinds.count("ReturnTrack") == 2
    assert kinds.count("MidiTrack") == tracks - 1  # every track but the vocal has its pattern


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_restart_between_scripted_turns_loses_nothing(song: Path, tmp_path: Path) -> None:
    # the first two turns, each in its own process: the song (analysed), then the tempo
    # (stems separated); the seed run renders, and tests/integration/test_faults.py renders
    # after a restart of the queue
    lines = [line for line in SEED.read_text().splitlines() if line and not line.startswith("#")][:2]
    data = tmp_path / "data"
    for i, line in enumerate(lines):
        script = tmp_path / f"part{i}.txt"
        script.write_text(line + "\n")
        args = ["chat", "--script", str(script), "--out", str(tmp_path / "out")]
        if i == 0:  # a new conversation called r, then resumed by name
            args += ["--name", "r", "--audio", str(song)]
        else:
            args += ["--resume", "r"]
        result = vyke(*args, data_dir=data)
        assert result.returncode == 0, result.stderr
    session = json.loads((tmp_path / "out" / "session.json").read_text())
    assert session["versions"] == []  # the vocal question is still open: nothing planned yet
    assert session["brief"]["bpm"]["value"] == 126
    assert session["analysis"]["key"]["key"] == {"tonic": 0, "mode": "major"}
    assert set(session["stems"]) == {"vocals", "drums", "bass", "other"}
    assert "Keep the lyrics or make chops?" in (tmp_path / "out" / "transcript.md").read_text()
    assert session["transitions"][0] == "idle->gathering_params"


def test_remix_request_without_a_song(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("Remix Madonna to Afro Circuit\n")
    result = vyke("chat", "--script", str(script), "--out", str(tmp_path / "o"),
                  data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "attach the song" in result.stdout
