"""Scripted conversations through the real Maestro: does every conversation reach its goal?

The corpus is ``tests/conversations/*.txt``, one conversation a file, in the ``vyke chat
--script`` format (one message a line, ``#`` comments) with three additions:

* ``#! song`` — the first message carries a song (a remix or a reference);
* ``#! no-goal`` — the director never gives a complete direction, so no version is due;
* ``[Sam] text`` — said by someone else in the same thread (default: Dee, the owner);
  ``[busy] text`` — sent while the previous message's jobs still run (not waited for).

:func:`drive` plays one conversation and checks what a director would: every message got an
answer that is not a refusal of something understood (nothing dropped); no reply says it
changed nothing while claiming a change; every piece of feedback ends in a rendered version
whose change card is fully measured and met, or in an honest "can't yet" with the closest
alternatives (or a reason nothing changed, or a vote); a conversation with a goal ends with
a rendered version; no job is left running and no planned version unrendered.

``make test`` runs the whole corpus with an instant, honest fake queue
(``tests/conversations/test_corpus.py``); ``python -m bench conversations`` runs a handful
through the real audio engine and prints the table for the README.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench._table import Table
from bot.chat import script_line
from core.brain import Intent
from core.change_card import card_lines
from core.conversation import (
    Attachment,
    Author,
    QuestionReply,
    Reply,
    Turn,
    replies_text,
)
from core.jobs import JobEvent
from core.maestro import Maestro
from core.not_yet import not_yet_in
from core.production import Production

__all__ = ["CORPUS", "NO_CARD", "Line", "Outcome", "Script", "drive", "read_conversation", "run"]

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "conversations"
"""Where the scripted conversations live."""

OWNER = "Dee"
NO_CARD = "has no change card"
"""The problem said when a version's patch declares no measurable effect."""
_NOTHING_CHANGED_RE = re.compile(r"didn't change anything|nothing changed", re.IGNORECASE)
_CLAIMED_CHANGE_RE = re.compile(r"This is v\d+|Now applying")
_REFUSED_RE = re.compile(r"didn't understand|didn't catch", re.IGNORECASE)
_NOT_YET_RE = re.compile(r"can't make .+ yet\b.*?\bclosest\b", re.DOTALL)


@dataclass(frozen=True)
class Line:
    """One message of a script."""

    text: str
    author: str = OWNER
    busy: bool = False  #: sent before the previous message's jobs finish


@dataclass
class Script:
    """One scripted conversation."""

    name: str
    lines: list[Line]
    song: bool = False  #: the first message carries a song
    goal: bool = True  #: the director gives a song/genre and a direction: a version is due


def read_conversation(path: Path) -> Script:
    """A conversation file: directives, tags and messages (see the module's docstring)."""
    script = Script(name=path.stem, lines=[])
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#!"):
            directive = line[2:].strip()
            script.song = script.song or directive == "song"
            script.goal = script.goal and directive != "no-goal"
            continue
        if not line or line.startswith("#"):
            continue
        tagged = script_line(line)
        script.lines.append(Line(text=tagged.text, author=tagged.author or OWNER,
                                 busy=tagged.busy))
    return script


class EventSource(Protocol):
    """The part of a job queue the runner reads: finished (and progress) events."""

    def events(self) -> AsyncIterator[JobEvent]: ...


@dataclass
class _Said:
    line: Line
    replies: list[Reply]
    versions_before: int
    intents: str
    made: int | None  #: the version this message made at once, if any


@dataclass
class Outcome:
    """How one conversation went."""

    name: str
    problems: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    versions: int = 0
    feedback_lines: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems


async def _settle(maestro: Maestro, queue: EventSource, conversation_id: str,
                  outcome: Outcome, *, timeout_s: float) -> None:
    """Read job events until the conversation has no job pending (each answered by the Maestro)."""
    deadline = time.monotonic() + timeout_s
    while True:
        production = await maestro.store.get(conversation_id)
        if production is None or not production.pending_jobs:
            return
        events = queue.events()
        try:
            left = max(0.1, deadline - time.monotonic())
            event = await asyncio.wait_for(anext(events), timeout=left)
        except (StopAsyncIteration, TimeoutError):
            outcome.problems.append("a job never finished: "
                                    f"{[j.kind for j in production.pending_jobs]}")
            return
        replies = await maestro.on_event(event)
        said = replies_text(replies)
        if said:
            outcome.transcript.append(f"Vyke (job {event.kind.value}): {said}")
        if _NOTHING_CHANGED_RE.search(said) and _CLAIMED_CHANGE_RE.search(said):
            outcome.problems.append(f"contradictory reply after a job: {said[:160]!r}")


async def drive(maestro: Maestro, queue: EventSource, script: Script, *,
                conversation_id: str, song: Attachment | None,
                job_timeout_s: float = 30.0) -> Outcome:
    """Play ``script`` through ``maestro`` and check it (see the module's docstring)."""
    started = time.perf_counter()
    outcome = Outcome(name=script.name)
    said: list[_Said] = []
    for index, line in enumerate(script.lines):
        production = await maestro.store.get(conversation_id)
        before = len(production.versions) if production else 0
        if line.busy and (production is None or not production.pending_jobs):
            outcome.problems.append(f"{line.text!r} is marked [busy] but nothing was running")
        attach = [song] if index == 0 and script.song and song is not None else []
        author = Author(id=f"u-{line.author.lower()}", name=line.author)
        replies = await maestro.handle(Turn(conversation_id=conversation_id, author=author,
                                            text=line.text, attachments=attach))
        production = await maestro.store.get(conversation_id)
        assert production is not None
        record = production.history[-1] if production.history else None
        text = replies_text(replies)
        outcome.transcript += [f"{line.author}{' (while busy)' if line.busy else ''}: "
                               f"{line.text}", f"Vyke: {text}"]
        said.append(_Said(line, replies, before, record.intent if record else "",
                          record.version if record else None))
        following = script.lines[index + 1] if index + 1 < len(script.lines) else None
        if following is None or not following.busy:
            await _settle(maestro, queue, conversation_id, outcome, timeout_s=job_timeout_s)
    await _settle(maestro, queue, conversation_id, outcome, timeout_s=job_timeout_s)
    production = await maestro.store.get(conversation_id)
    assert production is not None
    _check(production, said, script, outcome)
    outcome.versions = len(production.versions)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _check(production: Production, said: list[_Said], script: Script, outcome: Outcome) -> None:
    problems = outcome.problems
    for item in said:
        text = replies_text(item.replies)
        quoted = repr(item.line.text)
        if not text:
            problems.append(f"{quoted} got no answer (dropped)")
        if _REFUSED_RE.search(text) and item.intents != Intent.UNKNOWN.value:
            problems.append(f"{quoted} was understood ({item.intents}) but answered: {text[:120]!r}")
        if _NOTHING_CHANGED_RE.search(text) and _CLAIMED_CHANGE_RE.search(text):
            problems.append(f"contradictory reply to {quoted}: {text[:160]!r}")
        not_yet = _NOT_YET_RE.search(text) is not None
        if not_yet_in(item.line.text) is not None and not not_yet and item.intents not in (
                Intent.STOP.value, Intent.STATUS.value, Intent.HELP.value):
            problems.append(f"{quoted} asks for something not possible yet, never named: "
                            f"{text[:120]!r}")
        if "feedback" not in item.intents.split(",") and not not_yet:
            continue
        outcome.feedback_lines += 1
        if not_yet and "feedback" not in item.intents.split(","):
            continue  # named as not possible yet, with the closest alternatives
        if _NOTHING_CHANGED_RE.search(text) and len(text) > len("I didn't change anything. "):
            continue  # nothing to change, and the reason said
        if any(isinstance(r, QuestionReply) and r.question.topic == "vote" for r in item.replies):
            continue  # two directors disagree: the thread chooses
        problem = _measured(production, item)
        if problem:
            problems.append(f"{quoted}: {problem}")
    asked: dict[str, int] = {}
    for item in said:
        for reply in item.replies:
            if isinstance(reply, QuestionReply):
                asked[reply.question.id] = asked.get(reply.question.id, 0) + 1
    again = [qid for qid, times in asked.items() if times > 2]
    if again:
        problems.append(f"a question was asked again more than once: {again}")
    if script.goal and not any(v.rendered for v in production.versions):
        problems.append("the conversation had a goal but ended without a rendered version")
    if production.pending_jobs:
        problems.append(f"ended with jobs still running: {[j.kind for j in production.pending_jobs]}")
    if production.queued:
        problems.append(f"ended with kept changes never applied: {[q.text for q in production.queued]}")
    unrendered = [v.number for v in production.versions if not v.rendered and not v.note]
    if unrendered:
        problems.append(f"ended with planned versions never rendered: {unrendered}")


def _measured(production: Production, item: _Said) -> str:
    """Why the feedback of ``item`` did not end in a rendered, fully measured version ('' if it did)."""
    candidates = ([production.version(item.made)] if item.made else
                  [v for v in production.versions if v.number > item.versions_before])
    versions = [v for v in candidates if v is not None and v.patch is not None]
    if not versions:
        return "no version was made for it"
    for version in versions:
        parent = production.version(version.parent) if version.parent else None
        if version.rendered and parent is not None and not parent.rendered and parent.note:
            return ""  # rendered; its parent was stopped before rendering: nothing to compare
        if not version.rendered or parent is None or not parent.measurements:
            continue
        assert version.patch is not None
        card = card_lines(version.patch.expected, before=parent.measurements,
                          after=version.measurements)
        if not card:
            return f"v{version.number} {NO_CARD} (no expected effect declared)"
        unmet = [line.text for line in card if line.met is not True]
        if unmet:
            return f"v{version.number}'s change card is not all measured and met: {unmet}"
        return ""
    return "its version was never rendered"


# --- the benchmark: a handful through the real audio engine ----------------------------------

BENCH_CONVERSATIONS = ("deep-house-from-text", "remix-afro-seed", "interrupt-during-render")
"""The conversations ``python -m bench conversations`` renders for real."""


def run() -> list[Table]:
    """Play :data:`BENCH_CONVERSATIONS` through the real engine (inline queue, real renders)."""
    return [asyncio.run(_run_real())]


async def _run_real() -> Table:
    from bot.app import build_app
    from bot.settings import Settings
    from jobs.demo_song import make_demo_song

    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="vyke-bench-conversations-") as folder:
        data = Path(folder)
        song_path = make_demo_song(data / "demo-song.wav")
        song = Attachment(name="demo-song.wav", path=str(song_path),
                          size_bytes=song_path.stat().st_size, content_type="audio/wav")
        settings = Settings(data_dir=data / "data")
        async with build_app(settings) as app:
            for name in BENCH_CONVERSATIONS:
                script = read_conversation(CORPUS / f"{name}.txt")
                outcome = await drive(app.maestro, app.queue, script,
                                      conversation_id=f"local:bench-{name}", song=song,
                                      job_timeout_s=900.0)
                rows.append([name, len(script.lines), outcome.versions, outcome.feedback_lines,
                             "pass" if outcome.passed else "; ".join(outcome.problems)[:200],
                             f"{outcome.seconds:.0f}"])
    passed = sum(row[4] == "pass" for row in rows)
    return Table(
        title=f"Scripted conversations through the real audio engine: {passed}/{len(rows)} pass",
        columns=["conversation", "messages", "versions", "feedback lines", "result", "seconds"],
        rows=rows,
        notes=["Real RuleBrain, Chefs, Maestro and renders (inline queue); the song is the "
               "generated demo song. A pass means every check of bench.conversations.drive held "
               "on measured audio: each change card fully measured and met."])
