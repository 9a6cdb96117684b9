"""The job queue as the Maestro sees it: typed requests in, typed events out.

Two implementations sit behind :class:`JobQueue`: the inline queue (a process pool inside
the bot, the embedded default, in ``bot/inline_queue.py``) and arq on Redis (its own
module). Job functions live in ``jobs/`` and are registered by name in ``jobs.tasks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.analysis import AnalysisReport
from core.artifacts import is_key
from core.measurements import ExportCheck, Measurements
from core.spec import ProductionSpec

__all__ = [
    "AnalyzeRequest",
    "AnalyzeResult",
    "ArtifactKey",
    "ArtifactKeys",
    "ClipResult",
    "ClipSide",
    "CompareRequest",
    "CompareResult",
    "ExportProvenance",
    "ExportRequest",
    "ExportResult",
    "JobEvent",
    "JobKind",
    "JobPayload",
    "JobQueue",
    "JobRequest",
    "JobResult",
    "JobStatus",
    "ProgressFn",
    "RedisKeys",
    "RenderRequest",
    "RenderResult",
    "SampleSources",
    "SectionRequest",
    "SectionResult",
    "SeparateRequest",
    "SeparateResult",
    "job_id_for",
    "payload_of",
    "queue_for",
    "result_of",
]


class JobKind(StrEnum):
    """The steps heavy work is split into; each runs on a worker."""

    ANALYZE = "analyze"  #: intake checks + tempo, key, loudness, bar grid
    SEPARATE = "separate"  #: stems with Demucs (GPU-capable queue)
    RENDER = "render"  #: spec -> stems, mix, master, preview, picture
    EXPORT = "export"  #: spec + renders -> Live set, DAWproject, MIDI, zip
    COMPARE = "compare"  #: two renders -> the same section of each, loudness-matched
    PREVIEW = "preview"  #: a change's section, mixed and mastered ahead of the full render


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  #: accepted, waiting at ``position``
    STARTED = "started"  #: a worker picked it up
    PROGRESS = "progress"  #: a step reported ``fraction`` done
    DONE = "done"  #: finished; ``result`` holds its data
    FAILED = "failed"  #: failed; ``message`` is the sentence for the thread
    CANCELLED = "cancelled"  #: stopped at the director's request


ProgressFn = Callable[[float, str], None]
"""Called by a job with the fraction done (0–1) and the current step's name."""


def job_id_for(production_id: str, version: int, kind: JobKind, *, attempt: str = "") -> str:
    """A job id derived from (production, version, step): enqueueing the same work twice is a no-op.

    ``attempt`` distinguishes a deliberate re-run (after a cancel, say) of the same step.
    """
    digest = hashlib.sha256(f"{production_id}|{version}|{kind}|{attempt}".encode()).hexdigest()
    return f"{kind}-v{version}-{digest[:16]}"


# --- what each job needs (the Maestro builds these; ``jobs/`` runs them) -------------------
# Files travel as artifact keys (``core.artifacts``), never paths: the bot, the workers and the
# web process share no disk, and a worker fetches its inputs from the artifact store and
# publishes its outputs there. Where a job writes and caches is the worker's own business
# (its data and cache folders). ``extra="ignore"`` lets a worker one release behind the bot
# still take a request with a field it lacks.


def _key_or_empty(value: str) -> str:
    if value and not is_key(value):
        raise ValueError(f"an artifact key is expected, not {value!r}")
    return value


def _keys(values: dict[str, str]) -> dict[str, str]:
    for value in values.values():
        _key_or_empty(value)
    return values


ArtifactKey = Annotated[str, AfterValidator(_key_or_empty)]
"""An artifact key (``blobs/ab/ab12…<suffix>``), or empty where there is no file."""

ArtifactKeys = Annotated[dict[str, str], AfterValidator(_keys)]
"""Artifact keys by name (stem name, file name)."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AnalyzeRequest(_Payload):
    """An analysis job: the upload and the intake limits."""

    job: Literal["analyze"] = "analyze"
    audio: ArtifactKey  #: the uploaded song
    name: str = ""  #: its file name as uploaded, for the thread's sentences
    max_duration_s: float = Field(gt=0)
    max_size_bytes: int = Field(gt=0)


class SeparateRequest(_Payload):
    """A separation job; the Demucs settings have Demucs' own defaults. The model's weights and
    the device are the separating host's own (``VYKE_DEMUCS_WEIGHTS_DIR``, ``VYKE_DEVICE``)."""

    job: Literal["separate"] = "separate"
    audio: ArtifactKey  #: the uploaded song
    name: str = ""  #: its file name as uploaded, for the thread's sentences
    model: Literal["htdemucs", "htdemucs_ft", "hdemucs_mmi", "demucs_unittest"] = "htdemucs"
    segment_s: float | None = Field(default=None, gt=0, le=60)
    overlap: float = Field(default=0.25, ge=0, lt=1)
    shifts: int = Field(default=1, ge=0, le=10)
    max_duration_s: float = Field(default=15 * 60.0, gt=0)
    max_size_bytes: int = Field(default=500 * 1024 * 1024, gt=0)


class SampleSources(BaseModel):
    """Where a render may find recorded instruments (the settings decide; the worker looks).

    With neither, every drum and percussion hit is the synthesised vault's.
    """

    library: bool = False  #: free libraries the system installed (Hydrogen kits, GM SoundFonts)
    #: the director's own Sound Vault folder on the rendering host: never sent by the bot (a
    #: payload carries no paths); each render worker fills in its own ``VYKE_SAMPLES_DIR``
    vault_dir: str | None = None


class RenderRequest(_Payload):
    """A render job: the spec and the stems it uses."""

    job: Literal["render"] = "render"
    spec: ProductionSpec
    stems: ArtifactKeys = Field(default_factory=dict)  #: stem name -> FLAC (or WAV) key
    source_downbeat_s: float = Field(default=0.0, ge=0)  #: the song's first downbeat
    preview_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)  #: the platform's upload cap
    reference_tilt_db_per_oct: float | None = None  #: match this tonal balance (reproduce)
    samples: SampleSources = Field(default_factory=SampleSources)  #: recorded instruments


class ExportProvenance(BaseModel):
    """Where a project came from, written into its ``manifest.json`` and README."""

    stems: dict[str, str] = Field(default_factory=dict)  #: stem name -> artifact key
    stems_model: str = ""  #: ``demucs`` or ``dsp-fallback``
    source: str | None = None  #: the uploaded song's file name
    patch: list[str] = Field(default_factory=list)  #: the change that made this version


class ExportRequest(_Payload):
    """An export job: the spec, the version's rendered files, provenance."""

    job: Literal["export"] = "export"
    spec: ProductionSpec
    #: the render's files by name (``master.flac``, ``tracks/<track>.flac``, ``samples.json``)
    rendered: ArtifactKeys = Field(default_factory=dict)
    provenance: ExportProvenance = Field(default_factory=ExportProvenance)
    #: other versions' project zips this one replaces (their keys): the production forgets
    #: them once this one is stored (a production keeps one zip; the others are rebuilt from
    #: their versions' parts on request)
    replaces: list[ArtifactKey] = Field(default_factory=list)


class ClipSide(BaseModel):
    """One version to cut a comparison clip from."""

    version: int = Field(ge=1)
    master: ArtifactKey  #: the version's master (FLAC, or the WAV of an older version)
    spec: ProductionSpec


class CompareRequest(_Payload):
    """Two rendered versions, the section to play and where the clips go."""

    job: Literal["compare"] = "compare"
    a: ClipSide
    b: ClipSide
    section: str = ""  #: a section name or kind; empty: the first drop (else the loudest part)


class SectionRequest(_Payload):
    """The bars where a change is heard, before the whole version: ``render`` is the version's
    own render request, so the chains this job runs are the full render's, cached for it."""

    job: Literal["preview"] = "preview"
    render: RenderRequest
    start_bar: int = Field(ge=1)
    end_bar: int = Field(ge=1)
    label: str = ""  #: what the bars are ("the drop", "bars 33–48")
    parent: int = Field(default=0, ge=0)  #: the version the clip is level-matched to
    match_master: ArtifactKey = ""  #: that version's master: the clip gets its loudness there
    tonal_eq_db: dict[str, float] = Field(default_factory=dict)  #: that version's tonal stage


JobPayload = Annotated[
    AnalyzeRequest | SeparateRequest | RenderRequest | ExportRequest | CompareRequest
    | SectionRequest,
    Field(discriminator="job"),
]
"""What any job needs; ``job`` names the kind, so a payload cannot reach the wrong task."""


# --- what each job returns (``JobEvent.result`` on the wire; read through these) -----------


class AnalyzeResult(BaseModel):
    """An analysis: the report, and whether it came from the cache."""

    report: AnalysisReport
    cached: bool = False


class SeparateResult(BaseModel):
    """Four stems, published to the artifact store."""

    stems: ArtifactKeys  #: stem name -> WAV artifact key
    model: str
    fallback: bool = False  #: the DSP fallback ran: rough stems, and the thread is told
    cached: bool = False


class RenderResult(BaseModel):
    """A rendered version: its files, what it measured, and how it missed its spec."""

    #: file name -> artifact key: ``master.flac`` (``master.wav`` past full scale),
    #: ``preview.mp3``, ``arrangement.png``, ``tonal.png``, ``samples.json`` and each track's
    #: ``tracks/<name>`` (FLAC, or a float WAV past full scale)
    artifacts: ArtifactKeys = Field(default_factory=dict)
    measurements: Measurements = Field(default_factory=Measurements)
    mismatches: list[str] = Field(default_factory=list)  #: sentences for the thread
    cache: dict[str, list[str]] = Field(default_factory=dict)
    duration_s: float = 0.0


class ExportResult(BaseModel):
    """A project zip and the checker's verdicts."""

    artifacts: ArtifactKeys = Field(default_factory=dict)  #: ``project.zip`` -> artifact key
    checks: list[ExportCheck] = Field(default_factory=list)
    size_bytes: int = 0
    skipped: list[str] = Field(default_factory=list)


class ClipResult(BaseModel):
    """One loudness-matched comparison clip."""

    version: int
    key: ArtifactKey  #: the MP3 clip
    name: str = ""  #: its file name, for the thread
    gain_db: float = 0.0  #: applied to match the other clip's loudness
    lufs: float | None = None
    start_s: float = 0.0
    end_s: float = 0.0


class CompareResult(BaseModel):
    """The same section of two versions, matched to equal loudness."""

    clips: list[ClipResult] = Field(default_factory=list)
    section: str = ""


class SectionResult(BaseModel):
    """A changed section's clip, at the loudness the same bars have in the version before."""

    key: ArtifactKey  #: the MP3 clip
    start_bar: int
    end_bar: int
    label: str = ""
    parent: int = 0
    lufs: float | None = None


JobResult = (AnalyzeResult | SeparateResult | RenderResult | ExportResult | CompareResult
             | SectionResult)
"""What a finished job returns; the event's ``kind`` says which."""

RESULTS: dict[JobKind, type[JobResult]] = {
    JobKind.ANALYZE: AnalyzeResult,
    JobKind.SEPARATE: SeparateResult,
    JobKind.RENDER: RenderResult,
    JobKind.EXPORT: ExportResult,
    JobKind.COMPARE: CompareResult,
    JobKind.PREVIEW: SectionResult,
}
"""The result model of each job kind."""


class JobRequest(BaseModel):
    """One unit of heavy work for a worker, with the typed payload of its kind."""

    job_id: str
    production_id: str
    kind: JobKind
    version: int = Field(default=0, ge=0)
    payload: JobPayload

    @model_validator(mode="before")
    @classmethod
    def _payload_kind(cls, data: Any) -> Any:
        """A payload given as a mapping takes its discriminator from ``kind``."""
        if isinstance(data, dict) and isinstance(data.get("payload"), dict) \
                and "job" not in data["payload"] and data.get("kind") is not None:
            data = {**data, "payload": {**data["payload"], "job": str(data["kind"])}}
        return data

    @model_validator(mode="after")
    def _kind_matches(self) -> JobRequest:
        if self.payload.job != self.kind.value:
            raise ValueError(f"a {self.kind.value} job cannot carry a {self.payload.job} payload")
        return self


_P = TypeVar("_P", bound=_Payload)
_R = TypeVar("_R", bound=BaseModel)


def payload_of(request: JobRequest, model: type[_P]) -> _P:
    """``request``'s payload as ``model``; a task handed another kind's payload refuses it."""
    if not isinstance(request.payload, model):
        raise TypeError(f"{model.__name__} expected, got {type(request.payload).__name__}")
    return request.payload


def result_of(event: JobEvent, model: type[_R]) -> _R:
    """``event``'s result as ``model``; an event of another kind's result is refused.

    An event that finished without a result reads as an empty one (a model with required
    fields refuses that).
    """
    if event.result is None:
        return model.model_validate({})
    if not isinstance(event.result, model):
        raise TypeError(f"{model.__name__} expected, got {type(event.result).__name__}")
    return event.result


class JobEvent(BaseModel):
    """What a worker reports about a job, in order, for the thread the job belongs to."""

    job_id: str
    production_id: str
    kind: JobKind
    status: JobStatus
    version: int = 0
    fraction: float | None = Field(default=None, ge=0, le=1)
    step: str = ""
    position: int | None = None  #: queue position when ``QUEUED`` (1 = next)
    eta_s: float | None = None
    message: str = ""  #: user-facing sentence when ``FAILED`` or ``CANCELLED``
    result: JobResult | None = None  #: when ``DONE``: the result model of ``kind``
    receipt: str = ""  #: set by the queue on delivery (a stream entry id); ``ack`` uses it

    @model_validator(mode="before")
    @classmethod
    def _result_kind(cls, data: Any) -> Any:
        """A result given as a mapping (a job function's return, the wire) is read as its kind's.

        An empty mapping is no result (a progress or failure event).
        """
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            raw, kind = data["result"], data.get("kind")
            result = RESULTS[JobKind(kind)].model_validate(raw) if raw and kind is not None \
                else None
            data = {**data, "result": result}
        return data

    @property
    def finished(self) -> bool:
        """Whether the job ended (done, failed or stopped): its replies must all be delivered."""
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class JobQueue(Protocol):
    """Runs heavy work off the bot's event loop and reports back through :meth:`events`."""

    async def start(self) -> None:
        """Connect and start delivering events."""

    async def close(self) -> None:
        """Stop accepting work and release resources; running jobs are cancelled."""

    def supports(self, kind: JobKind) -> bool:
        """Whether this installation can run jobs of ``kind``."""

    async def enqueue(self, request: JobRequest) -> int:
        """Queue ``request``; returns its queue position. A duplicate ``job_id`` is a no-op.

        Raises :class:`core.errors.QueueUnavailable` when the queue cannot be reached.
        """

    async def cancel(self, production_id: str) -> list[str]:
        """Cancel the queued and running jobs of a production; returns the cancelled ids."""

    def events(self) -> AsyncIterator[JobEvent]:
        """Job events, each delivered until :meth:`ack` is called for it."""

    async def ack(self, event: JobEvent) -> None:
        """Acknowledge an event once its reply has been posted."""


QUEUES: dict[str, frozenset[JobKind]] = {
    "separate": frozenset({JobKind.SEPARATE}),
    "render": frozenset({JobKind.ANALYZE, JobKind.RENDER, JobKind.EXPORT, JobKind.COMPARE,
                         JobKind.PREVIEW}),
}
"""Worker queues by name: ``separate`` wants a GPU, ``render`` (render, export, analysis) a CPU."""


def queue_for(kind: JobKind) -> str:
    """The queue a job kind runs on (``render`` for any kind not named elsewhere)."""
    return next((name for name, kinds in QUEUES.items() if kind in kinds), "render")


class RedisKeys:
    """Key names the bot and the workers share on Redis (arq's own keys are arq's)."""

    PREFIX = "vyke"
    GROUP = "vyke-bot"  #: the bots' consumer group on each platform's event stream
    KINDS = "vyke:kinds"  #: set of job kinds some worker has offered
    DURATIONS = "vyke:durations"  #: hash kind -> typical run time (s), for ETAs
    RUNNING = "vyke:running"  #: hash job id -> worker name, while a worker runs it
    EVENTS_MAXLEN = 100_000  #: the stream is trimmed (approximately) to this many entries

    @staticmethod
    def events(platform: str) -> str:
        """The stream of :class:`JobEvent` (field ``event``) for one platform's bot.

        One stream per platform, so a Discord bot, a Slack bot and a terminal sharing a Redis
        each read only their own productions' results (a production id starts with its
        platform: ``discord:…``, ``slack:…``, ``local:…``).
        """
        return f"vyke:events:{platform}"

    @staticmethod
    def events_of(production_id: str) -> str:
        """The event stream a production's events go to."""
        platform, sep, _ = production_id.partition(":")
        return RedisKeys.events(platform if sep and platform else "local")

    @staticmethod
    def queue(name: str) -> str:
        """The arq queue (a sorted set) of a worker queue name."""
        return f"vyke:queue:{name}"

    @staticmethod
    def worker(name: str) -> str:
        """A worker's heartbeat key; it expires when the worker dies."""
        return f"vyke:worker:{name}"

    @staticmethod
    def chain(production_id: str) -> tuple[str, str, str]:
        """A production's running job (hash), its waiting jobs (list) and their ids (set).

        Jobs of one production run one after another: only the head of the chain is on an
        arq queue; the worker that finishes it submits the next.
        """
        base = f"vyke:chain:{production_id}"
        return f"{base}:active", f"{base}:waiting", f"{base}:ids"
