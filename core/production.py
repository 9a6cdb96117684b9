"""A production: one per thread, holding the brief, the versions and who asked for what."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from core.analysis import AnalysisReport
from core.artifacts import is_key
from core.brain import Feedback, Understanding
from core.brief import Brief
from core.conversation import Attachment, Question, Reply, utcnow
from core.measurements import Measurements
from core.patch import SpecPatch
from core.spec import ProductionSpec

__all__ = [
    "MASTER_NAMES",
    "Awaiting",
    "Level",
    "MaestroState",
    "Outgoing",
    "PendingJob",
    "PendingVote",
    "Production",
    "QueuedRequest",
    "RequestRecord",
    "Topic",
    "Version",
]


class MaestroState(StrEnum):
    """The seed's eight states of a production's conversation."""

    IDLE = "idle"  #: nothing asked yet (or started over)
    GATHERING_PARAMS = "gathering_params"  #: asking clarifying questions
    PLANNING = "planning"  #: turning the brief into a first spec
    EXECUTING = "executing"  #: jobs running
    CONSULTING = "consulting"  #: a Chef is working out a change
    REVIEWING = "reviewing"  #: a version is out; waiting for the director's word
    ITERATING = "iterating"  #: applying a change to make the next version
    COMPLETE = "complete"  #: the director is happy


class Awaiting(StrEnum):
    """What a production in a state is waiting for before it can go on (a sub-state)."""

    NOTHING = ""  #: nothing: the state says all
    SONG = "song"  #: gathering: a remix or reproduction needs an upload first
    ANALYSIS = "analysis"  #: gathering: the song's numbers first (a reproduction's reference,
    #: a remix's key, which the suggested key sits near)
    RENDER = "render"  #: executing: the version waits for the stems before rendering


class Topic(StrEnum):
    """What an open question settles (a sub-state of gathering and reviewing)."""

    GENRE = "genre"
    KEY_BPM = "key_bpm"
    VOCAL = "vocal"
    VOTE = "vote"  #: two directors asked opposite changes; the thread chooses
    OFFER = "offer"  #: "can't do that yet; the closest is this — want it?"
    SOURCE_KEY = "source_key"  #: analysis is unsure of the song's key: which of two is it?
    SOURCE_TEMPO = "source_tempo"  #: analysis is unsure of the song's tempo octave


Level = Literal["beginner", "intermediate", "pro"]


def stored_only(files: object) -> object:
    """Only artifact keys: a production saved before files were stored by key named paths on
    one host, which no other process can read; such a file reads as not made (a version
    without files, a song to separate again) rather than as a path that breaks a job."""
    if isinstance(files, dict):
        return {name: key for name, key in files.items() if isinstance(key, str) and is_key(key)}
    return files


MASTER_NAMES = ("master.flac", "master.wav")
"""The names a version's master is stored under: 24-bit FLAC (lossless, about three quarters of
a WAV), or the 24-bit WAV of a version rendered before masters were kept as FLAC (or of one
louder than full scale, which FLAC would clip)."""


class Version(BaseModel):
    """One version: a spec, the patch that made it, and what rendering produced and measured."""

    number: int = Field(ge=1)
    spec: ProductionSpec
    parent: int | None = None
    patch: SpecPatch | None = None
    author: str = ""  #: who asked for it
    created_at: datetime = Field(default_factory=utcnow)
    rendered: bool = False
    #: name -> artifact key (``core.artifacts``); see :func:`stored_only`
    artifacts: Annotated[dict[str, str], BeforeValidator(stored_only)] = Field(
        default_factory=dict)
    measurements: Measurements = Field(default_factory=Measurements)
    note: str = ""  #: why it was not rendered, when it was not

    @property
    def master_key(self) -> str | None:
        """The artifact key of the version's master (:data:`MASTER_NAMES`), once rendered."""
        return next((self.artifacts[name] for name in MASTER_NAMES if name in self.artifacts),
                    None)


class RequestRecord(BaseModel):
    """Who asked for what, and where it went: the thread's memory of its directors."""

    author: str
    author_name: str = ""
    text: str
    at: datetime = Field(default_factory=utcnow)
    intent: str = ""
    routed_to: list[str] = Field(default_factory=list)  #: Chef names
    version: int | None = None  #: the version it produced


class PendingJob(BaseModel):
    """A job the production is waiting for."""

    job_id: str
    kind: str
    version: int = 0
    step: str = ""


class Outgoing(BaseModel):
    """A finished job's replies, kept until every one of them reached the thread.

    Saved with the state change the job made, so a post that fails (a rate limit, an upload
    timeout, a bot restart) is posted again from here, never lost and never posted twice.
    """

    job_id: str
    replies: list[Reply]
    posted: int = 0  #: how many of ``replies`` (in order) reached the platform


class QueuedRequest(BaseModel):
    """A change asked for while the production was busy, applied when it can be, in order."""

    author: str
    author_name: str = ""
    text: str
    understanding: Understanding  #: read once, when it was said


class PendingVote(BaseModel):
    """The change a vote would apply: exactly the patches shown in the question."""

    author: str  #: who asked for the change
    author_name: str = ""
    base_version: int = Field(ge=1)  #: the version the patches apply to
    patches: list[SpecPatch]  #: as the Chefs made them when the vote was asked


class Production(BaseModel):
    """Everything a thread's production is: state, brief, versions, history.

    Stored whole (as JSON) after every turn, so a restart of the bot between two turns
    loses nothing.
    """

    id: str  #: the conversation id of its thread
    owner: str = ""  #: author id of the person who started it
    state: MaestroState = MaestroState.IDLE
    brief: Brief = Field(default_factory=Brief)
    source: Attachment | None = None  #: the uploaded song or reference
    analysis: AnalysisReport | None = None
    #: stem name -> artifact key; see :func:`stored_only`
    stems: Annotated[dict[str, str], BeforeValidator(stored_only)] = Field(default_factory=dict)
    stems_fallback: bool = False
    versions: list[Version] = Field(default_factory=list)
    current: int = 0  #: version number the director is listening to (0 = none)
    pending_question: Question | None = None
    asked: list[str] = Field(default_factory=list)  #: question topics already asked
    pending_jobs: list[PendingJob] = Field(default_factory=list)
    #: changes asked for while a job ran or a question was open, applied after it, in order
    queued: list[QueuedRequest] = Field(default_factory=list)
    history: list[RequestRecord] = Field(default_factory=list)
    levels: dict[str, Level] = Field(default_factory=dict)  #: author id -> explanation level
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    question_seq: int = 0
    awaiting: Awaiting = Awaiting.NOTHING
    pending_vote: PendingVote | None = None  #: set while a vote question is open
    reasked: str = ""  #: id of the question already asked again once (never a third time)
    #: the closest possible change offered for something not possible yet, until answered
    pending_offer: list[Feedback] = Field(default_factory=list)
    outbox: list[Outgoing] = Field(default_factory=list)  #: results not yet all delivered
    trail: list[str] = Field(default_factory=list)  #: state transitions, "idle->gathering_params"

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    @property
    def current_version(self) -> Version | None:
        return self.version(self.current) if self.current else None

    def version(self, number: int) -> Version | None:
        return next((v for v in self.versions if v.number == number), None)
