"""Version commands: revert, compare (numbers and loudness-matched clips) and merge."""

from __future__ import annotations

from core import replies as say
from core.brain import Intent, Understanding
from core.conversation import Reply, TextReply
from core.errors import NothingProducedYet, VersionNotFound, VykeError
from core.jobs import JobKind
from core.maestro.parts import Parts
from core.maestro.queueing import compare_request, enqueue, export_request
from core.production import Production, RequestRecord, Version
from core.spec import ProductionSpec

__all__ = ["compare_clips", "project_again", "version_command"]


def version_command(production: Production, u: Understanding,
                    record: RequestRecord) -> list[Reply]:
    """Revert to, compare or merge versions (each is data: nothing is re-rendered to revert)."""
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
        a, b = _pair(production, u)
        if a is None or b is None:
            numbers = _pair_numbers(production, u)
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


async def compare_clips(parts: Parts, production: Production, u: Understanding) -> list[Reply]:
    """Queue two loudness-matched clips of the same section, when both versions rendered."""
    a, b = _pair(production, u)
    if a is None or b is None or not parts.queue.supports(JobKind.COMPARE):
        return []
    if a.master_key is None or b.master_key is None:
        return [TextReply(text=say.compare_needs_renders(a, b))]
    section = next((f.section for f in u.feedback if f.section), "")
    return await enqueue(parts, production, JobKind.COMPARE,
                         compare_request(parts, production, a, b, section),
                         version=b.number, required=False)


async def project_again(parts: Parts, production: Production) -> list[Reply]:
    """Back on a version whose project zip a later version's replaced: build it again (from
    the version's tracks and master, which stay; nothing is rendered)."""
    version = production.current_version
    if (version is None or not version.rendered or "project.zip" in version.artifacts
            or not parts.queue.supports(JobKind.EXPORT)):
        return []
    try:
        return await enqueue(parts, production, JobKind.EXPORT,
                             export_request(parts, production, version),
                             version=version.number, required=False)
    except VykeError:  # no room in the queue now: the revert stands, the project waits
        return []


def _pair_numbers(production: Production, u: Understanding) -> list[int]:
    """The two versions to compare: the ones named, else the current one and its predecessor."""
    return u.versions[:2] if len(u.versions) >= 2 else [production.current - 1, production.current]


def _pair(production: Production, u: Understanding) -> tuple[Version | None, Version | None]:
    first, second = _pair_numbers(production, u)
    return production.version(first), production.version(second)
