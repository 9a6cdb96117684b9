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
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from core.analysis import AnalysisReport, KeyEstimate, SectionEstimate, TempoEstimate
from core.artifacts import key_for
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus, RenderRequest
from core.music import Key, Mode
from core.spec import TrackSpec
from core.store import Store

__all__ = ["HonestQueue", "render_measurements", "song_report"]

_KINDS = frozenset({JobKind.ANALYZE, JobKind.SEPARATE, JobKind.RENDER, JobKind.COMPARE})
_TRACK_DEFAULTS = {"track_level_db": -18.0, "ducking_depth_db": 4.0,
                   "spectral_centroid_hz": 1500.0, "low_end_db": -20.0, "stereo_width": 0.5,
                   "side_mid_ratio": 0.3}
_MASTER_DEFAULTS = {"spectral_centroid_hz": 2000.0, "stereo_width": 0.5,
                    "low_between_kicks_db": -12.0, "low_end_db": -14.0}
_BAR_DEFAULTS = {"level_by_bar_db": -14.0, "onsets_by_bar": 4.0}  #: per-bar metrics, each bar
_NO_RETURN_DB = -120.0  #: a return's share of a track that sends nothing to it
_STEPS = {"spectral_centroid_hz": 200.0, "stereo_width": 0.1, "side_mid_ratio": 0.1,
          "swing_16ths": 0.06}
"""The clear step a "rises" or "falls" without a number takes (1.0 for a level or a count)."""
_BARS = 8  #: bars of a measured sweep


def _track_defaults(track: TrackSpec, bars: int) -> dict[str, Any]:
    """A first render's numbers for ``track``: its returns follow its sends (a perfect engine's
    share of a return is the send level plus the return's own gain, taken here as 0 dB), its
    swing its pattern's."""
    numbers: dict[str, Any] = dict(_TRACK_DEFAULTS)
    for bus in ("reverb", "delay"):
        numbers[f"{bus}_wet_db"] = float(track.sends_db.get(bus, _NO_RETURN_DB))
    if track.pattern is not None:
        numbers["swing_16ths"] = float(track.pattern.swing)
    numbers["onsets_by_bar"] = [_BAR_DEFAULTS["onsets_by_bar"]] * bars
    return numbers


def _fit_bars(values: list[float], bars: int, default: float) -> list[float]:
    """A per-bar list as long as the arrangement (a tempo or section change moves its end)."""
    return [float(v) for v in values[:bars]] + [default] * max(0, bars - len(values))


def render_measurements(request: RenderRequest, *, parent: dict[str, Any] | None,
                        expected: list[dict[str, Any]]) -> dict[str, Any]:
    """What a perfect engine would measure on ``request``'s render.

    ``parent`` is the parent version's measurements (``None`` for a first version) and
    ``expected`` its patch's expected effects (as dicts), applied exactly: a per-bar metric
    over the effect's bars.
    """
    spec = request.spec
    bars = spec.total_bars
    m: dict[str, Any] = copy.deepcopy(parent) if parent else {}
    m.pop("mismatches", None)
    tracks: dict[str, dict[str, Any]] = m.setdefault("tracks", {})
    for track in spec.tracks:
        numbers = tracks.setdefault(track.name, {})
        for name, value in _track_defaults(track, bars).items():
            numbers.setdefault(name, value)
        numbers["onsets_by_bar"] = _fit_bars(numbers["onsets_by_bar"], bars,
                                             _BAR_DEFAULTS["onsets_by_bar"])
    for name, value in _MASTER_DEFAULTS.items():
        m.setdefault(name, value)
    m["level_by_bar_db"] = _fit_bars(m.get("level_by_bar_db", []), bars,
                                     _BAR_DEFAULTS["level_by_bar_db"])
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
            change = _STEPS.get(metric, 1.0) * (1.0 if effect.get("direction", "up") == "up" else -1.0)
        where: dict[str, Any] = tracks.setdefault(name, dict(_TRACK_DEFAULTS)) if name else m
        start = int(effect.get("start_bar") or 0)
        if start:  # every bar of the effect's span moves by the change
            end = int(effect.get("end_bar") or start)
            values = where.setdefault(metric, [_BAR_DEFAULTS.get(metric, 0.0)] * bars)
            for bar in range(start, min(end, len(values)) + 1):
                values[bar - 1] = float(values[bar - 1]) + change
            continue
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
            return {"report": song_report().model_dump(mode="json")}
        if request.kind is JobKind.SEPARATE:
            return {"model": "htdemucs", "stems": {
                s: fake_key(f"{request.production_id}/{s}", ".wav")
                for s in ("vocals", "drums", "bass", "other")}}
        if request.kind is JobKind.COMPARE:
            return {"section": "drop 1", "clips": [
                {"version": n, "key": fake_key(f"clip-v{n}", ".mp3"), "name": f"v{n}.mp3",
                 "lufs": -14.0, "gain_db": 0.0,
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
        out = f"{request.production_id}/v{request.version}/{request.job_id}"
        return {"artifacts": {"master.wav": fake_key(f"{out}/master", ".wav"),
                              "preview.mp3": fake_key(f"{out}/preview", ".mp3")},
                "measurements": measurements, "mismatches": []}


def fake_key(name: str, suffix: str) -> str:
    """An artifact key for a file this queue never writes (the hash of its name)."""
    return key_for(hashlib.sha256(name.encode()).hexdigest(), suffix)


def song_report() -> AnalysisReport:
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
