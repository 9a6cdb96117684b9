"""What the Maestro works with: the injected parts, its limits, and small shared rules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.artifacts import ArtifactStore, folder_name, safe_file_name
from core.brain import BpmChange, Brain, BrainContext, Domain
from core.brief import VocalMode, Workflow
from core.chef import Chef
from core.conversation import Option, Question, QuestionReply
from core.genre import GenreProfile
from core.jobs import JobQueue
from core.production import Production, Topic
from core.server_settings import ServerSettings, ServerSettingsStore
from core.store import Store

if TYPE_CHECKING:
    from core.claude_chef import ClaudeChefAdvisor

__all__ = [
    "MaestroLimits",
    "Parts",
    "ask",
    "brain_context",
    "genre_of",
    "has_vocal",
    "production_dir_name",
    "resolve_bpm",
    "upload_cap_bytes",
]


class MaestroLimits:
    """Limits the Maestro enforces in the thread (from the settings)."""

    def __init__(self, *, max_upload_bytes: int, max_song_s: float, data_dir: str,
                 separation: dict[str, Any] | None = None, samples: dict[str, Any] | None = None,
                 productions_per_person: int = 0,
                 productions_per_server: int = 0, turns_per_minute: int = 0,
                 server_turns_per_minute: int = 0, max_bars: int = 0) -> None:
        self.max_upload_bytes = max_upload_bytes
        self.max_song_s = max_song_s
        self.data_dir = data_dir  #: the local artifact store's root, unless another is given
        self.separation = separation or {}
        self.samples = samples or {}  #: where renders find recorded instruments (SampleSources)
        self.productions_per_person = productions_per_person  #: working at once; 0 = no limit
        self.productions_per_server = productions_per_server  #: working at once; 0 = no limit
        self.turns_per_minute = turns_per_minute  #: messages per person; 0 = no limit
        self.server_turns_per_minute = server_turns_per_minute  #: per server; 0 = no limit
        self.max_bars = max_bars  #: longest arrangement this host renders; 0 = the genre's own


@dataclass
class Parts:
    """The pieces ``bot/`` injects, shared by every step of the conversation."""

    brain: Brain
    chefs: dict[Domain, Chef]
    genres: dict[str, GenreProfile]
    store: Store
    queue: JobQueue
    limits: MaestroLimits
    artifacts: ArtifactStore  #: where uploads go, so every worker can fetch them
    advisor: ClaudeChefAdvisor | None = None
    #: (production id, version) -> a signed link to the version's page, when one is served
    page_link: Callable[[str, int], str | None] | None = field(default=None)
    #: each server's choices (who answers, loudness destination); ``None``: the defaults
    server_settings: ServerSettingsStore | None = None

    async def settings_of(self, conversation_id: str) -> ServerSettings:
        """The settings of the server (Discord guild, Slack team) a conversation is in."""
        if self.server_settings is None:
            return ServerSettings()
        platform, _, rest = conversation_id.partition(":")
        return await self.server_settings.get(platform, rest.split(":", 1)[0])

    async def store_upload(self, production: Production) -> None:
        """Put the production's song into the artifact store (once), so any worker reads it.

        A song whose file is not on this host (a test's stand-in name) keeps no key.
        """
        source = production.source
        if source is None or source.key or not source.path or not Path(source.path).is_file():
            return
        stored = await asyncio.to_thread(self.artifacts.put_file, production.id,
                                         f"uploads/{safe_file_name(source.name)}",
                                         Path(source.path))
        production.source = source.model_copy(update={"key": stored.key})


def genre_of(parts: Parts, production: Production) -> GenreProfile:
    """The production's genre profile (house until one is chosen)."""
    genre_id = production.brief.genre.value if production.brief.genre else "house"
    return parts.genres.get(genre_id) or next(iter(parts.genres.values()))


def has_vocal(production: Production) -> bool:
    """Whether the production uses the song's vocal (a remix that keeps it in some form)."""
    brief = production.brief
    if brief.workflow is None or brief.workflow.value is not Workflow.REMIX:
        return False
    return brief.vocal is None or brief.vocal.value.mode is not VocalMode.INSTRUMENTAL


def ask(production: Production, topic: Topic, text: str, options: list[Option]) -> QuestionReply:
    """Open a question (one at a time per production) and return it as a reply."""
    production.question_seq += 1
    question = Question(id=f"q{production.question_seq}", text=text, options=options,
                        topic=topic.value)
    production.pending_question = question
    return QuestionReply(question=question)


def brain_context(production: Production) -> BrainContext:
    """What the brain needs to read a message in this production's situation."""
    question = production.pending_question
    spec = production.current_version.spec if production.current_version else None
    return BrainContext(
        pending_topic=question.topic if question else None,
        option_ids=[o.id for o in question.options] if question else [],
        option_labels=[o.label for o in question.options] if question else [],
        has_song=production.source is not None,
        has_version=bool(production.versions),
        track_names=[t.name for t in spec.tracks] if spec else [],
        section_names=[s.name for s in spec.sections] if spec else [],
    )


_UPLOAD_CAPS = {"discord": 10 * 1024 * 1024, "slack": 1024 * 1024 * 1024}


def upload_cap_bytes(conversation_id: str) -> int:
    """The largest file the conversation's platform takes, less a margin for the message.

    Discord takes 10 MiB from bots by default, Slack 1 GB; the terminal has no limit, but a
    preview over 20 MB is no preview.
    """
    platform = conversation_id.split(":", 1)[0]
    return int(_UPLOAD_CAPS.get(platform, 20 * 1024 * 1024) * 0.95)


def production_dir_name(identifier: str) -> str:
    """A folder name for a production id that cannot escape the data directory."""
    return folder_name(identifier)


def resolve_bpm(change: BpmChange, *, base: float, source_bpm: float | None) -> float:
    """The tempo a :class:`BpmChange` asks for, from ``base`` (clamped to 40–220 BPM)."""
    value = {
        "absolute": change.value,
        "relative": base + change.value,
        "half": base / 2,
        "double": base * 2,
        "keep": source_bpm or base,
    }[change.kind]
    return round(max(40.0, min(220.0, value)), 2)
