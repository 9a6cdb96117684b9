"""``vyke chat``: a whole conversation in the terminal, interactive or from a script.

In script mode each line is one message and every job is waited for before the next line,
so a scripted conversation reads exactly like the one a person would have. A line may start
with tags: ``[Sam]`` says it as another person in the thread, ``[busy]`` sends it while the
previous message's jobs still run; the run ends only when every job it started has finished.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapters.terminal import TerminalAdapter
from bot.app import App
from bot.runtime import Poster, handle_event
from core.artifacts import ArtifactStore
from core.conversation import Attachment, AttachmentKind, Author, Reply
from core.production import Production
from core.store import ProductionSummary

__all__ = ["LOCAL_PREFIX", "ScriptLine", "conversation_name", "greeting", "list_lines", "read_script",
           "run_chat", "script_line"]

LOCAL_PREFIX = "local:"
"""Conversation ids of the terminal start with this; the rest is the name people type."""

_QUIT_WORDS = frozenset({"quit", "exit", "bye"})


def conversation_name(*, song: Path | None, now: datetime, taken: set[str]) -> str:
    """A readable name for a new conversation: the song's name and the local time.

    ``my song (final).wav`` at 21:42 on 1 December 2026 becomes
    ``my-song-final-2026-12-01-2142``; a name already in ``taken`` gets ``-2``, ``-3``…, so
    two runs in the same minute never share a conversation.
    """
    stem = re.sub(r"[^a-z0-9]+", "-", song.stem.lower()).strip("-")[:32].strip("-") if song else ""
    base = f"{stem or 'chat'}-{now:%Y-%m-%d-%H%M}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def greeting(*, name: str, audio: Path | None, resumed: Production | None,
             interactive: bool) -> str:
    """The first thing ``vyke chat`` prints: which conversation this is and what to type."""
    if resumed is not None:
        song = resumed.source.name if resumed.source else "no song yet"
        versions = len(resumed.versions)
        lines = [f"Continuing the conversation {name} ({song}, {versions} "
                 f"version{'s' if versions != 1 else ''} so far)."]
    else:
        lines = [f"A new conversation: {name}."]
        if audio is not None:
            lines.append(f"Your song {audio.name} goes with your first message.")
    if interactive:
        if resumed is None:
            lines.append('Tell me what to make, e.g. "Remix this to Afro House"'
                         if audio is not None else
                         'Tell me what to make, e.g. "Make a deep house track at 122 BPM" '
                         "(to remix a song, start with --audio FILE)")
        lines.append("Answer a question with its number or in your own words; "
                     "type quit to stop.")
    lines.append(f"Continue it later with: vyke chat --resume {name}")
    return "\n".join(lines)


def list_lines(summaries: list[ProductionSummary]) -> list[str]:
    """``vyke chat --list``: one line per terminal conversation, the most recent first."""
    if not summaries:
        return ["No conversations yet. Start one with: vyke chat --audio my-song.wav"]
    rows = []
    for s in summaries:
        when = datetime.fromtimestamp(s.updated_at).strftime("%Y-%m-%d %H:%M")
        versions = f"{s.versions} version{'s' if s.versions != 1 else ''}"
        rows.append(f"{s.id.removeprefix(LOCAL_PREFIX)}  {when}  {s.song or 'no song'}  "
                    f"{versions}  {s.state.replace('_', ' ')}")
    return [*rows, "Continue one with: vyke chat --resume NAME"]


def read_script(path: Path) -> list[str]:
    """Messages of a script: one per line; blank lines and ``#`` comments are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


_TAG_RE = re.compile(r"^\[([A-Za-z][\w-]*)\]\s*")


@dataclass(frozen=True)
class ScriptLine:
    """One message of a script, with who says it and whether it waits for running jobs."""

    text: str
    author: str | None = None  #: ``[Sam] …``: someone else in the thread; None = the director
    busy: bool = False  #: ``[busy] …``: sent while the previous message's jobs still run


def script_line(line: str) -> ScriptLine:
    """A script line's tags read off its front: ``[Sam] [busy] more reverb`` (any order)."""
    author, busy = None, False
    while (tag := _TAG_RE.match(line)) is not None:
        if tag[1].lower() == "busy":
            busy = True
        else:
            author = tag[1]
        line = line[tag.end():]
    return ScriptLine(text=line.strip(), author=author, busy=busy)


def _attachment(path: Path) -> Attachment:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(name=path.name, path=str(path.resolve()), size_bytes=path.stat().st_size,
                      content_type=content_type, kind=AttachmentKind.AUDIO)


def _ask() -> str:
    """Prompt on standard output and read one line.

    ``input("You: ")`` would print its prompt on standard error when both ends are a
    terminal, and ``vyke chat`` sends standard error to its log file (see ``bot.cli``).
    """
    sys.stdout.write("You: ")
    sys.stdout.flush()
    return input()


async def _drain(app: App, adapter: TerminalAdapter, conversation_id: str) -> None:
    """Post job events until this conversation has no job pending."""
    events = app.queue.events()
    while True:
        production = await app.store.get(conversation_id)
        if production is None or not production.pending_jobs:
            return
        event = await anext(events)
        await handle_event(app, event, _print_to(adapter))


def _print_to(adapter: TerminalAdapter) -> Poster:
    async def post(conversation_id: str, reply: Reply) -> None:
        await adapter.post(reply)

    return post


async def run_chat(app: App, *, out_dir: Path, name: str, audio: Path | None,
                   script: list[str] | None, intro: str = "") -> int:
    """Run a conversation; writes ``transcript.md`` and ``session.json`` into ``out_dir``.

    ``intro`` (the :func:`greeting`) is printed before the first prompt.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    conversation_id = f"{LOCAL_PREFIX}{name}"
    adapter = TerminalAdapter(conversation_id=conversation_id,
                              author=Author(id="local-director", name="You"),
                              transcript=out_dir / "transcript.md", files=out_dir / "files")
    await adapter.start()
    if intro:
        print(intro, flush=True)
    pending_audio = [_attachment(audio)] if audio is not None else []
    lines = [script_line(raw) for raw in script] if script is not None else None
    try:
        index = -1
        while True:
            said = ScriptLine(text="")
            if lines is not None:
                index += 1
                if index >= len(lines):
                    break
                said = lines[index]
                line = said.text
                print(f"{said.author or 'You'}{' (while busy)' if said.busy else ''}: {line}")
            else:
                try:
                    line = await asyncio.to_thread(_ask)
                except EOFError:
                    break
                if line.strip().lower() in _QUIT_WORDS:
                    break
                if not line.strip():
                    continue
            turn = adapter.to_turn(line, attachments=pending_audio)
            if said.author is not None:  # "[Sam] …": another person in the same thread
                turn = turn.model_copy(update={"author": Author(
                    id=f"local-{said.author.lower()}", name=said.author)})
            pending_audio = []
            for reply in await app.maestro.handle(turn):
                await adapter.post(reply)
            following = lines[index + 1] if lines is not None and index + 1 < len(lines) else None
            if following is None or not following.busy:
                await _drain(app, adapter, conversation_id)
        await _drain(app, adapter, conversation_id)  # a script ends when its jobs have
    finally:
        await adapter.stop()
        await _write_session(app, out_dir, conversation_id)
    print(f"\nTranscript: {out_dir / 'transcript.md'}\nSession:    {out_dir / 'session.json'}")
    return 0


async def _write_session(app: App, out_dir: Path, conversation_id: str) -> None:
    production = await app.store.get(conversation_id)
    if production is None:
        return
    artifacts = [{"version": v.number, "name": name, "key": key}
                 for v in production.versions for name, key in v.artifacts.items()]
    session = {
        "conversation_id": production.id,
        "state": production.state.value,
        "brief": production.brief.model_dump(mode="json"),
        "versions": [{"number": v.number, "parent": v.parent, "author": v.author,
                      "rendered": v.rendered, "note": v.note,
                      "changes": v.patch.describe() if v.patch else [],
                      "routed_to": v.patch.chef if v.patch else "",
                      "measurements": v.measurements.model_dump(mode="json"),
                      "spec": v.spec.model_dump(mode="json")} for v in production.versions],
        "current": production.current,
        "requests": [r.model_dump(mode="json") for r in production.history],
        "transitions": production.trail,
        "artifacts": artifacts,
        "analysis": production.analysis.model_dump(mode="json") if production.analysis else None,
        "stems": production.stems,
    }
    (out_dir / "session.json").write_text(json.dumps(session, indent=2), encoding="utf-8")
    await asyncio.to_thread(_collect_outputs, app.artifacts, production, out_dir)


def _collect_outputs(artifacts: ArtifactStore, production: Production, out_dir: Path) -> None:
    """Copy the current version's files and the stems next to the transcript, for a person to open.

    The artifact store keeps the originals (the local store: hard links where possible, so
    nothing is stored twice); this is the folder the README points at after ``make demo``.
    The version's per-track files and notes stay in the store (they are in the project zip).
    The master is written out as the 24-bit WAV it losslessly is (the store keeps its FLAC).
    """
    version = production.current_version
    files = {name: key for name, key in (version.artifacts if version is not None else {}).items()
             if "/" not in name and name != "samples.json"}
    # a stem is FLAC (a float WAV when louder than full scale), as its key's suffix says
    files.update({f"stems/{name}{Path(key).suffix}": key
                  for name, key in production.stems.items()})
    for name, key in files.items():
        try:
            source = artifacts.fetch(key)
        except (FileNotFoundError, ValueError):
            continue
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "master.flac":
            _as_wav(source, target.with_suffix(".wav"))
            continue
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


def _as_wav(flac: Path, target: Path) -> None:
    """A FLAC's samples as a 24-bit WAV, exactly (integers in, integers out)."""
    import soundfile as sf

    data, rate = sf.read(str(flac), dtype="int32", always_2d=True)
    target.unlink(missing_ok=True)
    sf.write(str(target), data, rate, subtype="PCM_24")
