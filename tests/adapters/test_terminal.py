"""The terminal adapter's progress: one line per stage in a log, a tqdm bar on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.terminal import TerminalAdapter
from core.conversation import Attachment, Author, FileReply, ProgressReply, TextReply


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(step: str, fraction: float, *, eta_s: float | None = None,
              done: bool = False) -> ProgressReply:
    return ProgressReply(job_id="render-v1", step=step, fraction=fraction, eta_s=eta_s,
                         done=done)


async def test_a_log_gets_one_line_per_stage_with_the_time_left() -> None:
    out = io.StringIO()
    adapter = TerminalAdapter(conversation_id="local:t", author=Author(id="a"), stream=out)
    await adapter.start()
    for reply in (_progress("Rendering: kick (1 of 2), playing its part", 0.05, eta_s=30),
                  _progress("Rendering: kick (1 of 2), playing its part", 0.1, eta_s=28),
                  _progress("Rendering: bass (2 of 2), mixing its chain", 0.5, eta_s=12),
                  _progress("Rendering: done", 1.0, done=True)):
        await adapter.post(reply)
    await adapter.stop()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # the repeated stage is not printed again
    assert lines[0].endswith("kick (1 of 2), playing its part · about 30 s left")
    assert "50%" in lines[1] and lines[1].endswith("· about 12 s left")
    assert "100% Rendering: done" in lines[2] and "left" not in lines[2]


async def test_a_terminal_gets_a_bar_that_moves_and_text_above_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # a line longer than the terminal is cut by tqdm
    out = _Tty()
    adapter = TerminalAdapter(conversation_id="local:t", author=Author(id="a"), stream=out)
    await adapter.start()
    await adapter.post(_progress("Rendering: bass (4 of 7), mixing its chain", 0.3, eta_s=131))
    await adapter.post(TextReply(text="Still here."))
    await adapter.post(_progress("Rendering: done", 1.0, done=True))
    await adapter.stop()
    screen = out.getvalue()
    assert " 30% " in screen and "bass (4 of 7), mixing its chain · about 2 min 10 s left" in screen
    assert "Maestro: Still here." in screen
    assert screen.rstrip().endswith("100% 00:00 Rendering: done")


async def test_a_posted_file_is_shown_under_its_name_beside_the_transcript(tmp_path: Path) -> None:
    stored = tmp_path / "data" / "blobs" / "ab" / ("ab" + "0" * 62 + ".mp3")  # as the store keeps it
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"ID3 a preview")
    other = stored.with_name("cd" + "0" * 62 + ".mp3")
    other.write_bytes(b"ID3 another preview")
    out = io.StringIO()
    adapter = TerminalAdapter(conversation_id="local:t", author=Author(id="a"), stream=out,
                              transcript=tmp_path / "out" / "transcript.md",
                              files=tmp_path / "out" / "files")
    await adapter.start()
    for path in (stored, stored, other):  # the same file twice, then another of the same name
        await adapter.post(FileReply(attachment=Attachment(name="afro-circuit-v2-preview.mp3",
                                                           path=str(path)), caption="v2 preview"))
    await adapter.stop()
    files = tmp_path / "out" / "files"
    lines = out.getvalue().splitlines()
    assert lines == [f"Maestro: 📎 v2 preview: {files / 'afro-circuit-v2-preview.mp3'}"] * 2 + [
        f"Maestro: 📎 v2 preview: {files / 'afro-circuit-v2-preview-2.mp3'}"]
    assert (files / "afro-circuit-v2-preview.mp3").read_bytes() == b"ID3 a preview"
    assert (files / "afro-circuit-v2-preview-2.mp3").read_bytes() == b"ID3 another preview"
    assert "blobs" not in (tmp_path / "out" / "transcript.md").read_text(encoding="utf-8")
