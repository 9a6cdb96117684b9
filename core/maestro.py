"""The Maestro: one conversation engine for every platform.

It reads a :class:`Turn`, asks the brain what it means, moves the production through the
seed's eight states (only along the transitions in :data:`TRANSITIONS`), consults Chefs,
enqueues jobs and answers with :class:`Reply` values. Job events come back through
:meth:`Maestro.on_event`. It never blocks: heavy work is the queue's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from core import replies as say
from core.analysis import AnalysisReport
from core.brain import (
    Aspect,
    BpmChange,
    Brain,
    BrainContext,
    Domain,
    Feedback,
    Intent,
    Understanding,
)
from core.brief import (
    DESTINATIONS,
    Brief,
    Param,
    Provenance,
    VocalMode,
    VocalTreatment,
    Workflow,
)
from core.chef import Chef
from core.conversation import (
    Attachment,
    Author,
    Option,
    Question,
    QuestionReply,
    Reply,
    TextReply,
    Turn,
    utcnow,
)
from core.errors import (
    IllegalTransition,
    NothingProducedYet,
    QueueUnavailable,
    StepUnavailable,
    VersionNotFound,
    VykeError,
)
from core.genre import GenreProfile
from core.jobs import JobEvent, JobKind, JobQueue, JobRequest, JobStatus, job_id_for
from core.patch import SpecPatch, apply_patch
from core.planner import base_spec
from core.production import MaestroState, PendingJob, Production, RequestRecord, Version
from core.rate_limit import RateLimiter, server_of
from core.spec import ProductionSpec
from core.store import Store

if TYPE_CHECKING:
    from core.claude_chef import ClaudeChefAdvisor

__all__ = ["TRANSITIONS", "Maestro", "MaestroLimits", "production_dir_name"]

logger = logging.getLogger(__name__)

S = MaestroState
TRANSITIONS: dict[MaestroState, frozenset[MaestroState]] = {
    S.IDLE: frozenset({S.GATHERING_PARAMS, S.PLANNING}),
    S.GATHERING_PARAMS: frozenset({S.GATHERING_PARAMS, S.PLANNING, S.IDLE}),
    S.PLANNING: frozenset({S.CONSULTING, S.GATHERING_PARAMS, S.IDLE}),
    S.CONSULTING: frozenset({S.EXECUTING, S.REVIEWING, S.IDLE}),
    S.EXECUTING: frozenset({S.REVIEWING, S.GATHERING_PARAMS, S.IDLE}),
    S.REVIEWING: frozenset({S.ITERATING, S.COMPLETE, S.EXECUTING, S.IDLE}),
    S.ITERATING: frozenset({S.CONSULTING, S.REVIEWING, S.IDLE}),
    S.COMPLETE: frozenset({S.ITERATING, S.REVIEWING, S.IDLE}),
}
"""The legal moves of the state machine; anything else raises :class:`IllegalTransition`."""


class MaestroLimits:
    """Limits the Maestro enforces in the thread (from the settings)."""

    def __init__(self, *, max_upload_bytes: int, max_song_s: float, data_dir: str,
                 separation: dict[str, Any] | None = None, productions_per_person: int = 0,
                 productions_per_server: int = 0, turns_per_minute: int = 0,
                 server_turns_per_minute: int = 0) -> None:
        self.max_upload_bytes = max_upload_bytes
        self.max_song_s = max_song_s
        self.data_dir = data_dir
        self.separation = separation or {}
        self.productions_per_person = productions_per_person  #: working at once; 0 = no limit
        self.productions_per_server = productions_per_server  #: working at once; 0 = no limit
        self.turns_per_minute = turns_per_minute  #: messages per person; 0 = no limit
        self.server_turns_per_minute = server_turns_per_minute  #: per server; 0 = no limit


class Maestro:
    """Runs every production's conversation.

    Parameters
    ----------
    brain : Brain
        Understands messages (rules offline, Claude with a key).
    chefs : sequence of Chef
        One per domain; feedback is routed by :class:`core.brain.Domain`.
    genres : sequence of GenreProfile
        Genre knowledge, for suggestions and plans.
    store : Store
        Where productions live between turns (they survive restarts).
    queue : JobQueue
        Where heavy work goes.
    limits : MaestroLimits
        Upload size, song length, data directory.
    advisor : ClaudeChefAdvisor or None
        Lets Claude tune each rule Chef's patch inside the same typed bounds (rules on failure).
    """

    def __init__(self, *, brain: Brain, chefs: Sequence[Chef], genres: Sequence[GenreProfile],
                 store: Store, queue: JobQueue, limits: MaestroLimits,
                 advisor: ClaudeChefAdvisor | None = None,
                 page_link: Callable[[str, int], str | None] | None = None) -> None:
        self.brain = brain
        self.advisor = advisor
        #: (production id, version) -> a signed link to the version's page, when one is served
        self.page_link = page_link
        self.chefs = {chef.domain: chef for chef in chefs}
        self.genres = {g.id: g for g in genres}
        self.store = store
        self.queue = queue
        self.limits = limits
        self._person_rate = RateLimiter(limits.turns_per_minute)
        self._server_rate = RateLimiter(limits.server_turns_per_minute)
        # one turn or event at a time per production: each reads, awaits, then saves it
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, production_id: str) -> asyncio.Lock:
        lock = self._locks.get(production_id)
        if lock is None:
            lock = self._locks[production_id] = asyncio.Lock()
        return lock

    # --- entry points ----------------------------------------------------------------------

    async def handle(self, turn: Turn) -> list[Reply]:
        """Answer one turn; the production is saved before this returns.

        Over the per-person or per-server message rate, the turn is answered with one
        sentence and not processed (nothing changes, nothing is queued).
        """
        if not self._person_rate.allow(turn.author.id):
            return [TextReply(text=say.slow_down(yours=True))]
        if not self._server_rate.allow(server_of(turn.conversation_id)):
            return [TextReply(text=say.slow_down(yours=False))]
        async with self._lock(turn.conversation_id):
            return await self._handle_locked(turn)

    async def on_event(self, event: JobEvent) -> list[Reply]:
        """Answer a job event for its production; duplicates and strays yield nothing."""
        async with self._lock(event.production_id):
            return await self._on_event_locked(event)

    async def _handle_locked(self, turn: Turn) -> list[Reply]:
        production = await self.store.get(turn.conversation_id)
        if production is None:
            production = Production(id=turn.conversation_id, owner=turn.author.id)
        try:
            replies = await self._handle(production, turn)
        except VykeError as error:
            replies = [TextReply(text=str(error))]
        production.updated_at = utcnow()
        await self.store.put(production)
        return replies

    async def _on_event_locked(self, event: JobEvent) -> list[Reply]:
        production = await self.store.get(event.production_id)
        if production is None:
            return []
        pending = next((j for j in production.pending_jobs if j.job_id == event.job_id), None)
        if pending is None:
            return []  # already handled (at-least-once delivery) or cancelled
        replies: list[Reply]
        try:
            replies = await self._on_event(production, pending, event)
        except VykeError as error:
            replies = [TextReply(text=str(error))]
        production.updated_at = utcnow()
        await self.store.put(production)
        return replies

    # --- state machine ---------------------------------------------------------------------

    def _go(self, production: Production, target: MaestroState) -> None:
        if target not in TRANSITIONS[production.state]:
            raise IllegalTransition(production.state.value, target.value)
        logger.debug("%s: %s -> %s", production.id, production.state.value, target.value)
        production.trail.append(f"{production.state.value}->{target.value}")
        del production.trail[:-200]
        production.state = target

    # --- turns -----------------------------------------------------------------------------

    async def _handle(self, production: Production, turn: Turn) -> list[Reply]:
        if turn.press is not None:
            understanding = self._press(production, turn)
            if understanding is None:
                return [TextReply(text=say.stale_press())]
        else:
            understanding = await self.brain.understand(turn.text, context=self._context(production))
        record = RequestRecord(author=turn.author.id, author_name=turn.author.name,
                               text=turn.text or f"[pressed {turn.press.option_id if turn.press else ''}]",
                               intent=",".join(i.value for i in understanding.intents))
        production.history.append(record)
        if turn.text and turn.author.id not in production.levels:
            inferred = _infer_level(turn.text)  # remembered; "explain like a pro" overrides it
            if inferred:
                production.levels[turn.author.id] = inferred
        del production.history[:-500]
        audio = next((a for a in turn.attachments if _is_audio(a)), None)
        if turn.attachments and audio is None:
            return [TextReply(text=say.not_audio(turn.attachments[0].name))]
        u = understanding
        if turn.command is not None:
            u.workflow = _COMMAND_WORKFLOWS[turn.command]
            if Intent.REQUEST not in u.intents:
                u.intents.append(Intent.REQUEST)

        if u.has(Intent.HELP):
            return [TextReply(text=say.help_text(sorted(g.name for g in self.genres.values())))]
        if u.has(Intent.STATUS):
            return [TextReply(text=say.status(production))]
        if u.has(Intent.STOP):
            return await self._stop(production)
        if u.has(Intent.VERSIONS):
            return [TextReply(text=say.versions(production))]
        if u.has(Intent.START_OVER):
            return await self._start_over(production)
        if u.level is not None:
            production.levels[turn.author.id] = u.level
            if u.intents == [Intent.SET_LEVEL]:
                return [TextReply(text=say.level_set(u.level))]
        if u.has(Intent.REVERT) or u.has(Intent.COMPARE) or u.has(Intent.MERGE):
            replies = self._version_command(production, u, record)
            if u.has(Intent.COMPARE) and not u.has(Intent.REVERT) and not u.has(Intent.MERGE):
                replies += await self._compare_clips(production, u)
            return replies

        if audio is not None:
            error = self._accept_upload(production, audio)
            if error:
                return [TextReply(text=error)]

        if production.state in (S.IDLE, S.COMPLETE, S.REVIEWING) and u.has(Intent.REQUEST) \
                and not production.versions:
            return await self._start(production, u, turn.author)
        if production.state is S.IDLE and (audio is not None or production.brief.prompt):
            return await self._start(production, u, turn.author)
        if production.state is S.GATHERING_PARAMS:
            return await self._gather(production, u, turn.author)
        question = production.pending_question
        if question is not None and question.topic == "vote" and u.option_id is not None \
                and production.state in (S.REVIEWING, S.COMPLETE):
            return await self._vote(production, question, u.option_id, record)
        if production.state in (S.REVIEWING, S.COMPLETE) and u.feedback:
            return await self._iterate(production, u, turn.author, record)
        if production.state in (S.REVIEWING, S.COMPLETE) and (u.bpm or u.key):
            return await self._iterate(production, u, turn.author, record)
        if u.has(Intent.APPROVE) and production.state is S.REVIEWING:
            self._go(production, S.COMPLETE)
            return [TextReply(text=say.approved(production))]
        if production.state in (S.EXECUTING, S.PLANNING, S.CONSULTING, S.ITERATING):
            return [TextReply(text=say.busy(production))]
        if production.state is S.IDLE:
            return [TextReply(text=say.not_understood_idle())]
        return [TextReply(text=say.not_understood(production.state is S.COMPLETE))]

    def _context(self, production: Production) -> BrainContext:
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

    def _press(self, production: Production, turn: Turn) -> Understanding | None:
        """A button press as an understanding, or ``None`` when the question is not open."""
        assert turn.press is not None
        question = production.pending_question
        if question is None or question.id != turn.press.question_id:
            return None
        if turn.press.option_id not in {o.id for o in question.options}:
            return None
        return Understanding(intents=[Intent.ANSWER], option_id=turn.press.option_id)

    def _accept_upload(self, production: Production, audio: Attachment) -> str:
        if audio.size_bytes > self.limits.max_upload_bytes:
            return say.upload_too_large(audio, self.limits.max_upload_bytes)
        if production.versions and production.source is not None:
            # the versions were made from the first song: swapping it under them would leave
            # them without stems; a new song starts a new production
            return say.song_already_set(production, audio)
        production.source = audio
        production.analysis = None
        production.stems = {}
        return ""

    # --- start and gathering -------------------------------------------------------------

    async def _start(self, production: Production, u: Understanding, author: Author) -> list[Reply]:
        brief = production.brief if production.brief.prompt else Brief()
        if not brief.prompt:
            brief.prompt = production.history[-1].text if production.history else ""
        if u.workflow:
            brief.workflow = Param(value=u.workflow, source=Provenance.USER, author=author.id)
        if u.source_description:
            brief.source_description = u.source_description
        if u.genre:
            brief.genre = Param(value=u.genre, source=Provenance.USER, author=author.id)
            brief.genre_label = u.genre_label
        if brief.workflow is None:
            workflow = Workflow.REMIX if production.source else Workflow.TEXT_TO_TRACK
            brief.workflow = Param(value=workflow, source=Provenance.DEFAULT, confidence=0.5)
        production.brief = brief
        self._apply_params(production, u, author)
        production.owner = production.owner or author.id
        self._go(production, S.GATHERING_PARAMS)
        replies: list[Reply] = []
        needs_song = brief.workflow.value in (Workflow.REMIX, Workflow.REPRODUCE)
        if needs_song and production.source is None:
            production.awaiting = "song"
            return [TextReply(text=say.need_song(brief))]
        production.awaiting = ""
        if production.source is not None and production.analysis is None:
            replies += await self._enqueue(production, JobKind.ANALYZE, {
                "audio_path": production.source.path,
                "cache_dir": self._cache_dir(),
                "max_duration_s": self.limits.max_song_s,
                "max_size_bytes": self.limits.max_upload_bytes,
            }, required=False)
        replies += await self._next_question(production)
        return replies

    def _apply_params(self, production: Production, u: Understanding, author: Author) -> None:
        """Record what the director said in the brief, marking it as theirs."""
        brief = production.brief
        genre = self._genre(production)
        if u.key is not None:
            brief.key = Param(value=u.key, source=Provenance.USER, author=author.id)
        elif u.keep_key and production.analysis is not None:
            brief.key = Param(value=production.analysis.key.key, source=Provenance.USER,
                              author=author.id)
        if u.bpm is not None:
            base = brief.bpm.value if brief.bpm else genre.default_bpm
            source_bpm = production.analysis.tempo.bpm if production.analysis else None
            brief.bpm = Param(value=_resolve_bpm(u.bpm, base=base, source_bpm=source_bpm),
                              source=Provenance.USER, author=author.id)
        if u.vocal is not None:
            current = brief.vocal.value if brief.vocal else VocalTreatment()
            update = {k: v for k, v in u.vocal.model_dump().items() if v not in (None, [])}
            brief.vocal = Param(value=current.model_copy(update=update), source=Provenance.USER,
                                author=author.id)
        destination = DESTINATIONS.get(u.destination or "")
        if destination is not None:
            brief.destination = Param(value=destination, source=Provenance.USER, author=author.id)

    async def _gather(self, production: Production, u: Understanding, author: Author) -> list[Reply]:
        if production.awaiting == "song":
            if production.source is None:
                if u.genre or u.workflow:
                    return await self._start(production, u, author)
                return [TextReply(text=say.need_song(production.brief))]
            self._go(production, S.IDLE)
            return await self._start(production, u, author)
        question = production.pending_question
        if question is None:
            return await self._next_question(production)
        topic = question.topic
        if u.option_id == "other":
            return [TextReply(text=say.ask_free_text(topic))]
        answered = self._answer(production, question, u, author)
        if not answered:
            return [TextReply(text=say.did_not_catch()), QuestionReply(question=question)]
        production.pending_question = None
        production.asked.append(topic)
        replies: list[Reply] = [TextReply(text=say.recorded(production, topic))]
        separating = any(j.kind == JobKind.SEPARATE.value for j in production.pending_jobs)
        if "key_bpm" in production.asked and production.source is not None \
                and not production.stems and not separating and self._has_vocal(production):
            # from the key/tempo answer on; again on a later answer if the queue was down
            replies += await self._enqueue(production, JobKind.SEPARATE, {
                "audio_path": production.source.path,
                "cache_dir": self._cache_dir(),
                "out_dir": self._production_dir(production, "stems"),
                **self.limits.separation,
            }, required=False)
        replies += await self._next_question(production)
        return replies

    def _answer(self, production: Production, question: Question, u: Understanding,
                author: Author) -> bool:
        brief = production.brief
        genre = self._genre(production)
        if question.topic == "key_bpm":
            said = u.key is not None or u.bpm is not None or u.keep_key
            if u.option_id == "agree" or u.agree is True or said:
                if u.option_id == "agree" or u.agree:
                    # agreeing turns the suggestion into the director's choice
                    for name in ("key", "bpm"):
                        param = getattr(brief, name)
                        if param is not None and param.source is Provenance.SUGGESTED:
                            setattr(brief, name, param.model_copy(update={
                                "source": Provenance.USER, "author": author.id}))
                self._apply_params(production, u, author)
                return True
            if u.option_id == "keep" and production.analysis is not None:
                report = production.analysis
                brief.key = Param(value=report.key.key, source=Provenance.USER, author=author.id)
                brief.bpm = Param(value=round(report.tempo.bpm, 1), source=Provenance.USER,
                                  author=author.id)
                return True
            if u.option_id == "keep":
                brief.key = Param(value=genre.default_key, source=Provenance.DEFAULT, confidence=0.3)
                return True
            return False
        if question.topic == "vocal":
            mode = {"keep": VocalMode.KEEP_LYRICS, "chops": VocalMode.CHOPS,
                    "instrumental": VocalMode.INSTRUMENTAL}.get(u.option_id or "")
            if mode is not None:
                current = brief.vocal.value if brief.vocal else VocalTreatment()
                brief.vocal = Param(value=current.model_copy(update={"mode": mode}),
                                    source=Provenance.USER, author=author.id)
                return True
            if u.vocal is not None or u.agree is True:
                if u.vocal is None:
                    brief.vocal = Param(value=VocalTreatment(), source=Provenance.USER, author=author.id)
                self._apply_params(production, u, author)
                return True
            return False
        if question.topic == "genre":
            chosen = u.genre or (u.option_id if u.option_id in self.genres else None)
            if chosen:
                brief.genre = Param(value=chosen, source=Provenance.USER, author=author.id)
                brief.genre_label = brief.genre_label or self.genres[chosen].name
                return True
            return False
        return False

    async def _next_question(self, production: Production) -> list[Reply]:
        """Ask the next missing thing, one at a time; plan when nothing is missing."""
        brief = production.brief
        if brief.genre is None:
            return [self._ask(production, "genre", say.ask_genre(), [
                Option(id=g, label=self.genres[g].name) for g in list(self.genres)[:5]
            ] + [Option(id="other", label="Something else…")])]
        genre = self._genre(production)
        if brief.workflow is not None and brief.workflow.value is Workflow.REPRODUCE:
            # a reproduction takes the reference's key and tempo unless the director set them
            report = production.analysis
            if report is None:
                production.awaiting = "analysis"
                return [TextReply(text=say.waiting_for_reference())]
            if brief.key is None or brief.key.source is not Provenance.USER:
                brief.key = Param(value=report.key.key, source=Provenance.DETECTED,
                                  confidence=report.key.confidence)
            if brief.bpm is None or brief.bpm.source is not Provenance.USER:
                brief.bpm = Param(value=round(report.tempo.bpm, 1), source=Provenance.DETECTED,
                                  confidence=report.tempo.confidence)
            production.asked.append("key_bpm")
        if "key_bpm" not in production.asked and not (brief.is_settled("key") and brief.is_settled("bpm")):
            if brief.key is None:
                brief.key = Param(value=genre.default_key, source=Provenance.SUGGESTED,
                                  confidence=0.6, note=genre.mood)
            if brief.bpm is None:
                brief.bpm = Param(value=genre.default_bpm, source=Provenance.SUGGESTED,
                                  confidence=0.6, note=genre.mood)
            options = [Option(id="agree", label=f"Yes: {brief.key.value} at {brief.bpm.value:g} BPM",
                              suggested=True)]
            if production.source is not None:
                options.append(Option(id="keep", label="Keep the song's key and tempo"))
            options.append(Option(id="other", label="Something else…"))
            return [self._ask(production, "key_bpm", say.suggest_key_bpm(brief, genre), options)]
        if self._has_vocal(production) and "vocal" not in production.asked \
                and not brief.is_settled("vocal"):
            return [self._ask(production, "vocal", say.ask_vocal(production), [
                Option(id="keep", label="Keep the lyrics", suggested=True),
                Option(id="chops", label="Make chops"),
                Option(id="instrumental", label="Instrumental (drop the vocal)"),
            ])]
        return await self._plan(production)

    def _ask(self, production: Production, topic: str, text: str, options: list[Option]) -> Reply:
        production.question_seq += 1
        question = Question(id=f"q{production.question_seq}", text=text, options=options, topic=topic)
        production.pending_question = question
        return QuestionReply(question=question)

    # --- planning and executing ----------------------------------------------------------

    async def _plan(self, production: Production) -> list[Reply]:
        self._go(production, S.PLANNING)
        genre = self._genre(production)
        analysis = production.analysis
        spec = base_spec(
            production_id=production.id,
            brief=production.brief,
            genre=genre,
            source_key=analysis.key.key if analysis else None,
            source_tempo_bpm=analysis.tempo.bpm if analysis else None,
            stems=production.stems,
            reference=analysis,
        )
        self._go(production, S.CONSULTING)
        notes: list[str] = []
        consulted: list[str] = []
        for chef in self.chefs.values():
            patch = chef.plan(brief=production.brief, spec=spec, genre=genre)
            if patch is None:
                continue
            spec = apply_patch(spec, patch)
            consulted.append(chef.name)
            if patch.rationale:
                notes.append(patch.rationale)
        version = Version(number=len(production.versions) + 1, spec=spec,
                          author=production.owner)
        production.versions.append(version)
        production.current = version.number
        if production.history:
            production.history[-1].routed_to = consulted
            production.history[-1].version = version.number
        replies: list[Reply] = [TextReply(text=say.plan_summary(production, spec, consulted, notes))]
        replies += await self._render(production, version)
        return replies

    async def _render(self, production: Production, version: Version) -> list[Reply]:
        """Send ``version`` to rendering, or say plainly that this installation cannot."""
        self._go(production, S.EXECUTING)
        if not self.queue.supports(JobKind.RENDER):
            version.note = "not rendered: rendering is not available in this installation"
            self._go(production, S.REVIEWING)
            return [TextReply(text=str(StepUnavailable(
                "rendering the audio",
                detail="This build has no audio engine for mixing and mastering yet, so there "
                       "is no preview; nothing was faked.")))]
        if production.source is not None and self._has_vocal(production) and not production.stems:
            production.awaiting = "render"
            return [TextReply(text=say.waiting_for_stems())]
        production.awaiting = ""
        return await self._enqueue(production, JobKind.RENDER,
                                   self._render_payload(production, version),
                                   version=version.number, required=True)

    def _render_payload(self, production: Production, version: Version) -> dict[str, Any]:
        analysis = production.analysis
        reproduce = (production.brief.workflow is not None
                     and production.brief.workflow.value is Workflow.REPRODUCE)
        return {
            "spec": version.spec.model_dump(mode="json"),
            "stems": production.stems,
            "out_dir": self._production_dir(production, f"v{version.number}"),
            "cache_dir": self._cache_dir(),
            "source_downbeat_s": (analysis.downbeat_times_s[0]
                                  if analysis and analysis.downbeat_times_s else 0.0),
            "preview_max_bytes": upload_cap_bytes(production.id),
            "reference_tilt_db_per_oct": (analysis.spectral_tilt_db_per_oct
                                          if reproduce and analysis else None),
        }

    async def _enqueue(self, production: Production, kind: JobKind, payload: dict[str, Any], *,
                       version: int = 0, required: bool) -> list[Reply]:
        if not self.queue.supports(kind):
            if required:
                raise StepUnavailable(kind.value)
            return []
        if not production.pending_jobs:
            await self._check_capacity(production)
        attempt = str(sum(1 for r in production.history))
        request = JobRequest(job_id=job_id_for(production.id, version, kind, attempt=attempt),
                             production_id=production.id, kind=kind, version=version,
                             payload=payload)
        try:
            position = await self.queue.enqueue(request)
        except QueueUnavailable:
            self._not_started(production)
            raise
        production.pending_jobs.append(PendingJob(job_id=request.job_id, kind=kind.value,
                                                  version=version))
        return [say.progress_queued(request.job_id, kind, position)]

    async def _check_capacity(self, production: Production) -> None:
        """Refuse to start work past the per-person and per-server limits (nothing is lost)."""
        per_person, per_server = (self.limits.productions_per_person,
                                  self.limits.productions_per_server)
        refusal = ""
        if per_person and await self.store.busy(owner=production.owner,
                                                exclude=production.id) >= per_person:
            refusal = say.too_many_productions(per_person, yours=True)
        elif per_server and await self.store.busy(exclude=production.id) >= per_server:
            refusal = say.too_many_productions(per_server, yours=False)
        if refusal:
            self._not_started(production)
            raise VykeError(refusal)

    def _not_started(self, production: Production) -> None:
        """Work could not be queued: step back so saying the same again starts it."""
        if production.state is S.EXECUTING and not production.pending_jobs:
            self._go(production, S.REVIEWING)  # the version stays, unrendered
        elif production.state is S.GATHERING_PARAMS and not production.asked \
                and not production.pending_jobs:
            self._go(production, S.IDLE)  # the brief stays

    # --- iterating -----------------------------------------------------------------------

    async def _iterate(self, production: Production, u: Understanding, author: Author,
                       record: RequestRecord, *, vote: bool = True) -> list[Reply]:
        current = production.current_version
        if current is None:
            raise NothingProducedYet(wanted="change anything")
        self._go(production, S.ITERATING)
        requests = list(u.feedback)
        tempo = (_resolve_bpm(u.bpm, base=current.spec.tempo_bpm,
                              source_bpm=current.spec.source_tempo_bpm) if u.bpm else None)
        for item in requests:
            if item.aspect is Aspect.TEMPO and tempo is not None:
                item.amount = tempo
        if u.key is not None and not any(f.aspect is Aspect.KEY for f in requests):
            requests.append(Feedback(domain=Domain.GENRE, aspect=Aspect.KEY, direction="up",
                                     target=str(u.key), text=f"key {u.key}"))
        if tempo is not None and not any(f.aspect is Aspect.TEMPO for f in requests):
            requests.append(Feedback(domain=Domain.GENRE, aspect=Aspect.TEMPO, direction="up",
                                     amount=tempo, text=f"tempo {tempo:g} BPM"))
        self._go(production, S.CONSULTING)
        genre = self._genre(production)
        spec = current.spec
        patches: list[SpecPatch] = []
        for item in requests:
            chef = self.chefs.get(item.domain)
            if chef is None:
                continue
            patch = chef.consult(spec=spec, request=item, measurements=current.measurements,
                                 genre=genre)
            if self.advisor is not None:
                patch = await self.advisor.advise(chef=chef, request=item, spec=spec,
                                                  measurements=current.measurements,
                                                  rule_patch=patch)
            if not patch.ops:
                patches.append(patch)
                continue
            spec = apply_patch(spec, patch)
            patches.append(patch)
        record.routed_to = [p.chef for p in patches]
        applied = [p for p in patches if p.ops]
        if not applied:
            self._go(production, S.REVIEWING)
            return [TextReply(text=say.nothing_changed(patches))]
        first = _opposed_by(production, current, applied, author) if vote else None
        if first is not None:
            # two directors pull the same thing opposite ways: the thread chooses, no flip-flop
            self._go(production, S.REVIEWING)
            record.intent = ",".join(filter(None, [record.intent, "vote"]))
            assert current.patch is not None
            return [self._ask(production, "vote", say.vote_question(
                first_name=first, first_change=current.patch, second_name=author.name or author.id,
                second_change=_merge_patches(applied), version=current.number), [
                Option(id="keep", label=say.vote_keep_label(first)),
                Option(id="apply", label=say.vote_apply_label(author.name or author.id)),
            ])]
        production.pending_question = None  # a new version settles any open vote
        version = Version(number=len(production.versions) + 1, spec=spec, parent=current.number,
                          patch=_merge_patches(applied), author=author.id)
        production.versions.append(version)
        production.current = version.number
        record.version = version.number
        level = production.levels.get(author.id, "intermediate")
        replies: list[Reply] = [TextReply(text=say.change_summary(version, patches, level))]
        replies += await self._render(production, version)
        offers = [p.offer for p in applied if p.offer]
        if offers:
            replies.append(TextReply(text=offers[0]))
        return replies

    async def _vote(self, production: Production, question: Question, option_id: str,
                    record: RequestRecord) -> list[Reply]:
        """The thread's choice between two directors' opposite changes."""
        production.pending_question = None
        challenge = next((r for r in reversed(production.history)
                          if "vote" in r.intent.split(",")), None)
        current = production.current_version
        if option_id != "apply" or challenge is None or current is None:
            first = _author_name(production, current.author) if current else ""
            return [TextReply(text=say.vote_kept(first, production.current))]
        u = await self.brain.understand(challenge.text, context=self._context(production))
        author = Author(id=challenge.author, name=challenge.author_name)
        return await self._iterate(production, u, author, record, vote=False)

    # --- versions ------------------------------------------------------------------------

    def _version_command(self, production: Production, u: Understanding,
                         record: RequestRecord) -> list[Reply]:
        latest = len(production.versions)
        if not production.versions:
            raise NothingProducedYet(wanted="work with versions")
        for number in (u.versions or []) + list(u.merge.values()):
            if production.version(number) is None:
                raise VersionNotFound(number, latest=latest)
        if u.has(Intent.REVERT):
            number = u.versions[0] if u.versions else max(1, production.current - 1)
            production.current = number
            record.version = number
            return [TextReply(text=say.reverted(production, number))]
        if u.has(Intent.COMPARE):
            numbers = u.versions[:2] if len(u.versions) >= 2 else [production.current - 1, production.current]
            a, b = (production.version(n) for n in numbers)
            if a is None or b is None:
                raise VersionNotFound(min(numbers), latest=latest)
            return [TextReply(text=say.compare(a, b))]
        base = production.current_version or production.versions[-1]
        spec = base.spec.model_copy(deep=True)
        for role, number in u.merge.items():
            donor = production.version(number)
            assert donor is not None
            donor_tracks = {t.name: t for t in donor.spec.tracks if role in (t.name, t.role.value)}
            spec.tracks = [donor_tracks.get(t.name, t) for t in spec.tracks]
        version = Version(number=latest + 1, spec=ProductionSpec.model_validate(spec.model_dump()),
                          parent=base.number, author=record.author)
        production.versions.append(version)
        production.current = version.number
        record.version = version.number
        return [TextReply(text=say.merged(version, u.merge))]

    async def _compare_clips(self, production: Production, u: Understanding) -> list[Reply]:
        """Queue two loudness-matched clips of the same section, when both versions rendered."""
        numbers = (u.versions[:2] if len(u.versions) >= 2
                   else [production.current - 1, production.current])
        a, b = (production.version(n) for n in numbers)
        if a is None or b is None or not self.queue.supports(JobKind.COMPARE):
            return []
        if "master.wav" not in a.artifacts or "master.wav" not in b.artifacts:
            return [TextReply(text=say.compare_needs_renders(a, b))]
        section = next((f.section for f in u.feedback if f.section), "")
        return await self._enqueue(production, JobKind.COMPARE, {
            "a": {"version": a.number, "master": a.artifacts["master.wav"],
                  "spec": a.spec.model_dump(mode="json")},
            "b": {"version": b.number, "master": b.artifacts["master.wav"],
                  "spec": b.spec.model_dump(mode="json")},
            "section": section,
            "out_dir": self._production_dir(production, f"compare-v{a.number}-v{b.number}"),
        }, version=b.number, required=False)

    # --- control -------------------------------------------------------------------------

    async def _stop(self, production: Production) -> list[Reply]:
        cancelled = await self.queue.cancel(production.id)
        steps = [j.kind for j in production.pending_jobs if j.job_id in cancelled]
        production.pending_jobs = [j for j in production.pending_jobs if j.job_id not in cancelled]
        if production.state is S.EXECUTING:
            self._go(production, S.REVIEWING if production.versions else S.IDLE)
        return [TextReply(text=say.stopped(steps, production))]

    async def _start_over(self, production: Production) -> list[Reply]:
        await self.queue.cancel(production.id)
        production.pending_jobs = []
        production.pending_question = None
        production.asked = []
        production.brief = Brief()
        production.awaiting = ""
        if production.state is not S.IDLE:
            self._go(production, S.IDLE)
        return [TextReply(text=say.started_over(production))]

    # --- job events ----------------------------------------------------------------------

    async def _on_event(self, production: Production, pending: PendingJob,
                        event: JobEvent) -> list[Reply]:
        if event.status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.PROGRESS):
            pending.step = event.step or pending.step
            return [say.progress(event)]
        production.pending_jobs = [j for j in production.pending_jobs if j.job_id != event.job_id]
        replies: list[Reply] = [say.progress(event)]
        if event.status is JobStatus.CANCELLED:
            return replies
        if event.status is JobStatus.FAILED:
            return replies + await self._job_failed(production, event)
        kind = event.kind
        if kind is JobKind.ANALYZE:
            report = AnalysisReport.model_validate(event.result["report"])
            production.analysis = report  # informs the vocal question and the vocal shift
            replies.append(TextReply(text=say.analysed(report)))
            if production.awaiting == "analysis" and production.state is S.GATHERING_PARAMS:
                production.awaiting = ""  # a reproduction waited for the reference's numbers
                replies += await self._next_question(production)
        elif kind is JobKind.SEPARATE:
            production.stems = dict(event.result.get("stems", {}))
            production.stems_fallback = bool(event.result.get("fallback"))
            replies.append(TextReply(text=say.separated(production)))
            if production.awaiting == "render" and production.current_version is not None:
                version = production.current_version
                version.spec = version.spec.model_copy(update={"sources": production.stems})
                production.awaiting = ""
                if production.state is S.EXECUTING:
                    replies += await self._enqueue(production, JobKind.RENDER,
                                                   self._render_payload(production, version),
                                                   version=version.number, required=True)
        elif kind is JobKind.RENDER:
            rendered = production.version(event.version)
            if rendered is not None:
                rendered.rendered = True
                rendered.artifacts = {k: str(v) for k, v in event.result.get("artifacts", {}).items()}
                rendered.measurements = dict(event.result.get("measurements", {}))
                rendered.measurements["mismatches"] = list(event.result.get("mismatches", []))
            if production.state is S.EXECUTING:
                self._go(production, S.REVIEWING)
            previous = production.version(rendered.parent) if rendered and rendered.parent else None
            author = rendered.author if rendered else production.owner
            page = (self.page_link(production.id, rendered.number)
                    if self.page_link is not None and rendered is not None else None)
            replies += say.rendered(production, rendered, previous=previous,
                                    level=production.levels.get(author, "intermediate"),
                                    page_url=page)
            if rendered is not None:
                replies += await self._export(production, rendered)
        elif kind is JobKind.COMPARE:
            replies += say.comparison(event.result)
        elif kind is JobKind.EXPORT:
            exported = production.version(event.version)
            path = str(event.result.get("artifacts", {}).get("project.zip", ""))
            if exported is not None and path:
                exported.artifacts["project.zip"] = path
                replies += say.exported(exported, path, int(event.result.get("size_bytes", 0)))
        return replies

    async def _export(self, production: Production, version: Version) -> list[Reply]:
        """Make the version's project download (Live set, DAWproject, MIDI, stems) when possible."""
        render_dir = self._production_dir(production, f"v{version.number}")
        return await self._enqueue(production, JobKind.EXPORT, {
            "spec": version.spec.model_dump(mode="json"),
            "render_dir": render_dir,
            "out_dir": f"{render_dir}/export",
            "provenance": {"stems": production.stems,
                           "stems_model": "dsp-fallback" if production.stems_fallback else "demucs",
                           "source": production.source.name if production.source else None,
                           "patch": version.patch.describe() if version.patch else []},
        }, version=version.number, required=False)

    async def _job_failed(self, production: Production, event: JobEvent) -> list[Reply]:
        replies: list[Reply] = [TextReply(text=event.message or say.job_failed(event.kind))]
        if event.kind is JobKind.ANALYZE and production.state is S.GATHERING_PARAMS:
            production.source = None  # unusable; ask for another file, keep the brief
            production.awaiting = "song"
            production.pending_question = None
            replies.append(TextReply(text=say.send_another_file()))
        elif production.state is S.EXECUTING:
            self._go(production, S.REVIEWING)
        return replies

    # --- helpers -------------------------------------------------------------------------

    def _genre(self, production: Production) -> GenreProfile:
        genre_id = production.brief.genre.value if production.brief.genre else "house"
        return self.genres.get(genre_id) or next(iter(self.genres.values()))

    def _has_vocal(self, production: Production) -> bool:
        brief = production.brief
        if brief.workflow is None or brief.workflow.value is not Workflow.REMIX:
            return False
        return brief.vocal is None or brief.vocal.value.mode is not VocalMode.INSTRUMENTAL

    def _cache_dir(self) -> str:
        return f"{self.limits.data_dir}/cache"

    def _production_dir(self, production: Production, leaf: str) -> str:
        return f"{self.limits.data_dir}/productions/{production_dir_name(production.id)}/{leaf}"


_PRO_WORDS = re.compile(r"\b(lufs|dbtp|true[- ]peak|transients?|q of|ratio|attack|release|"
                        r"side-?chain(?:ed)? (?:release|attack)|multiband|stereo image|m/s|"
                        r"low[- ]shelf|high[- ]shelf|bus|\d+(?:\.\d+)? ?(?:db|hz|khz|ms))\b",
                        re.IGNORECASE)
_BEGINNER_WORDS = re.compile(r"\b(i'?m new|beginner|no idea|don'?t know (?:much|anything)|"
                             r"what(?:'s| is) (?:a |an )?(?:sidechain|lufs|eq|compressor)|"
                             r"make it sound (?:better|good|nice))\b", re.IGNORECASE)


def _infer_level(text: str) -> Literal["beginner", "pro"] | None:
    """A first guess at how technical to be with someone, from how they talk."""
    if _BEGINNER_WORDS.search(text):
        return "beginner"
    if len(_PRO_WORDS.findall(text)) >= 2:
        return "pro"
    return None


_COMMAND_WORKFLOWS = {
    "remix": Workflow.REMIX,
    "produce": Workflow.TEXT_TO_TRACK,
    "reproduce": Workflow.REPRODUCE,
}


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
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in identifier)[:120]


def _resolve_bpm(change: BpmChange, *, base: float, source_bpm: float | None) -> float:
    """The tempo a :class:`BpmChange` asks for, from ``base`` (clamped to 40–220 BPM)."""
    value = {
        "absolute": change.value,
        "relative": base + change.value,
        "half": base / 2,
        "double": base * 2,
        "keep": source_bpm or base,
    }[change.kind]
    return round(max(40.0, min(220.0, value)), 2)


def _is_audio(attachment: Attachment) -> bool:
    name = attachment.name.lower()
    return attachment.content_type.startswith("audio/") or name.endswith(
        (".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".aac", ".aif", ".aiff"))


def _effect_signs(patch: SpecPatch) -> dict[tuple[str, str], int]:
    """Which way each of a patch's expected effects goes: +1 up, -1 down."""
    signs: dict[tuple[str, str], int] = {}
    for effect in patch.expected:
        if effect.change:
            signs[(effect.metric, effect.track)] = 1 if effect.change > 0 else -1
        elif effect.direction in ("up", "down"):
            signs[(effect.metric, effect.track)] = 1 if effect.direction == "up" else -1
    return signs


def _author_name(production: Production, author_id: str) -> str:
    record = next((r for r in reversed(production.history) if r.author == author_id), None)
    return (record.author_name if record else "") or author_id


def _opposed_by(production: Production, current: Version, patches: list[SpecPatch],
                author: Author) -> str | None:
    """The name of the director whose change (the current version) ``patches`` would undo.

    Only when the current version is another director's requested change and the new request
    moves one of its measured targets (same metric, same track) the opposite way.
    """
    if current.patch is None or not current.author or current.author == author.id:
        return None
    before = _effect_signs(current.patch)
    after = _effect_signs(_merge_patches(patches))
    if any(key in before and before[key] == -sign for key, sign in after.items()):
        return _author_name(production, current.author)
    return None


def _merge_patches(patches: list[SpecPatch]) -> SpecPatch:
    if len(patches) == 1:
        return patches[0]
    return SpecPatch(
        chef=" + ".join(dict.fromkeys(p.chef for p in patches)),
        request="; ".join(p.request for p in patches if p.request),
        ops=[op for p in patches for op in p.ops],
        rationale=" ".join(p.rationale for p in patches if p.rationale),
        expected=[e for p in patches for e in p.expected],
        offer=next((p.offer for p in patches if p.offer), ""),
    )
