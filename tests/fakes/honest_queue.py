"""An instant job queue whose renders measure exactly what their spec and patch promise.

The conversation corpus (``tests/conversations``) drives the real Maestro, brain and Chefs
many times a second; the real audio engine takes tens of seconds a render. This queue keeps
everything around the audio real — job requests, ids, pending jobs, cancellation, events in
order — and answers each job when :meth:`HonestQueue.events` is read:

* a render's measurements are computed from its spec (tempo, key, loudness target) and, for a
  version made by a patch, from its parent's measurements with every
  :class:`core.patch.ExpectedEffect` applied exactly as intended. So it proves the
  conversation works and every change is *declared* measurably; whether the engine then
  meets those numbers is the audio engine's tests' and ``python -m bench conversations``'s job.
* analysis reports a confident 124 BPM A minor song; separation returns four stems;
  comparison returns two loudness-matched clips. Export is not offered (as on a bot without
  the exporter), which the Maestro treats as optional.

A job is "running" from its enqueue until the event is read, so a message sent before the
runner reads events arrives while the job is busy, exactly as in a thread.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from core.analysis import AnalysisReport, KeyEstimate, SectionEstimate, TempoEstimate
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus, RenderRequest
from core.music import Key, Mode
from core.store import Store

__all__ = ["HonestQueue", "render_measurements"]

_KINDS = frozenset({JobKind.ANALYZE, JobKind.SEPARATE, JobKind.RENDER, JobKind.COMPARE})
_TRACK_DEFAULTS = {"track_level_db": -18.0, "ducking_depth_db": 4.0,
                   "spectral_centroid_hz": 1500.0, "low_end_db": -20.0, "stereo_width": 0.5}
_MASTER_DEFAULTS = {"spectral_centroid_hz": 2000.0, "stereo_width": 0.5,
                    "low_between_kicks_db": -12.0, "low_end_db": -14.0}
_BARS = 8  #: bars of a measured sweep


def render_measurements(request: RenderRequest, *, parent: dict[str, Any] | None,
                        expected: list[dict[str, Any]]) -> dict[str, Any]:
    """What a perfect engine would measure on ``request``'s render.

    ``parent`` is the parent version's measurements (``None`` for a first version) and
    ``expected`` its patch's expected effects (as dicts), applied exactly.
    """
    spec = request.spec
    m: dict[str, Any] = copy.deepcopy(parent) if parent else {}
    m.pop("mismatches", None)
    tracks: dict[str, dict[str, float]] = m.setdefault("tracks", {})
    for track in spec.tracks:
        tracks.setdefault(track.name, dict(_TRACK_DEFAULTS))
    for name, value in _MASTER_DEFAULTS.items():
        m.setdefault(name, value)
    m["key"] = str(spec.key)
    m["tempo_bpm"] = float(spec.tempo_bpm)
    m.setdefault("integrated_lufs", float(spec.master.target_lufs))
    m.setdefault("true_peak_dbtp", -1.0)
    for effect in expected:
        metric, name = str(effect["metric"]), str(effect.get("track") or "")
        change = float(effect.get("change") or 0.0)
        if effect.get("direction") == "rises_across_bars":
            rising = [800.0 * 1.4 ** bar for bar in range(_BARS)]
            m.setdefault("centroid_by_bar", {})[name] = rising
            m.setdefault("brightness_by_bar", {})[name] = rising
            continue
        if metric == "tempo_bpm" or metric == "key":
            continue  # already the spec's
        if not change:  # "rises" or "falls" without a number: a clear step that way
            change = 1.0 if effect.get("direction", "up") == "up" else -1.0
            if metric in ("spectral_centroid_hz",):
                change *= 200.0
            elif metric == "stereo_width":
                change *= 0.1
        where: dict[str, Any] = tracks.setdefault(name, dict(_TRACK_DEFAULTS)) if name else m
        where[metric] = float(where.get(metric, _TRACK_DEFAULTS.get(metric, 0.0))) + change
    return m


class HonestQueue:
    """A :class:`core.jobs.JobQueue` that finishes each job, honestly, when its event is read.

    Parameters
    ----------
    store : Store
        The Maestro's store: a render reads its version's patch and parent from it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.requests: list[JobRequest] = []  #: every job ever enqueued, in order
        self._pending: list[JobRequest] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def supports(self, kind: JobKind) -> bool:
        return kind in _KINDS

    async def enqueue(self, request: JobRequest) -> int:
        self.requests.append(request)
        self._pending.append(request)
        return len(self._pending)

    async def cancel(self, production_id: str) -> list[str]:
        cancelled = [r.job_id for r in self._pending if r.production_id == production_id]
        self._pending = [r for r in self._pending if r.production_id != production_id]
        return cancelled

    def running(self, production_id: str) -> int:
        """How many of ``production_id``'s jobs have not finished."""
        return sum(r.production_id == production_id for r in self._pending)

    async def events(self) -> AsyncIterator[JobEvent]:
        """The next job's finished event, each time one is asked for (none when idle)."""
        while self._pending:
            request = self._pending.pop(0)
            yield JobEvent(job_id=request.job_id, production_id=request.production_id,
                           kind=request.kind, status=JobStatus.DONE, version=request.version,
                           result=await self._result(request))

    async def ack(self, event: JobEvent) -> None: ...

    async def _result(self, request: JobRequest) -> dict[str, Any]:
        if request.kind is JobKind.ANALYZE:
            return {"report": _song_report().model_dump(mode="json")}
        if request.kind is JobKind.SEPARATE:
            return {"model": "htdemucs", "stems": {s: f"/stems/{request.production_id}/{s}.wav"
                              for s in ("vocals", "drums", "bass", "other")}}
        if request.kind is JobKind.COMPARE:
            return {"section": "drop 1", "clips": [
                {"version": n, "path": f"/clips/v{n}.mp3", "lufs": -14.0, "gain_db": 0.0,
                 "start_s": 30.0, "end_s": 60.0} for n in (1, 2)]}
        assert isinstance(request.payload, RenderRequest)
        production = await self.store.get(request.production_id)
        version = production.version(request.version) if production else None
        parent = (production.version(version.parent)
                  if production and version and version.parent else None)
        expected = ([e.model_dump(mode="json") for e in version.patch.expected]
                    if version is not None and version.patch is not None else [])
        measurements = render_measurements(
            request.payload, parent=parent.measurements.model_dump(mode="json") if parent else None,
            expected=expected)
        out = request.payload.out_dir
        return {"artifacts": {"master.wav": f"{out}/master.wav", "preview.mp3": f"{out}/preview.mp3"},
                "measurements": measurements, "mismatches": []}


def _song_report() -> AnalysisReport:
    """A confidently read 124 BPM song in A minor, 64 bars long."""
    bar = 240 / 124
    return AnalysisReport(
        duration_s=64 * bar, sample_rate_hz=44100, channels=2,
        tempo=TempoEstimate(bpm=124.0, confidence=0.95),
        key=KeyEstimate(key=Key(tonic=9, mode=Mode.MINOR), confidence=0.95),
        integrated_lufs=-10.0, true_peak_dbtp=-0.9, loudness_range_lu=6.0,
        downbeat_times_s=[0.0],
        sections=[SectionEstimate(start_s=0, end_s=16 * bar, energy=0.4, label="intro"),
                  SectionEstimate(start_s=16 * bar, end_s=48 * bar, energy=1.0, label="high"),
                  SectionEstimate(start_s=48 * bar, end_s=64 * bar, energy=0.3, label="outro")])
