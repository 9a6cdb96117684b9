"""Feedback on a version: Chefs patch the spec, a new version renders, or the thread votes."""

from __future__ import annotations

from core import replies as say
from core.brain import Aspect, Domain, Feedback, Intent, Understanding
from core.conversation import Author, Option, Question, Reply, TextReply
from core.errors import NothingProducedYet
from core.maestro.machine import go
from core.maestro.parts import Parts, ask, genre_of, resolve_bpm
from core.maestro.planning import render
from core.patch import SpecPatch, apply_patch
from core.production import (
    MaestroState,
    PendingVote,
    Production,
    QueuedRequest,
    RequestRecord,
    Topic,
    Version,
)
from core.spec import ProductionSpec

__all__ = ["apply_queued", "iterate", "merge_patches", "queue_request", "vote"]

S = MaestroState


async def iterate(parts: Parts, production: Production, u: Understanding, author: Author,
                  record: RequestRecord) -> list[Reply]:
    """Route each piece of feedback to its Chef; make, render and explain the next version.

    When the change would undo another director's change, the thread votes first and
    nothing changes until it has chosen.
    """
    current = production.current_version
    if current is None:
        raise NothingProducedYet(wanted="change anything")
    requests = list(u.feedback)
    tempo = (resolve_bpm(u.bpm, base=current.spec.tempo_bpm,
                         source_bpm=current.spec.source_tempo_bpm) if u.bpm else None)
    if tempo is not None and abs(tempo - current.spec.tempo_bpm) < 0.05:
        # already there: a version that changes nothing would be posted as a missed change
        requests = [f for f in requests if f.aspect is not Aspect.TEMPO]
        tempo = None
        if not requests and u.key is None:
            return [TextReply(text=say.already_at_tempo(current.spec.tempo_bpm,
                                                        current.number))]
    go(production, S.ITERATING)
    for item in requests:
        if item.aspect is Aspect.TEMPO and tempo is not None:
            item.amount = tempo
    if u.key is not None and not any(f.aspect is Aspect.KEY for f in requests):
        requests.append(Feedback(domain=Domain.GENRE, aspect=Aspect.KEY, direction="up",
                                 target=str(u.key), text=f"key {u.key}"))
    if tempo is not None and not any(f.aspect is Aspect.TEMPO for f in requests):
        requests.append(Feedback(domain=Domain.GENRE, aspect=Aspect.TEMPO, direction="up",
                                 amount=tempo, text=f"tempo {tempo:g} BPM"))
    go(production, S.CONSULTING)
    genre = genre_of(parts, production)
    spec = current.spec
    patches: list[SpecPatch] = []
    for item in requests:
        chef = parts.chefs.get(item.domain)
        if chef is None:
            continue
        patch = chef.consult(spec=spec, request=item, measurements=current.measurements,
                             genre=genre)
        if parts.advisor is not None:
            patch = await parts.advisor.advise(chef=chef, request=item, spec=spec,
                                               measurements=current.measurements,
                                               rule_patch=patch)
        if patch.ops:
            spec = apply_patch(spec, patch)
        patches.append(patch)
    record.routed_to = [p.chef for p in patches]
    applied = [p for p in patches if p.ops]
    if not applied:
        go(production, S.REVIEWING)
        return [TextReply(text=say.nothing_changed(patches))]
    first = _opposed_by(production, current, applied, author)
    if first is not None:
        # two directors pull the same thing opposite ways: the thread chooses, no flip-flop
        go(production, S.REVIEWING)
        assert current.patch is not None
        production.pending_vote = PendingVote(author=author.id, author_name=author.name,
                                              base_version=current.number, patches=applied)
        return [ask(production, Topic.VOTE, say.vote_question(
            first_name=first, first_change=current.patch, second_name=author.name or author.id,
            second_change=merge_patches(applied), version=current.number), [
            Option(id="keep", label=say.vote_keep_label(first)),
            Option(id="apply", label=say.vote_apply_label(author.name or author.id)),
        ])]
    return await _new_version(parts, production, current, spec, applied, patches, author,
                              record)


async def _new_version(parts: Parts, production: Production, current: Version,
                       spec: ProductionSpec, applied: list[SpecPatch], patches: list[SpecPatch],
                       author: Author, record: RequestRecord) -> list[Reply]:
    production.pending_question = None  # a new version settles any open vote
    production.pending_vote = None
    version = Version(number=len(production.versions) + 1, spec=spec, parent=current.number,
                      patch=merge_patches(applied), author=author.id)
    production.versions.append(version)
    production.current = version.number
    record.version = version.number
    level = production.levels.get(author.id, "intermediate")
    replies: list[Reply] = [TextReply(text=say.change_summary(version, patches, level))]
    replies += await render(parts, production, version)
    offers = [p.offer for p in applied if p.offer]
    if offers:
        replies.append(TextReply(text=offers[0]))
    return replies


async def vote(parts: Parts, production: Production, question: Question, option_id: str,
               record: RequestRecord) -> list[Reply]:
    """The thread's choice between two directors' opposite changes.

    "apply" applies exactly the patches the question showed, never a fresh reading of the
    request (a brain asked again could answer differently).
    """
    production.pending_question = None
    pending, production.pending_vote = production.pending_vote, None
    current = production.current_version
    if option_id != "apply" or pending is None or current is None \
            or current.number != pending.base_version:
        first = _author_name(production, current.author) if current else ""
        return [TextReply(text=say.vote_kept(first, production.current))]
    go(production, S.ITERATING)
    go(production, S.CONSULTING)
    spec = current.spec
    for patch in pending.patches:
        spec = apply_patch(spec, patch)
    record.routed_to = [p.chef for p in pending.patches]
    author = Author(id=pending.author, name=pending.author_name)
    return await _new_version(parts, production, current, spec, pending.patches,
                              pending.patches, author, record)


def queue_request(production: Production, u: Understanding, author: Author, text: str) -> str:
    """Keep a change asked for while the production is busy; the sentence that says so.

    Nothing a director says is dropped: the change is applied to the version being made as
    soon as it is out (:func:`apply_queued`), in the order it was asked.
    """
    production.queued.append(QueuedRequest(author=author.id, author_name=author.name, text=text,
                                           understanding=u))
    wanted = "; ".join(f.text for f in u.feedback if f.text) or text
    number = production.current or len(production.versions) + 1
    return say.noted(wanted, version=number, waiting=len(production.queued))


async def apply_queued(parts: Parts, production: Production) -> list[Reply]:
    """Apply every change kept while busy, together, as the next version (nothing if none)."""
    if not production.queued or production.state not in (S.REVIEWING, S.COMPLETE) \
            or production.current_version is None:
        return []
    queued, production.queued = production.queued, []
    merged = Understanding(intents=[Intent.FEEDBACK])
    for item in queued:
        merged.feedback += item.understanding.feedback
        merged.bpm = item.understanding.bpm or merged.bpm
        merged.key = item.understanding.key or merged.key
    first = queued[0]
    record = RequestRecord(author=first.author, author_name=first.author_name,
                           text=" / ".join(q.text for q in queued), intent="feedback")
    production.history.append(record)
    replies: list[Reply] = [TextReply(text=say.applying_queued([q.text for q in queued]))]
    return replies + await iterate(parts, production, merged,
                                   Author(id=first.author, name=first.author_name), record)


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
    after = _effect_signs(merge_patches(patches))
    if any(key in before and before[key] == -sign for key, sign in after.items()):
        return _author_name(production, current.author)
    return None


def merge_patches(patches: list[SpecPatch]) -> SpecPatch:
    """Several Chefs' patches for one message as one patch (one version, one change card)."""
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
