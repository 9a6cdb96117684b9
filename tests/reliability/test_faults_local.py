"""Faults on one machine that the Redis suite (tests/integration/test_faults.py: worker
SIGKILL, bot restart, Redis restart) does not cover: a full disk while writing an artifact,
corrupt cache entries, and the Anthropic API failing mid-conversation. Each ends with the
production intact, a clear sentence in the thread and recovery with no manual step."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.reliability.harness import Thread, open_app, settings_for, words

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # two full renders, maybe on a busy machine


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: the render cache's folder on a disk that fills at once."""
    mount = tmp_path / "data" / "cache"
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}); a full disk "
                    "cannot be simulated without fault hooks in the product")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_while_rendering_then_recovery(tiny_disk: Path, tmp_path: Path) -> None:
    # 32 bars: the failing write and the recovery are what is checked, not the length
    async with open_app(settings_for(tmp_path / "data", max_bars=32)) as app:
        thread = Thread(app, "local:disk")
        replies = await thread.say("Make a deep house track in Am at 122 BPM")
        said = words(replies)
        assert "disk is full" in said and "earlier versions are safe" in said
        assert "Traceback" not in said
        production = await thread.production()
        assert [(v.number, v.rendered) for v in production.versions] == [(1, False)]
        assert production.state.value == "reviewing"  # not stuck: the thread can carry on
        assert not any(".tmp." in p.name for p in tiny_disk.rglob("*"))  # no debris

        subprocess.run(["umount", "-l", str(tiny_disk)], check=True)  # the operator frees space
        replies = await thread.say("Bass too loud")
        production = await thread.production()
    assert "v2 rendered" in words(replies)
    assert [(v.number, v.rendered) for v in production.versions] == [(1, False), (2, True)]
    master = production.versions[1].master_key
    assert master is not None and app.artifacts.size(master) > 0


async def test_corrupt_render_cache_entries_are_recomputed(tmp_path: Path) -> None:
    # a 32-bar track: every cached file is damaged whatever its length
    async with open_app(settings_for(tmp_path / "data", max_bars=32)) as app:
        thread = Thread(app, "local:cache")
        await thread.say("Make a deep house track in Am at 122 BPM")
        raw = sorted((tmp_path / "data" / "cache" / "render").rglob("raw/*.flac"))
        mixed = sorted((tmp_path / "data" / "cache" / "render").rglob("mixed/*/*.npy"))
        assert raw and mixed
        sizes = {p: p.stat().st_size for p in raw}
        for path in raw:  # cut every cached track short, as a crash or a bad disk would
            with path.open("r+b") as fh:
                fh.truncate(100)
        for path in mixed:
            path.write_bytes(b"PK\x03\x04 not an archive")
        replies = await thread.say("Bass too loud")
        production = await thread.production()
    assert "v2 rendered" in words(replies) and "Traceback" not in words(replies)
    assert [(v.number, v.rendered) for v in production.versions] == [(1, True), (2, True)]
    v1, v2 = (v.measurements for v in production.versions)
    assert abs(v2["tempo_bpm"] - v1["tempo_bpm"]) < 1.0  # the damaged tracks were not served
    assert abs(v2["integrated_lufs"] - v1["integrated_lufs"]) < 1.5  # a real render, not silence
    for path in raw:  # recomputed and stored whole again, not served from the damaged file
        assert path.stat().st_size == sizes[path]
        assert sf.info(str(path)).frames > 0


async def test_corrupt_analysis_cache_entry_is_recomputed(tmp_path: Path, song: Path) -> None:
    async with open_app(settings_for(tmp_path / "data")) as app:
        first = Thread(app, "local:a1")
        assert "Analysed the song" in words(await first.say("Remix this to Afro Circuit",
                                                             audio=song))
        expected = (await first.production()).analysis
        entries = list((tmp_path / "data" / "cache" / "analysis").rglob("*.json"))
        assert len(entries) == 1
        entries[0].write_text('{"tempo": {"bpm": "fast"', encoding="utf-8")
        second = Thread(app, "local:a2")
        said = words(await second.say("Remix this to Afro Circuit", audio=song))
        production = await second.production()
    assert "Analysed the song" in said and "Traceback" not in said
    assert production.analysis is not None
    assert production.analysis == expected  # recomputed: the same numbers
    assert '"bpm": "fast"' not in entries[0].read_text(encoding="utf-8")  # rewritten whole


async def test_anthropic_api_failing_mid_conversation(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with FakeAnthropicAPI() as api:
        api.reply_tool_use({"intents": ["request"], "workflow": "text_to_track",
                            "genre": "deep_house", "key": {"tonic": 9, "mode": "minor"},
                            "bpm": {"kind": "absolute", "value": 122}},
                           name="record_understanding")
        api.reply_error(500, kind="api_error", message="internal error")  # then it breaks
        settings = settings_for(tmp_path / "data", anthropic_api_key="sk-ant-fault-test",
                                anthropic_base_url=api.base_url, anthropic_timeout_s=5.0)
        async with open_app(settings) as app:
            thread = Thread(app, "local:claude")
            planned = await thread.say("Make a deep house track", wait=False)
            await thread.say("stop")
            replies = await thread.say("go back to v1", wait=False)
            production = await thread.production()
    assert len(api.requests) == 3  # Claude answered the first turn and failed the next two
    assert "Am at 122 BPM" in words(planned)  # Claude's understanding (the text has neither)
    said = words(replies)
    assert "v1" in said and "Traceback" not in said  # the rules understood it instead
    assert [v.number for v in production.versions] == [1]
    assert production.current == 1
    assert any("fell back" in r.getMessage() for r in caplog.records
               if r.name == "core.claude_brain")
