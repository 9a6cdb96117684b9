"""The Maestro: one conversation engine for every platform.

It reads a :class:`Turn`, asks the brain what it means, moves the production through the
seed's eight states (only along :data:`core.maestro.machine.TRANSITIONS`), consults Chefs,
enqueues jobs and answers with :class:`Reply` values. Job events come back through
:meth:`Maestro.on_event`. It never blocks: heavy work is the queue's.

The steps live in their own modules (gathering, planning, iterating, versions, events);
this one holds the entry points, the locks and the dispatch of a message by intent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core import replies as say
from core.artifacts import ArtifactStore, LocalArtifactStore
from core.brain import Brain, Domain, Intent, Understanding
from core.brief import DESTINATIONS, Param, Provenance, Workflow
from core.chef import Chef
from core.conversation import Attachment, Option, Reply, TextReply, Turn, utcnow
from core.errors import VykeError
from core.genre import GenreProfile
from core.jobs import JobEvent, JobQueue
from core.maestro import events
from core.maestro.control import AT_ONCE
from core.maestro.gathering import gather, start
from core.maestro.iterating import iterate, queue_request, vote
from core.maestro.machine import go
from core.maestro.parts import MaestroLimits, Parts, ask, brain_context, has_vocal
from core.maestro.versions import compare_clips, project_again, version_command
from core.not_yet import NotYet, not_yet_in
from core.production import (
    MaestroState,
    Outgoing,
    Production,
    RequestRecord,
    Topic,
)
from core.rate_limit import RateLimiter, server_of
from core.server_settings import ServerSettingsStore
from core.store import Store

if TYPE_CHECKING:
    from core.claude_chef import ClaudeChefAdvisor

__all__ = ["Maestro"]

logger = logging.getLogger(__name__)

S = MaestroState


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
    page_link : callable or None
        Makes a signed link to a version's page, when ``vyke web`` serves them.
    server_settings : ServerSettingsStore or None
        Each server's choices: who may answer questions, the loudness of new productions.
    artifacts : ArtifactStore or None
        Where uploads are stored for the workers; the local folder ``limits.data_dir`` when
        ``None`` (the embedded default).
    """

    def __init__(self, *, brain: Brain, chefs: Sequence[Chef], genres: Sequence[GenreProfile],
                 store: Store, queue: JobQueue, limits: MaestroLimits,
                 advisor: ClaudeChefAdvisor | None = None,
                 page_link: Callable[[str, int], str | None] | None = None,
                 server_settings: ServerSettingsStore | None = None,
                 artifacts: ArtifactStore | None = None) -> None:
        self.parts = Parts(brain=brain, chefs={chef.domain: chef for chef in chefs},
                           genres={g.id: g for g in genres}, store=store, queue=queue,
                           limits=limits, advisor=advisor, page_link=page_link,
                           server_settings=server_settings,
                           artifacts=artifacts or LocalArtifactStore(Path(limits.data_dir)))
        self._person_rate = RateLimiter(limits.turns_per_minute)
        self._server_rate = RateLimiter(limits.server_turns_per_minute)
        # one turn or event at a time per production: each reads, awaits, then saves it
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # the injected parts, by name, for the bot and the tests
    @property
    def brain(self) -> Brain:
        return self.parts.brain

    @property
    def store(self) -> Store:
        return self.parts.store

    @property
    def queue(self) -> JobQueue:
        return self.parts.queue

    @property
    def limits(self) -> MaestroLimits:
        return self.parts.limits

    @property
    def genres(self) -> dict[str, GenreProfile]:
        return self.parts.genres

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
            production = await self.store.get(turn.conversation_id)
            if turn.press is not None:
                refusal = await self._refuse_press(production, turn)
                if refusal is not None:
                    return [refusal]
            if production is None:
                production = await self._new_production(turn)
            try:
                await self.parts.store_upload(production)  # one saved before songs were stored
                replies = await self._handle(production, turn)
            except VykeError as error:
                replies = [TextReply(text=str(error))]
            production.updated_at = utcnow()
            await self.store.put(production)
            return replies

    async def check_press(self, turn: Turn) -> TextReply | None:
        """Whether a button press will be taken: ``None``, or the private sentence refusing it.

        Adapters call this before acknowledging a press, so a stale or foreign press is
        answered to the presser alone and changes nothing; :meth:`handle` checks again.
        """
        return await self._refuse_press(await self.store.get(turn.conversation_id), turn)

    async def _refuse_press(self, production: Production | None, turn: Turn) -> TextReply | None:
        assert turn.press is not None
        question = production.pending_question if production else None
        if production is None or question is None or question.id != turn.press.question_id \
                or turn.press.option_id not in {o.id for o in question.options}:
            return TextReply(text=say.stale_press(), private=True)
        settings = await self.parts.settings_of(turn.conversation_id)
        if settings.answerers == "owner" and turn.author.id != production.owner:
            platform = turn.conversation_id.partition(":")[0]
            return TextReply(text=say.owner_answers(production.owner, platform=platform),
                             private=True)
        return None

    async def _new_production(self, turn: Turn) -> Production:
        """A production for a new conversation, with its server's loudness destination."""
        production = Production(id=turn.conversation_id, owner=turn.author.id)
        destination = DESTINATIONS.get((await self.parts.settings_of(turn.conversation_id))
                                       .destination or "")
        if destination is not None:
            production.brief.destination = Param(value=destination, source=Provenance.DEFAULT,
                                                 note="server default")
        return production

    async def on_event(self, event: JobEvent) -> list[Reply]:
        """Answer a job event for its production; duplicates and strays yield nothing.

        Progress is a reply only: the production is stored when a job ends, not on every
        progress tick. A finished job's replies are stored with the change it made, in the
        production's outbox, until :meth:`posted` says each reached the thread; an event
        delivered again (its posting failed, the bot restarted) gets the replies not yet posted.
        """
        async with self._lock(event.production_id):
            production = await self.store.get(event.production_id)
            if production is None:
                return []
            if not any(j.job_id == event.job_id for j in production.pending_jobs):
                waiting = next((o for o in production.outbox if o.job_id == event.job_id), None)
                return list(waiting.replies[waiting.posted:]) if waiting else []
            if events.is_progress(event):
                return [say.progress(event)]
            try:
                replies = await events.on_finished(self.parts, production, event)
            except VykeError as error:
                replies = [TextReply(text=str(error))]
            production.outbox.append(Outgoing(job_id=event.job_id, replies=replies))
            production.updated_at = utcnow()
            await self.store.put(production)
            return replies

    async def posted(self, production_id: str, job_id: str) -> None:
        """One more of a finished job's replies reached the thread (they are posted in order)."""
        async with self._lock(production_id):
            production = await self.store.get(production_id)
            waiting = next((o for o in production.outbox if o.job_id == job_id),
                           None) if production else None
            if production is None or waiting is None:
                return
            waiting.posted += 1
            if waiting.posted >= len(waiting.replies):
                production.outbox.remove(waiting)
            await self.store.put(production)

    async def undelivered(self) -> list[tuple[str, str, list[Reply]]]:
        """Every finished job's replies not yet all posted: (production, job, replies left).

        The bot posts these when it starts, so a result whose posting failed before a restart
        still reaches its thread, even where the queue does not deliver events again.
        """
        found: list[tuple[str, str, list[Reply]]] = []
        for production_id in await self.store.with_outbox():
            production = await self.store.get(production_id)
            for waiting in production.outbox if production else []:
                found.append((production_id, waiting.job_id,
                              list(waiting.replies[waiting.posted:])))
        return found

    # --- turns -----------------------------------------------------------------------------

    async def _handle(self, production: Production, turn: Turn) -> list[Reply]:
        if turn.press is not None:  # checked open and allowed by handle()
            understanding = Understanding(intents=[Intent.ANSWER], option_id=turn.press.option_id)
        else:
            context = brain_context(production)
            if any(_is_audio(a) for a in turn.attachments):  # the song comes with these words
                context = context.model_copy(update={"has_song": True})
            understanding = await self.brain.understand(turn.text, context=context)
        record = RequestRecord(author=turn.author.id, author_name=turn.author.name,
                               text=turn.text or f"[pressed {turn.press.option_id if turn.press else ''}]",
                               intent=",".join(i.value for i in understanding.intents))
        production.history.append(record)
        del production.history[:-500]
        if turn.text and turn.author.id not in production.levels:
            inferred = _infer_level(turn.text)  # remembered; "explain like a pro" overrides it
            if inferred:
                production.levels[turn.author.id] = inferred
        audio = next((a for a in turn.attachments if _is_audio(a)), None)
        if turn.attachments and audio is None:
            return [TextReply(text=say.not_audio(turn.attachments[0].name))]
        u = understanding
        if turn.command is not None:
            u.workflow = _COMMAND_WORKFLOWS[turn.command]
            if Intent.REQUEST not in u.intents:
                u.intents.append(Intent.REQUEST)

        for intent, step in AT_ONCE.items():
            if u.has(intent):
                return await step(self.parts, production)
        if u.level is not None:
            production.levels[turn.author.id] = u.level
            if u.intents == [Intent.SET_LEVEL]:
                return [TextReply(text=say.level_set(u.level))]
        if u.has(Intent.REVERT) or u.has(Intent.COMPARE) or u.has(Intent.MERGE):
            replies = version_command(production, u, record)
            if u.has(Intent.COMPARE) and not u.has(Intent.REVERT) and not u.has(Intent.MERGE):
                replies += await compare_clips(self.parts, production, u)
            if u.has(Intent.REVERT):
                replies += await project_again(self.parts, production)
            return replies
        if audio is not None:
            error = self._accept_upload(production, audio)
            if error:
                return [TextReply(text=error)]
            await self.parts.store_upload(production)
        return await self._by_state(production, u, turn, record, has_audio=audio is not None)

    async def _by_state(self, production: Production, u: Understanding, turn: Turn,
                        record: RequestRecord, *, has_audio: bool) -> list[Reply]:
        """What a message means depends on where the production is."""
        state = production.state
        if state in (S.IDLE, S.COMPLETE, S.REVIEWING) and u.has(Intent.REQUEST) \
                and not production.versions:
            return await start(self.parts, production, u, turn.author)
        if state is S.IDLE and (has_audio or production.brief.prompt):
            return await start(self.parts, production, u, turn.author)
        if state is S.GATHERING_PARAMS:
            wish = not_yet_in(turn.text) if turn.text and u.has(Intent.UNKNOWN) else None
            if wish is not None:  # not an answer, not a change: a wish, named as such
                return [TextReply(text=say.not_yet(wish.wish, wish.closest, offer=False))]
            return await gather(self.parts, production, u, turn.author)
        question = production.pending_question
        if question is not None and question.topic == Topic.VOTE and u.option_id is not None \
                and state in (S.REVIEWING, S.COMPLETE):
            return await vote(self.parts, production, question, u.option_id, record)
        if question is not None and question.topic == Topic.OFFER \
                and (u.option_id is not None or u.agree is not None) and not u.feedback:
            return await self._take_offer(production, u, turn, record)
        wish = not_yet_in(turn.text) if turn.text else None
        if wish is not None and not u.feedback:
            return [self._offer(production, wish)]
        left_out = [TextReply(text=say.not_yet_left_out(wish.wish, wish.closest))] if wish else []
        if state in (S.REVIEWING, S.COMPLETE) and (u.feedback or u.bpm or u.key):
            return await iterate(self.parts, production, u, turn.author, record) + left_out
        if u.has(Intent.APPROVE) and state in (S.REVIEWING, S.COMPLETE):
            if state is S.REVIEWING:
                go(production, S.COMPLETE)
            return [TextReply(text=say.approved(production))]  # praised again: thanked again
        if state in (S.EXECUTING, S.PLANNING, S.CONSULTING, S.ITERATING):
            if u.feedback or u.bpm or u.key:  # a change while a version renders: kept for it
                return [TextReply(text=queue_request(production, u, turn.author, turn.text)),
                        *left_out]
            return [TextReply(text=say.busy(production))]
        if wish is not None:  # said with a change there is nothing yet to apply to
            return [self._offer(production, wish)]
        if _BARE_YES_NO.fullmatch(turn.text or ""):  # a yes or no to a question with options
            return [TextReply(text=say.question_open(question) if question is not None
                              else say.nothing_to_answer(production))]
        if state is S.IDLE:
            return [TextReply(text=say.not_understood_idle())]
        return [TextReply(text=say.not_understood(state is S.COMPLETE))]

    def _offer(self, production: Production, wish: NotYet) -> Reply:
        """Say a wish is not possible yet, and offer the closest change when there is a version.

        A vocal alternative is offered only where there is a vocal to change: offering chops
        on an instrumental would promise what "yes" cannot deliver.
        """
        if production.state not in (S.REVIEWING, S.COMPLETE) or not production.versions:
            return TextReply(text=say.not_yet(wish.wish, wish.closest, offer=False))
        possible = [f for f in wish.alternatives
                    if has_vocal(production) or f.domain is not Domain.VOCAL]
        if not possible:
            return TextReply(text=say.not_yet_no_vocal(wish.wish))
        production.pending_offer = possible
        return ask(production, Topic.OFFER, say.not_yet(wish.wish, wish.closest, offer=True), [
            Option(id="yes", label="Yes, do that", suggested=True),
            Option(id="no", label="No thanks")])

    async def _take_offer(self, production: Production, u: Understanding, turn: Turn,
                          record: RequestRecord) -> list[Reply]:
        offered, production.pending_offer = production.pending_offer, []
        production.pending_question = None
        if u.option_id == "no" or u.agree is False or not offered:
            return [TextReply(text=say.offer_declined())]
        wanted = Understanding(intents=[Intent.FEEDBACK], feedback=offered)
        return await iterate(self.parts, production, wanted, turn.author, record)

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


_BARE_YES_NO = re.compile(r"\W*(?:yes|yeah|yep|yup|ok(?:ay)?|sure|cool|no|nope|nah)\W*"
                          r"(?:(?:sounds good|go(?: for it)?|thanks|thx|please)\W*)?",
                          re.IGNORECASE)
"""A yes or no with no question open: answered as that, not as a change not understood."""

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


def _is_audio(attachment: Attachment) -> bool:
    name = attachment.name.lower()
    return attachment.content_type.startswith("audio/") or name.endswith(
        (".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".aac", ".aif", ".aiff"))
