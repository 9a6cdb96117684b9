"""The terminal as a chat platform: ``vyke chat``.

Questions become numbered options (typing the number presses the button), progress is a bar
that updates in place on a terminal and one line per step otherwise, and files are printed as
paths. The adapter writes a Markdown transcript as it goes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

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


class TerminalAdapter:
    """Reads turns from lines of text and prints replies; keeps a transcript."""

    def __init__(self, *, conversation_id: str, author: Author, stream: TextIO | None = None,
                 transcript: Path | None = None) -> None:
        self.conversation_id = conversation_id
        self.author = author
        self.stream = stream or sys.stdout
        self.transcript_path = transcript
        self._lines: list[str] = []
        self._question: Question | None = None
        self._progress_open = False
        self._last_progress: dict[str, str] = {}

    async def start(self) -> None:
        """Begin the transcript."""
        self._lines = ["# Vyke Produce session", ""]

    async def stop(self) -> None:
        """Finish the progress line and write the transcript."""
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
        self._end_progress()
        if isinstance(reply, QuestionReply):
            self._question = reply.question
        text = self.to_message(reply)
        self.stream.write(_indent("Maestro: ", text) + "\n")
        self.stream.flush()
        self._lines += [f"**Maestro:** {text}", ""]
        self._flush_transcript()

    def _post_progress(self, reply: ProgressReply) -> None:
        line = _progress_line(reply)
        if self._last_progress.get(reply.job_id) == line:
            return
        self._last_progress[reply.job_id] = line
        if self.stream.isatty():
            self.stream.write("\r\033[2K" + line)
            self._progress_open = not reply.done
            if reply.done:
                self.stream.write("\n")
        elif reply.done or reply.fraction in (None, 0.0):
            self.stream.write(line + "\n")
        self.stream.flush()
        if reply.done:
            self._lines += [f"*{line}*", ""]

    def _end_progress(self) -> None:
        if self._progress_open:
            self.stream.write("\n")
            self._progress_open = False

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
    return f"  [{bar}] {reply.fraction:4.0%} {reply.step}{where}"


def _indent(prefix: str, text: str) -> str:
    pad = " " * len(prefix)
    lines = text.splitlines() or [""]
    return "\n".join([prefix + lines[0], *(pad + line for line in lines[1:])])
