"""``vyke chat --script`` tags: ``[Sam]`` speaks as another person, ``[busy]`` arrives mid-job."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from bot.app import App
from bot.chat import ScriptLine, run_chat, script_line
from core.store import SqliteStore
from tests.fakes.honest_queue import HonestQueue
from tests.fakes.rule_maestro import rule_maestro


def test_tags_are_read_off_the_front_in_any_order() -> None:
    assert script_line("more reverb") == ScriptLine(text="more reverb")
    assert script_line("[busy] [Sam] more reverb") == ScriptLine("more reverb", "Sam", True)
    assert script_line("[Sam][busy]  more reverb") == ScriptLine("more reverb", "Sam", True)
    assert script_line("add [this] later") == ScriptLine(text="add [this] later")


async def test_a_script_sends_busy_lines_mid_job_and_ends_when_every_job_has(
        tmp_path: Path) -> None:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = HonestQueue(store)
    maestro = rule_maestro(store, queue, tmp_path)
    app = App(settings=cast(Any, None), maestro=maestro, store=store, queue=cast(Any, queue),
              server_settings=cast(Any, None), artifacts=maestro.parts.artifacts)
    try:
        await run_chat(app, out_dir=tmp_path / "out", name="tags", audio=None, script=[
            "make a techno track at 130 bpm in F minor",
            "[busy] more reverb on the pads",
            "[Sam] [busy] hats are too harsh",
        ])
        p = await store.get("local:tags")
        assert p is not None
        said = [(r.author, r.text) for r in p.history[:3]]
        assert said[1] == ("local-director", "more reverb on the pads")
        assert said[2] == ("local-sam", "hats are too harsh")
        assert "Noted" in (tmp_path / "out" / "transcript.md").read_text(encoding="utf-8")
        assert len(p.versions) == 2 and all(v.rendered for v in p.versions)  # both kept, applied
        assert not p.pending_jobs and queue.running("local:tags") == 0
    finally:
        await store.close()
