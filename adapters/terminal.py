"""The terminal as a chat platform: ``vyke chat``.

Questions become numbered options (typing the number presses the button), progress is a
tqdm bar per job on a terminal (stage, per-track step, time spent and time left, ticking even
while a long step sends nothing) and one line per stage otherwise, and files are printed as
paths: by their names in a ``files`` folder beside the transcript where one is given (the
store keeps them by content, ``blobs/ab/<sha256>.mp3``, which says nothing to a person). The
adapter writes a Markdown transcript as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from core.conversation import (
    Attachment,
    Author,
    ButtonPress,
    FileReply,
    ProgressReply,
    Question,
    QuestionReply,
    Reply,
    TextReply,
    Turn,
)

__all__ = ["TerminalAdapter"]

_BAR_WIDTH = 24
_TICK_S = 1.0  # how often open bars redraw their clocks between the job's own updates
_BAR_FORMAT = "  |{bar:24}| {percentage:3.0f}% {elapsed} {desc}"


@dataclass
class _Bar:
    """One job's bar on a terminal, and the last estimate it was given."""

    bar: tqdm
    step: str
    eta_s: float | None
    at: float  #: ``time.monotonic()`` of the last update

    def describe(self, now: float) -> str:
        if self.eta_s is None:
            return self.step
        left = max(0.0, self.eta_s - (now - self.at))
        return f"{self.step} · {_duration(left)} left"


class TerminalAdapter:
    """Reads turns from lines of text and prints replies; keeps a transcript."""

    def __init__(self, *, conversation_id: str, author: Author, stream: TextIO | None = None,
                 transcript: Path | None = None, files: Path | None = None) -> None:
        self.conversation_id = conversation_id
        self.author = author
        self.stream = stream or sys.stdout
        self.transcript_path = transcript
        self.files_dir = files  #: where posted files appear under their names
        self._lines: list[str] = []
        self._question: Question | None = None
        self._last_progress: dict[str, str] = {}
        self._bars: dict[str, _Bar] = {}
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin the transcript; on a terminal, start redrawing the bars' clocks every second."""
        self._lines = ["# Vyke Produce session", ""]
        if self.stream.isatty():
            self._ticker = asyncio.create_task(self._tick(), name="vyke-terminal-progress")

    async def stop(self) -> None:
        """Close the open bars and write the transcript."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self._end_progress()
        self._flush_transcript()

    def to_turn(self, line: str, *, attachments: list[Attachment] | None = None) -> Turn:
        """A typed line as a turn; a bare option number answers the open question."""
        text = line.strip()
        press = None
        if self._question is not None and text.isdigit():
            index = int(text) - 1
            if 0 <= index < len(self._question.options):
                press = ButtonPress(question_id=self._question.id,
                                    option_id=self._question.options[index].id)
        self._end_progress()
        self._lines += [f"**{self.author.display}:** {text}", ""]
        if attachments:
            self._lines += [f"*attached {a.name}*" for a in attachments] + [""]
        return Turn(conversation_id=self.conversation_id, author=self.author, text=text,
                    attachments=attachments or [], press=press)

    def to_message(self, reply: Reply) -> str:
        """The text a reply prints as (progress without the in-place control characters)."""
        if isinstance(reply, TextReply):
            return reply.text
        if isinstance(reply, QuestionReply):
            q = reply.question
            options = "\n".join(
                f"  {i}) {o.label}{'  (suggested)' if o.suggested else ''}"
                for i, o in enumerate(q.options, start=1)
            )
            return f"{q.text}\n{options}\n  (type a number, or answer in your own words)"
        if isinstance(reply, FileReply):
            return f"📎 {reply.caption or reply.attachment.name}: {reply.attachment.path}"
        return _progress_line(reply)

    async def post(self, reply: Reply) -> None:
        """Print one reply."""
        if isinstance(reply, ProgressReply):
            self._post_progress(reply)
            return
        if isinstance(reply, QuestionReply):
            self._question = reply.question
        if isinstance(reply, FileReply):
            reply = self._named(reply)
        text = self.to_message(reply)
        if self._bars:  # above the running bars, which stay where they are
            tqdm.write(_indent("Maestro: ", text), file=self.stream)
        else:
            self.stream.write(_indent("Maestro: ", text) + "\n")
            self.stream.flush()
        self._lines += [f"**Maestro:** {text}", ""]
        self._flush_transcript()

    def _named(self, reply: FileReply) -> FileReply:
        """The reply with its file under its own name in :attr:`files_dir` (a hard link where
        the disk allows, else a copy); a name taken by other content gets ``-2``, ``-3``…"""
        source = Path(reply.attachment.path) if reply.attachment.path else None
        if self.files_dir is None or source is None or not source.is_file():
            return reply
        self.files_dir.mkdir(parents=True, exist_ok=True)
        stem, suffix = Path(reply.attachment.name).stem, Path(reply.attachment.name).suffix
        for n in range(1, 1000):
            target = self.files_dir / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            if target.exists() and target.stat().st_size == source.stat().st_size \
                    and target.read_bytes() == source.read_bytes():
                break  # posted again (a resumed conversation): the same file
            if not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # another disk, or links not allowed
                    shutil.copyfile(source, target)
                break
        else:
            return reply
        return reply.model_copy(update={"attachment": reply.attachment.model_copy(
            update={"path": str(target)})})

    def _post_progress(self, reply: ProgressReply) -> None:
        if reply.done:
            self._lines += [f"*{_progress_line(reply)}*", ""]
        if self.stream.isatty():
            self._draw(reply)
            return
        # a log or a pipe gets one line per stage, not one per update
        stage = _stage(reply)
        if self._last_progress.get(reply.job_id) == stage:
            return
        self._last_progress[reply.job_id] = stage
        self.stream.write(_progress_line(reply) + "\n")
        self.stream.flush()

    def _draw(self, reply: ProgressReply) -> None:
        now = time.monotonic()
        state = self._bars.get(reply.job_id)
        if state is None:
            # the size is read per bar; a terminal that reports 0 x 0 gets 100 x 24 (tqdm
            # would draw nothing at all there)
            size = shutil.get_terminal_size((100, 24))
            bar = tqdm(total=100, file=self.stream, bar_format=_BAR_FORMAT, leave=True,
                       ncols=size.columns or 100, nrows=size.lines or 24, mininterval=0)
            state = self._bars[reply.job_id] = _Bar(bar=bar, step="", eta_s=None, at=now)
        step = reply.step
        if reply.position and not reply.fraction:
            step += f", position {reply.position} in the queue"
        state.step, state.at = step, now
        state.eta_s = None if reply.done else reply.eta_s
        if reply.fraction is not None:
            state.bar.n = round(100 * reply.fraction, 1)
        state.bar.set_description_str(state.describe(now), refresh=False)
        state.bar.refresh()
        if reply.done:
            state.bar.close()
            del self._bars[reply.job_id]

    async def _tick(self) -> None:
        """Redraw the open bars every second, so time moves while a long step is quiet."""
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.monotonic()
            for state in self._bars.values():
                state.bar.set_description_str(state.describe(now), refresh=False)
                state.bar.refresh()

    def _end_progress(self) -> None:
        for state in self._bars.values():
            state.bar.close()
        self._bars.clear()

    def _flush_transcript(self) -> None:
        if self.transcript_path is not None:
            self.transcript_path.parent.mkdir(parents=True, exist_ok=True)
            self.transcript_path.write_text("\n".join(self._lines), encoding="utf-8")


def _progress_line(reply: ProgressReply) -> str:
    if reply.fraction is None:
        return f"  [{reply.step}]"
    filled = round(reply.fraction * _BAR_WIDTH)
    bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
    where = f" (position {reply.position})" if reply.position and reply.fraction == 0 else ""
    left = f" · {_duration(reply.eta_s)} left" if reply.eta_s is not None and not reply.done else ""
    return f"  [{bar}] {reply.fraction:4.0%} {reply.step}{where}{left}"


def _stage(reply: ProgressReply) -> str:
    """What a plain-text log prints a line for: a new step (a track, a stage) or the end."""
    return f"{reply.step}|{reply.done}|{reply.position if not reply.fraction else ''}"


def _duration(seconds: float) -> str:
    """``about 40 s`` or ``about 2 min 10 s``: a rough, readable time left."""
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"about {round(seconds)} s"
    minutes, rest = divmod(round(seconds / 10) * 10, 60)
    return f"about {minutes} min {rest} s" if rest else f"about {minutes} min"


def _indent(prefix: str, text: str) -> str:
    pad = " " * len(prefix)
    lines = text.splitlines() or [""]
    return "\n".join([prefix + lines[0], *(pad + line for line in lines[1:])])
