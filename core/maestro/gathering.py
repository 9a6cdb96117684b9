"""Starting a production and gathering what it needs, one question at a time."""

from __future__ import annotations

from core import replies as say
from core.analysis import ASK_BELOW_CONFIDENCE
from core.brain import Understanding
from core.brief import DESTINATIONS, Brief, Param, Provenance, VocalMode, VocalTreatment, Workflow
from core.conversation import Author, Option, Question, QuestionReply, Reply, TextReply
from core.jobs import JobKind
from core.maestro.iterating import queue_request
from core.maestro.machine import go
from core.maestro.parts import Parts, ask, genre_of, has_vocal, resolve_bpm
from core.maestro.planning import plan
from core.maestro.queueing import analyze_request, enqueue, separate_request
from core.music import Key
from core.production import Awaiting, MaestroState, Production, Topic

__all__ = ["apply_params", "gather", "next_question", "source_bpm",
           "source_key", "start"]

S = MaestroState


async def start(parts: Parts, production: Production, u: Understanding,
                author: Author) -> list[Reply]:
    """Begin (or restart) gathering: record the request, analyse the song, ask what's missing."""
    # a fresh brief keeps only the server's defaults (its loudness destination)
    brief = production.brief if production.brief.prompt else Brief(
        destination=production.brief.destination)
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
    apply_params(parts, production, u, author)
    production.owner = production.owner or author.id
    go(production, S.GATHERING_PARAMS)
    replies: list[Reply] = []
    needs_song = brief.workflow.value in (Workflow.REMIX, Workflow.REPRODUCE)
    if needs_song and production.source is None:
        production.awaiting = Awaiting.SONG
        return [TextReply(text=say.need_song(brief))]
    production.awaiting = Awaiting.NOTHING
    if production.source is not None and production.analysis is None:
        replies += await enqueue(parts, production, JobKind.ANALYZE,
                                 analyze_request(parts, production), required=False)
    replies += await next_question(parts, production)
    return replies


def apply_params(parts: Parts, production: Production, u: Understanding, author: Author) -> None:
    """Record what the director said in the brief, marking it as theirs."""
    brief = production.brief
    genre = genre_of(parts, production)
    if u.key is not None:
        brief.key = Param(value=u.key, source=Provenance.USER, author=author.id)
    elif u.keep_key and source_key(production) is not None:
        brief.key = Param(value=source_key(production), source=Provenance.USER,
                          author=author.id)
    if u.bpm is not None:
        base = brief.bpm.value if brief.bpm else genre.default_bpm
        brief.bpm = Param(value=resolve_bpm(u.bpm, base=base, source_bpm=source_bpm(production)),
                          source=Provenance.USER, author=author.id)
    if u.vocal is not None:
        current = brief.vocal.value if brief.vocal else VocalTreatment()
        update = {k: v for k, v in u.vocal.model_dump().items() if v not in (None, [])}
        brief.vocal = Param(value=current.model_copy(update=update), source=Provenance.USER,
                            author=author.id)
    destination = DESTINATIONS.get(u.destination or "")
    if destination is not None:
        brief.destination = Param(value=destination, source=Provenance.USER, author=author.id)


async def gather(parts: Parts, production: Production, u: Understanding,
                 author: Author) -> list[Reply]:
    """A message while gathering: the awaited song, an answer to the open question, or a nudge."""
    if production.awaiting is Awaiting.SONG:
        if production.source is None:
            if u.genre or u.workflow:
                return await start(parts, production, u, author)
            return [TextReply(text=say.need_song(production.brief))]
        go(production, S.IDLE)
        return await start(parts, production, u, author)
    question = production.pending_question
    if question is None:  # said while the song is analysed: kept, then the next question
        apply_params(parts, production, u, author)
        return await next_question(parts, production)
    topic = Topic(question.topic)
    if u.option_id == "other":
        return [TextReply(text=say.ask_free_text(topic))]
    if not _answer(parts, production, question, u, author):
        text = production.history[-1].text if production.history else ""
        if u.feedback:  # a change for later, said while a question is open: kept, not refused
            return [TextReply(text=queue_request(production, u, author, text)
                              + " " + say.still_asking(question))]
        if production.reasked == question.id:  # asked again once already: no third copy
            return [TextReply(text=say.still_asking(question))]
        production.reasked = question.id
        return [TextReply(text=say.did_not_catch()), QuestionReply(question=question)]
    production.pending_question = None
    production.asked.append(topic)
    replies: list[Reply] = [TextReply(text=say.recorded(production, topic))]
    separating = any(j.kind == JobKind.SEPARATE.value for j in production.pending_jobs)
    if Topic.KEY_BPM in production.asked and production.source is not None \
            and not production.stems and not separating and has_vocal(production):
        # from the key/tempo answer on; again on a later answer if the queue was down
        replies += await enqueue(parts, production, JobKind.SEPARATE,
                                 separate_request(parts, production), required=False)
    replies += await next_question(parts, production)
    return replies


def _answer(parts: Parts, production: Production, question: Question, u: Understanding,
            author: Author) -> bool:
    """Record ``u`` as the answer to ``question``; ``False`` when it does not answer it."""
    brief = production.brief
    genre = genre_of(parts, production)
    if question.topic == Topic.KEY_BPM:
        said = u.key is not None or u.bpm is not None or u.keep_key
        if u.option_id == "agree" or u.agree is True or said:
            if u.option_id == "agree" or u.agree or u.agree is None:
                # agreeing turns the suggestion into the director's choice; so does a partial
                # answer ("130 is fine" takes the suggested key, "yes but in G minor" the tempo)
                for name in ("key", "bpm"):
                    param = getattr(brief, name)
                    if param is not None and param.source is Provenance.SUGGESTED:
                        setattr(brief, name, param.model_copy(update={
                            "source": Provenance.USER, "author": author.id}))
            apply_params(parts, production, u, author)
            return True
        song_key, song_bpm = source_key(production), source_bpm(production)
        if u.option_id == "keep" and song_key is not None and song_bpm is not None:
            brief.key = Param(value=song_key, source=Provenance.USER, author=author.id)
            brief.bpm = Param(value=round(song_bpm, 1), source=Provenance.USER,
                              author=author.id)
            return True
        if u.option_id == "keep":
            brief.key = Param(value=genre.default_key, source=Provenance.DEFAULT, confidence=0.3)
            return True
        return False
    if question.topic == Topic.VOCAL:
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
            apply_params(parts, production, u, author)
            return True
        return False
    if question.topic in (Topic.SOURCE_KEY, Topic.SOURCE_TEMPO):
        return _answer_reading(production, question, u, author)
    if question.topic == Topic.GENRE:
        chosen = u.genre or (u.option_id if u.option_id in parts.genres else None)
        if chosen:
            brief.genre = Param(value=chosen, source=Provenance.USER, author=author.id)
            brief.genre_label = brief.genre_label or parts.genres[chosen].name
            return True
        return False
    return False


async def next_question(parts: Parts, production: Production) -> list[Reply]:
    """Ask the next missing thing, one at a time; plan when nothing is missing."""
    brief = production.brief
    if brief.genre is None:
        return [ask(production, Topic.GENRE, say.ask_genre(), [
            Option(id=g, label=parts.genres[g].name) for g in list(parts.genres)[:5]
        ] + [Option(id="other", label="Something else…")])]
    genre = genre_of(parts, production)
    unsure = _unsure_reading(production)
    if unsure is not None:
        return [unsure]
    if brief.workflow is not None and brief.workflow.value is Workflow.REPRODUCE:
        # a reproduction takes the reference's key and tempo unless the director set them
        report = production.analysis
        if report is None:
            production.awaiting = Awaiting.ANALYSIS
            return [TextReply(text=say.waiting_for_reference())]
        song_key, song_bpm = source_key(production), source_bpm(production)
        if song_key is not None and (brief.key is None or brief.key.source is not Provenance.USER):
            brief.key = Param(value=song_key, source=Provenance.DETECTED,
                              confidence=_confidence(brief.source_key, report.key.confidence))
        if song_bpm is not None and (brief.bpm is None or brief.bpm.source is not Provenance.USER):
            brief.bpm = Param(value=round(song_bpm, 1), source=Provenance.DETECTED,
                              confidence=_confidence(brief.source_bpm, report.tempo.confidence))
        production.asked.append(Topic.KEY_BPM)
    if Topic.KEY_BPM not in production.asked \
            and not (brief.is_settled("key") and brief.is_settled("bpm")):
        if brief.key is None and _analysing(production):
            # the suggested key is the genre's nearest to the song's own: heard first
            production.awaiting = Awaiting.ANALYSIS
            return [TextReply(text=say.listening_first())]
        if brief.key is None:
            song = source_key(production)
            brief.key = Param(value=genre.key_near(song), source=Provenance.SUGGESTED,
                              confidence=0.6, note=genre.mood)
        if brief.bpm is None:
            brief.bpm = Param(value=genre.default_bpm, source=Provenance.SUGGESTED,
                              confidence=0.6, note=genre.mood)
        options = [Option(id="agree", label=f"Yes: {brief.key.value} at {brief.bpm.value:g} BPM",
                          suggested=True)]
        if production.source is not None:
            options.append(Option(id="keep", label="Keep the song's key and tempo"))
        options.append(Option(id="other", label="Something else…"))
        return [ask(production, Topic.KEY_BPM,
                    say.suggest_key_bpm(brief, genre, song_key=source_key(production)), options)]
    if has_vocal(production) and Topic.VOCAL not in production.asked \
            and not brief.is_settled("vocal"):
        return [ask(production, Topic.VOCAL, say.ask_vocal(production), [
            Option(id="keep", label="Keep the lyrics", suggested=True),
            Option(id="chops", label="Make chops"),
            Option(id="instrumental", label="Instrumental (drop the vocal)"),
        ])]
    return await plan(parts, production)


def _analysing(production: Production) -> bool:
    """Whether the song's analysis is on its way (its key decides the suggestion)."""
    return production.source is not None and production.analysis is None and any(
        j.kind == JobKind.ANALYZE.value for j in production.pending_jobs)


def source_key(production: Production) -> Key | None:
    """The uploaded song's key: the director's word when they were asked, else analysis's."""
    if production.brief.source_key is not None:
        return production.brief.source_key.value
    return production.analysis.key.key if production.analysis is not None else None


def source_bpm(production: Production) -> float | None:
    """The uploaded song's tempo: the director's word when they were asked, else analysis's."""
    if production.brief.source_bpm is not None:
        return production.brief.source_bpm.value
    return production.analysis.tempo.bpm if production.analysis is not None else None


def _confidence(confirmed: Param[Key] | Param[float] | None, detected: float) -> float:
    return 1.0 if confirmed is not None else detected


def _unsure_reading(production: Production) -> Reply | None:
    """A question when analysis is unsure of the song's key or tempo octave, else ``None``.

    The song's key decides how far the vocal is shifted and its tempo how far everything is
    stretched: a wrong reading is heard in every version, so below the calibrated confidence
    (:data:`core.analysis.ASK_BELOW_CONFIDENCE`) the director picks between the two readings.
    Asked once each; the answer is recorded in the brief as the director's.
    """
    report = production.analysis
    brief = production.brief
    if report is None or production.source is None:
        return None
    reading = report.key
    if Topic.SOURCE_KEY not in production.asked and brief.source_key is None \
            and reading.runner_up is not None \
            and (reading.ambiguous or reading.confidence < ASK_BELOW_CONFIDENCE):
        first, second = reading.key, reading.runner_up
        return ask(production, Topic.SOURCE_KEY, say.ask_source_key(first, second), [
            Option(id="first", label=first.long_name, suggested=True),
            Option(id="second", label=second.long_name),
            Option(id="other", label="Something else…"),
        ])
    tempo = report.tempo
    if Topic.SOURCE_TEMPO not in production.asked and brief.source_bpm is None \
            and tempo.alternative_bpm is not None \
            and (tempo.ambiguous or tempo.confidence < ASK_BELOW_CONFIDENCE):
        first_bpm, second_bpm = round(tempo.bpm), round(tempo.alternative_bpm)
        return ask(production, Topic.SOURCE_TEMPO, say.ask_source_tempo(first_bpm, second_bpm), [
            Option(id="first", label=f"{first_bpm} BPM", suggested=True),
            Option(id="second", label=f"{second_bpm} BPM"),
            Option(id="other", label="Something else…"),
        ])
    return None


def _answer_reading(production: Production, question: Question, u: Understanding,
                    author: Author) -> bool:
    """The director's word on the song's key or tempo, recorded as theirs in the brief."""
    report = production.analysis
    brief = production.brief
    if report is None:
        return False
    if question.topic == Topic.SOURCE_KEY:
        chosen = {"first": report.key.key, "second": report.key.runner_up}.get(
            u.option_id or "", u.key)
        if chosen is None:
            return False
        brief.source_key = Param(value=chosen, source=Provenance.USER, author=author.id)
        return True
    chosen_bpm = {"first": report.tempo.bpm, "second": report.tempo.alternative_bpm}.get(
        u.option_id or "")
    if chosen_bpm is None and u.bpm is not None and u.bpm.kind == "absolute":
        chosen_bpm = u.bpm.value
    if chosen_bpm is None:
        return False
    brief.source_bpm = Param(value=round(chosen_bpm, 1), source=Provenance.USER, author=author.id)
    return True
