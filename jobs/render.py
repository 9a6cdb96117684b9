"""Render a :class:`core.spec.ProductionSpec` into music, re-rendering only what changed.

The pipeline, and what each step is cached under (so a mix-only change re-renders one track's
chain and the master bus, never the separation, the vocal processing or untouched tracks)::

    pattern track:  spec slice (pattern, voice, layers, tempo, key, sections) ──▶ raw audio
    vocal track:    stem file hash + vocal processing + tempi + bar grid        ──▶ raw audio
    every track:    raw audio hash + the track's chain (+ the kick's hits)      ──▶ processed
    mix bus ─▶ master ─▶ master.flac, preview.mp3, arrangement.png, tonal.png  (always redone)

Raw tracks are cached as 24-bit FLAC files and hard-linked into the version's ``tracks/``
folder, so every version shares the bytes of the tracks it did not change and the export zips
them as they are (only a changed track is ever encoded). After the master is written it is
analysed again and compared with the spec (tempo, key, loudness, true peak): a mismatch is
reported in the result, never hidden.

Processed tracks are kept one array per track, what the next mix change reads: a track that
gain staging filters keeps its filtered signal (its chain output is not kept beside it), the
others their chain output, plus the return buses. A production's newest render forgets what
its earlier versions kept and it does not read (:class:`_ChainOwners`), so the cache holds
about one version's worth per production; measurement-only variants (a ducked track without
its ducking, a swept one without its sweep) are never kept, what is read on them is.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field

from core.artifacts import atomic_folder
from core.jobs import (
    JobRequest,
    ProgressFn,
    RenderRequest,
    RenderResult,
    SampleSources,
    SectionRequest,
    SectionResult,
    payload_of,
)
from core.spec import ProductionSpec, TrackRole, TrackSpec
from jobs.array_store import flush_subnormals, load_array, save_array
from jobs.audio_io import (
    ENGINE_SAMPLE_RATE,
    file_sha256,
    fits_flac,
    publish_file,
    resample,
    stored_audio_is_whole,
    write_flac,
    write_json_atomic,
    write_wav,
)
from jobs.cache_limit import touch, trim_cache
from jobs.files import JobFiles
from jobs.mix import bar_duration_s

if TYPE_CHECKING:
    from jobs.sampler import Palette

__all__ = [
    "RENDER_VERSION",
    "RenderPayload",
    "RenderStats",
    "SectionClip",
    "SectionPayload",
    "render_section",
    "render_spec",
    "render_task",
    "section_task",
    "transitions_track",
]

logger = logging.getLogger(__name__)

RENDER_VERSION = "render-v2"
"""Bumped when rendering changes its results, so old cache entries are not served."""

_MIX_FORMAT = "npy-send-levels-sparse-mono"
"""How a mixed track is stored (the dry signal and its send level curves); part of its key, so
entries stored another way are never read as this one."""

_VOCAL_FORMAT = "arranged-v3"
"""How a vocal track is made (moved, key-checked, arranged by phrases); part of its raw key, so
a vocal made another way (laid down once from its first section) is never served as this."""

_VOCAL_TRACK_NUMBERS = ("hook_by_bar", "in_key_share", "sung_pitch")
"""What the vocal's maker heard on the finished track: numbers of the vocal track itself."""

TAIL_S = 2.0
"""Seconds kept after the last bar for reverb and delay tails."""

_FADE_S = 0.01  # layer gates open and close over 10 ms: no clicks at section borders


class RenderPayload(BaseModel):
    """A render as the engine runs it: the request's data (``core.jobs.RenderRequest``, which
    carries artifact keys) with its stems as local files and this host's folders."""

    spec: ProductionSpec
    stems: dict[str, str] = Field(default_factory=dict)  #: stem name -> local FLAC/WAV file
    out_dir: str  #: where the version's files are written
    cache_dir: str  #: this host's render cache
    cache_max_bytes: int = Field(default=0, ge=0)  #: this host's cache size (0: no limit)
    source_downbeat_s: float = Field(default=0.0, ge=0)
    preview_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    reference_tilt_db_per_oct: float | None = None
    samples: SampleSources = Field(default_factory=SampleSources)
    #: the production rendered: its newest version's render forgets the processed tracks
    #: its earlier versions kept and this one does not read (empty: nothing is forgotten)
    production: str = ""

    @classmethod
    def of(cls, request: RenderRequest, files: JobFiles, out_dir: Path, *,
           production: str = "") -> RenderPayload:
        """The request's stems fetched from the artifact store, writing into ``out_dir``, with
        this host's Sound Vault, cache and cache size."""
        vault = str(files.samples_dir) if files.samples_dir else None
        return cls(**request.model_dump(exclude={"job", "stems", "samples"}),
                   stems={name: str(files.fetch(key)) for name, key in request.stems.items()},
                   samples=request.samples.model_copy(update={"vault_dir": vault}),
                   out_dir=str(out_dir), cache_dir=str(files.cache_dir),
                   cache_max_bytes=files.cache_max_bytes, production=production)


class SectionPayload(BaseModel):
    """The changed bars as the engine renders them (``core.jobs.SectionRequest``, local files)."""

    render: RenderPayload
    start_bar: int = Field(ge=1)
    end_bar: int = Field(ge=1)
    label: str = ""
    parent: int = Field(default=0, ge=0)
    match_master: str = ""  #: the version before's master (FLAC or WAV), a local file
    tonal_eq_db: dict[str, float] = Field(default_factory=dict)


class SectionClip(BaseModel):
    """The changed bars' clip as a local file, with what ``core.jobs.SectionResult`` reports."""

    path: str
    start_bar: int
    end_bar: int
    label: str = ""
    parent: int = 0
    lufs: float | None = None


@dataclass
class RenderStats:
    """What this render computed and what it served from the cache, by track name."""

    rendered: list[str] = field(default_factory=list)  #: raw audio synthesised or processed
    raw_cached: list[str] = field(default_factory=list)
    mixed: list[str] = field(default_factory=list)  #: chains run
    mix_cached: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"rendered": self.rendered, "raw_cached": self.raw_cached,
                "mixed": self.mixed, "mix_cached": self.mix_cached}


def transitions_track(spec: ProductionSpec) -> TrackSpec:
    """The FX track that carries ``spec.transitions`` (risers, impacts…), mixed like any track."""
    return TrackSpec(name="transitions", role=TrackRole.FX, source="pattern", gain_db=-8,
                     sends_db={"reverb": -12})


def _digest(*parts: Any) -> str:
    data = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:24]


def _layout(spec: ProductionSpec, track: str) -> dict[str, Any]:
    """The parts of the spec the timing of ``track`` depends on: the sections, and whether it
    plays in each (another track's layers, or what the vocal sings where, are not its: "vocal
    only in the drops" or "more of the hook" re-render no drum)."""
    return {"tempo": spec.tempo_bpm, "key": str(spec.key), "ts": list(spec.time_signature),
            "sections": [{**s.model_dump(mode="json", include={"name", "kind", "bars", "energy"}),
                          "plays": track in s.layers} for s in spec.sections],
            "seed": spec.seed}


def _chain(track: TrackSpec) -> dict[str, Any]:
    """The mix-chain slice of a track (everything the mixer reads)."""
    return track.model_dump(mode="json", exclude={"pattern", "voice", "source", "stem"})


def _chain_key(raw_key: str, track: TrackSpec, layout: dict[str, Any], kick_key: str) -> str:
    """The key of a track's chain output: its raw audio, its chain, its timing and (when it
    ducks) the kick's hits."""
    return _digest(raw_key, _chain(track), layout, kick_key, _MIX_FORMAT)


def _unswept(track: TrackSpec) -> TrackSpec:
    """``track`` without its filter sweeps: what a sweep's brightness is read against."""
    return track.model_copy(update={
        "automation": [a for a in track.automation if a.parameter != "filter_cutoff_hz"]})


class _Cache:
    """Content-addressed render cache under ``<cache_dir>/render/<RENDER_VERSION>/``.

    Raw tracks are 24-bit FLAC (a float WAV when louder than full scale); processed tracks are
    folders of ``.npy`` arrays (:mod:`jobs.array_store`); every read touches its entry, so the
    cache's size limit removes the least recently used first (:mod:`jobs.cache_limit`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "render" / RENDER_VERSION
        (self.root / "raw").mkdir(parents=True, exist_ok=True)
        (self.root / "mixed").mkdir(parents=True, exist_ok=True)

    def raw_path(self, key: str) -> Path:
        """Where a raw track is (or goes): its FLAC, or the float WAV of a track past full scale."""
        flac = self.root / "raw" / f"{key}.flac"
        wav = flac.with_suffix(".wav")
        return wav if wav.is_file() and not flac.is_file() else flac

    def has_raw(self, key: str) -> bool:
        """Whether a whole entry is stored (a header check: unreadable entries are removed)."""
        path = self.raw_path(key)
        if not path.is_file():
            return False
        try:
            whole = stored_audio_is_whole(path)
        except Exception:
            whole = False
        if not whole:
            logger.warning("ignoring an unreadable render cache entry %s", path.name)
            path.unlink(missing_ok=True)
            return False
        touch(path)
        return True

    def load_raw(self, key: str) -> np.ndarray | None:
        if not self.has_raw(key):  # missing, or cut short (libsndfile would read what is left)
            return None
        path = self.raw_path(key)
        try:
            audio = _read_wav(path)
            if audio.shape[1] != sf.info(str(path)).frames:
                raise ValueError("fewer frames than the header says")
            return audio
        except Exception:  # a corrupt or vanished entry is recomputed, never served
            logger.warning("ignoring an unreadable render cache entry %s", path.name)
            path.unlink(missing_ok=True)
            return None

    def store_raw(self, key: str, audio: np.ndarray) -> np.ndarray:
        """Store a raw track; returns the audio exactly as stored (so a hit equals a miss).

        Tracks that stay within full scale are kept as 24-bit FLAC (the project download carries
        these files as they are: lossless, about a third of a WAV); louder ones keep float WAV
        so nothing clips.
        """
        if fits_flac(audio):
            audio = (np.round(audio * 8_388_608.0) / 8_388_608.0).astype(np.float32)
            write_flac(self.root / "raw" / f"{key}.flac", audio, sample_rate=ENGINE_SAMPLE_RATE)
        else:
            write_wav(self.root / "raw" / f"{key}.wav", audio, sample_rate=ENGINE_SAMPLE_RATE)
        return audio

    def load_mixed(self, key: str) -> dict[str, np.ndarray] | None:
        """A processed track's arrays, memory-mapped: a clip of a few bars reads only those."""
        folder = self.root / "mixed" / key
        if not folder.is_dir():
            return None
        try:
            arrays = {path.stem: load_array(path) for path in folder.glob("*.npy")}
            if "dry" not in arrays:
                raise ValueError("no dry signal")
        except Exception:
            logger.warning("ignoring an unreadable render cache entry %s", folder.name)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        touch(folder)
        return arrays

    def load_numbers(self, key: str) -> dict[str, Any] | None:
        path = self.root / "mixed" / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def store_numbers(self, key: str, numbers: dict[str, Any]) -> None:
        write_json_atomic(self.root / "mixed" / f"{key}.json", numbers)

    def store_mixed(self, key: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One ``.npy`` per array, in a folder that appears whole or not at all; returns the
        arrays exactly as stored (subnormal tails flushed to zero), so a hit equals a miss."""
        arrays = {name: flush_subnormals(array) for name, array in arrays.items()}
        with atomic_folder(self.root / "mixed" / key) as folder:
            for name, array in arrays.items():
                save_array(folder / f"{name}.npy", array)
        return arrays

    def has_mixed(self, key: str) -> bool:
        return (self.root / "mixed" / key).is_dir()

    def forget_mixed(self, key: str) -> None:
        """Remove a processed entry (a reader that mapped its arrays keeps reading them)."""
        shutil.rmtree(self.root / "mixed" / key, ignore_errors=True)

    def mixed_used_at(self, key: str) -> float:
        """When an entry was last stored or read (0 when absent)."""
        try:
            return (self.root / "mixed" / key).stat().st_mtime
        except OSError:
            return 0.0


class _ChainOwners:
    """Which processed entries each production's newest version reads, kept per host, so a
    version's render forgets what the production's earlier versions kept and it does not read
    (a chain the new version changed, the returns of a mix it replaced).

    ``owners/<production digest>.json`` beside the entries lists them: what the newest render's
    mix read, and what a changed bars' clip stored since. An entry another production's list
    names stays, and so does one used since the render started (another job is reading it).
    Going back to an earlier version runs its chains and mix again (the cache is an
    accelerator): a production keeps what its next mix change reads, not every version's.
    """

    def __init__(self, cache: _Cache) -> None:
        self._cache = cache
        self._folder = cache.root / "owners"

    def _path(self, production: str) -> Path:
        return self._folder / f"{_digest(production)}.json"

    @staticmethod
    def _keys(path: Path) -> set[str]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        keys = data.get("keys") if isinstance(data, dict) else None
        return {k for k in keys if isinstance(k, str)} if isinstance(keys, list) else set()

    def _write(self, production: str, keys: set[str]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self._path(production), {"keys": sorted(keys)})

    def note(self, production: str, keys: list[str]) -> None:
        """Entries a job of ``production`` stored for its next version's render."""
        self._write(production, self._keys(self._path(production)) | set(keys))

    def keep_only(self, production: str, keep: set[str], *, since: float) -> None:
        """The newest version of ``production`` reads ``keep``: forget the rest it listed."""
        path = self._path(production)
        others: set[str] = set()
        for other in self._folder.glob("*.json"):
            if other != path:
                others |= self._keys(other)
        stays = set()
        for key in sorted(self._keys(path) - keep - others):
            if self._cache.mixed_used_at(key) >= since:
                stays.add(key)  # read by another job meanwhile
            else:
                self._cache.forget_mixed(key)
        self._write(production, keep | stays)


class _RawTrack:
    """A track's raw audio, made and stored now if the cache lacks it, else read only when a
    chain or a measurement needs it: a mix-only change reads none of the unchanged tracks."""

    def __init__(self, cache: _Cache, key: str, make: Callable[[], np.ndarray],
                 length: int) -> None:
        self._cache, self._key, self._make, self._length = cache, key, make, length
        self._audio: np.ndarray | None = None
        self.cached = cache.has_raw(key)
        if not self.cached:
            self._audio = cache.store_raw(key, _fit(make(), length))

    def audio(self) -> np.ndarray:
        if self._audio is None:
            audio = self._cache.load_raw(self._key)
            if audio is None:  # unreadable after all: made again
                audio = self._cache.store_raw(self._key, _fit(self._make(), self._length))
            self._audio = _fit(audio, self._length)
        return self._audio


def _read_wav(path: Path) -> np.ndarray:
    """One of our own audio files (a stem, a cache entry: FLAC or WAV) as float32
    (channels, samples) at the engine's rate; uploads go through
    :func:`jobs.audio_io.read_audio` and its checks instead."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(data.T)
    if rate != ENGINE_SAMPLE_RATE:
        audio = resample(audio, sample_rate=rate, target_rate=ENGINE_SAMPLE_RATE)
    return audio


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """Stereo float32 of exactly ``length`` samples (padded with silence or cut)."""
    if audio.ndim == 1:
        audio = audio[np.newaxis, :]
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    out = np.zeros((2, length), dtype=np.float32)
    n = min(length, audio.shape[1])
    out[:, :n] = audio[:2, :n]
    return out


def _vocal_raw(spec: ProductionSpec, track: TrackSpec, payload: RenderPayload, *,
               length: int, cache: _Cache, key: str) -> np.ndarray:
    """The separated vocal moved, checked and arranged (:func:`jobs.vocal_track.make_vocal_track`);
    what was read and decided on the way is kept beside the raw audio (``<key>-vocal``)."""
    from jobs.vocal_track import make_vocal_track

    start = round(payload.source_downbeat_s * ENGINE_SAMPLE_RATE)
    vocal = _read_wav(Path(payload.stems[track.stem]))[:, start:]
    backing = [_read_wav(Path(path))[:, start:] for name, path in sorted(payload.stems.items())
               if name != track.stem]
    made = make_vocal_track(spec, track, vocal=vocal, backing=backing, length=length,
                            sample_rate=ENGINE_SAMPLE_RATE)
    cache.store_numbers(f"{key}-vocal", {**made.reading, **{
        name: getattr(made, name) for name in _VOCAL_TRACK_NUMBERS}})
    return made.audio


@dataclass
class _Prepared:
    """Every track through its chain, and what the rest of a render reads about them."""

    length: int  #: samples: the arrangement and its tail
    cache: _Cache
    kicks: np.ndarray  #: the kick's hit times, seconds
    kick_key: str  #: names ``kicks`` in cache keys
    palette: Any  #: the instruments that played (``jobs.sampler``)
    stats: RenderStats = field(default_factory=RenderStats)
    processed: dict[str, Any] = field(default_factory=dict)  #: name -> ProcessedTrack
    #: name -> its staged arrays (``_stage_tracks``) read from the cache: the tracks whose
    #: chain output this render does not need (their ``processed`` runs the chain if read)
    staged: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)  #: chains run here and not stored yet
    stored: list[str] = field(default_factory=list)  #: processed entries this render stored
    unswept: dict[str, np.ndarray] = field(default_factory=dict)  #: swept tracks, sweep off
    unswept_keys: dict[str, str] = field(default_factory=dict)  #: their chains' keys
    brightness: dict[str, list[float]] = field(default_factory=dict)  #: kept sweep readings
    track_numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    octave_keys: dict[str, str] = field(default_factory=dict)  #: name -> its chain's key
    raw_keys: dict[str, str] = field(default_factory=dict)  #: name -> its raw audio's key
    sounded: set[str] = field(default_factory=set)  #: the samples every kit track played
    vocal: dict[str, dict[str, Any]] = field(default_factory=dict)  #: name -> its vocal reading


@dataclass
class _TrackWork:
    """One track's part of :func:`_prepare`: what is known of it, and what is left to do."""

    track: TrackSpec
    raw: _RawTrack
    raw_key: str
    mix_key: str
    hits: np.ndarray | None
    arrays: dict[str, np.ndarray] | None  #: its chain's output, ``None`` until run
    layout: dict[str, Any]  #: the spec's timing as this track sees it (:func:`_layout`)
    numbers: dict[str, Any] | None = None  #: its own measurements
    swept: bool = False  #: a filter sweep: measured against the chain without it
    unswept: np.ndarray | None = None
    staged: dict[str, np.ndarray] | None = None  #: its staged arrays, when cached
    staged_key: str = ""  #: the key of what the mix reads of it, when the staging is known
    fresh: bool = False  #: its chain was run here


def _prepare(payload: RenderPayload, progress: ProgressFn, *, full: bool) -> _Prepared:
    """Every track of the spec played and through its chain, served from the cache where it can.

    ``full`` (a version's render) also publishes each raw track into the version's folder,
    measures the tracks whose chain changed and notes the samples played; without it (the
    changed bars only) the chains are run and cached, nothing else.
    """
    from jobs.instruments import render_instrument, render_transitions
    from jobs.measure import MEASURE_VERSION, measure_track
    from jobs.mix import process_track
    from jobs.parallel import map_parallel
    from jobs.patterns import generate_track, kick_times
    from jobs.sampler import build_palette, track_samples

    spec = payload.spec
    sr = ENGINE_SAMPLE_RATE
    arrangement_s = spec.total_bars * bar_duration_s(spec)
    length = round((arrangement_s + TAIL_S) * sr)
    cache = _Cache(Path(payload.cache_dir))
    out_dir = Path(payload.out_dir)
    (out_dir / "tracks").mkdir(parents=True, exist_ok=True)
    tracks = [t for t in spec.tracks if not t.muted]
    if spec.transitions:
        tracks.append(transitions_track(spec))
    kicks = np.asarray(kick_times(spec), dtype=float)
    kick_key = _digest([round(float(t), 5) for t in kicks])
    stem_hashes = _stem_hashes(payload.stems, cache)
    palette = build_palette(spec, payload.samples, cache_dir=Path(payload.cache_dir))
    done = _Prepared(length=length, cache=cache, kicks=kicks, kick_key=kick_key,
                     palette=palette)
    stats, processed, raw_keys = done.stats, done.processed, done.raw_keys
    works: list[_TrackWork] = []
    pending: list[_TrackWork] = []  # tracks whose chain, numbers or sweep variant are to do
    share = 0.6 / max(1, len(tracks))  # of the whole job, per track: 0.05 … 0.65

    def recipe(track: TrackSpec) -> tuple[str, Callable[[], np.ndarray]]:
        return _raw_recipe(track, spec, payload, layout=_layout(spec, track.name),
                           length=length, stem_hashes=stem_hashes,
                           render_instrument=render_instrument, generate_track=generate_track,
                           cache=cache, render_transitions=render_transitions, palette=palette)

    def settle(track: TrackSpec, raw_key: str, make_raw: Callable[[], np.ndarray],
               raw: _RawTrack) -> None:
        """What is known of a track once its raw audio is stored; its chain goes to ``pending``
        unless the cache has it."""
        layout = _layout(spec, track.name)
        raw_keys[track.name] = raw_key
        (stats.raw_cached if raw.cached else stats.rendered).append(track.name)
        if track.source == "stem":  # what was read and decided making it, kept beside it
            heard = cache.load_numbers(f"{raw_key}-vocal")
            if heard is None:  # stored without it (a crash between the two): made again
                cache.raw_path(raw_key).unlink(missing_ok=True)
                raw = _RawTrack(cache, raw_key, make_raw, length)
                heard = cache.load_numbers(f"{raw_key}-vocal") or {}
            done.vocal[track.name] = heard
        if track.voice is not None and palette.plays(track.voice):
            # noted beside the raw audio by whichever job made it (a changed-bars clip often
            # does): the version's render reads the note back for its credits
            done.sounded.update(track_samples(cache.raw_path(raw_key), palette,
                                              fresh=track.name in stats.rendered))
        if full:
            stored = cache.raw_path(raw_key)
            publish_file(stored, out_dir / "tracks" / f"{_safe(track.name)}{stored.suffix}")
        hits = kicks if track.sidechain is not None else None
        mix_key = _chain_key(raw_key, track, layout, kick_key if hits is not None else "")
        done.octave_keys[track.name] = mix_key
        work = _TrackWork(track=track, raw=raw, raw_key=raw_key, mix_key=mix_key, hits=hits,
                          arrays=cache.load_mixed(mix_key), layout=layout)
        if full and track.name != "transitions":  # the track's own numbers, kept with its chain
            work.numbers = cache.load_numbers(f"{mix_key}-{MEASURE_VERSION}")
        # a sweep's brightness is read against the same chain without the sweep
        work.swept = any(a.parameter == "filter_cutoff_hz" for a in track.automation)
        works.append(work)

    def run_chain(work: _TrackWork) -> dict[str, np.ndarray]:
        result = process_track(work.raw.audio(), work.track, spec=spec, sample_rate=sr,
                               sidechain_hits_s=work.hits)
        return {"dry": flush_subnormals(result.dry),
                **{f"level_{k}": v for k, v in result.send_levels.items()}}

    classified = 0  # works[:classified] are sorted into cached and pending

    def classify() -> None:
        """What each track settled since the last call still needs, now that the staging may
        be known (it is keyed by every track's raw audio: all raw keys are known by now)."""
        nonlocal classified
        staging = _known_staging(cache, spec, raw_keys)
        for work in works[classified:]:
            classify_one(work, staging)
        classified = len(works)

    def classify_one(work: _TrackWork, staging: Any) -> None:
        name = work.track.name
        _find_staged(cache, work, staging)
        if work.arrays is not None:
            processed[name] = _processed(work.arrays)
        elif work.staged is not None:
            processed[name] = _UnreadChain(functools.partial(run_chain, work))
            done.staged[name] = work.staged
        (stats.mixed if work.arrays is None and work.staged is None
         else stats.mix_cached).append(name)
        if full and work.swept:
            done.unswept_keys[name] = _chain_key(work.raw_key, _unswept(work.track), work.layout,
                                                 kick_key if work.hits is not None else "")
            if work.staged_key:
                kept = cache.load_numbers(_brightness_key(work.staged_key,
                                                          done.unswept_keys[name]))
                if kept is not None and isinstance(kept.get("by_bar"), list):
                    done.brightness[name] = kept["by_bar"]
        if (work.arrays is None and work.staged is None) \
                or (full and name != "transitions" and work.numbers is None) \
                or (full and work.swept and name not in done.brightness):
            pending.append(work)
        elif work.numbers is not None:
            done.track_numbers[name] = work.numbers

    def chain_and_measure(work: _TrackWork) -> _TrackWork:
        """A track's chain and its own numbers: tracks are done side by side on every core
        (the chains and filters run in native code, outside the interpreter lock)."""
        track, hits = work.track, work.hits
        if work.arrays is None:
            work.arrays, work.fresh = run_chain(work), True
            if not full:  # the version's render that follows reads it
                work.arrays = cache.store_mixed(work.mix_key, work.arrays)
        if not full:
            return work
        mixed = _processed(work.arrays)
        if track.name != "transitions" and work.numbers is None:
            # a ducked track's dip is read against the same chain without the ducking
            plain = track.model_copy(update={"sidechain": None})
            unducked = None if hits is None else _variant(
                cache, work.raw, _chain_key(work.raw_key, plain, work.layout, ""), plain,
                spec=spec, hits=None)
            work.numbers = measure_track(mixed.dry, sample_rate=sr, hit_times_s=hits,
                                         unducked=unducked, sends=mixed.sends, spec=spec)
            cache.store_numbers(f"{work.mix_key}-{MEASURE_VERSION}", work.numbers)
        if work.swept and track.name not in done.brightness:
            work.unswept = _variant(cache, work.raw, done.unswept_keys[track.name],
                                    _unswept(track), spec=spec, hits=hits)
        return work

    def run_pending(fraction: float) -> None:
        classify()
        if not pending:
            return
        progress(fraction, f"mixing and measuring {', '.join(w.track.name for w in pending)}")
        for work in map_parallel(chain_and_measure, pending):
            assert work.arrays is not None
            processed[work.track.name] = _processed(work.arrays)
            if work.fresh and full:  # stored once the staging says what the mix reads
                done.fresh.add(work.track.name)
            elif work.fresh:
                done.stored.append(work.mix_key)
            if work.numbers is not None:
                done.track_numbers[work.track.name] = work.numbers
            if work.unswept is not None:
                done.unswept[work.track.name] = work.unswept
        pending.clear()

    # a vocal to make (moved, checked and arranged: the longest track to make, mostly Rubber
    # Band and pitch tracking outside the interpreter lock) starts first, in a thread of its
    # own, so the other tracks are played and through their chains meanwhile. Not a thread of
    # the shared pool: the vocal spreads its own stretch over the pool's threads
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vyke-vocal") as vocal_thread:
        making: dict[str, Future[_RawTrack]] = {}
        for track in tracks:
            if track.source == "stem":
                raw_key, make_raw = recipe(track)
                if not cache.has_raw(raw_key):
                    raw_keys[track.name] = raw_key  # the staging's key is every track's
                    making[track.name] = vocal_thread.submit(_RawTrack, cache, raw_key, make_raw,
                                                           length)
        later: list[tuple[str, TrackSpec]] = []
        for index, track in enumerate(tracks):
            where = f"{track.name} ({index + 1} of {len(tracks)})"
            progress(0.05 + share * index, f"{where}, playing its part")
            if track.name in making:
                later.append((where, track))
                continue
            raw_key, make_raw = recipe(track)
            settle(track, raw_key, make_raw, _RawTrack(cache, raw_key, make_raw, length))
        if later:
            run_pending(0.6)
            for where, track in later:
                progress(0.62, f"{where}, finishing its part")
                raw_key, make_raw = recipe(track)
                settle(track, raw_key, make_raw, making[track.name].result())
    run_pending(0.65)
    order = [t.name for t in tracks]  # the tracks in the spec's order, whichever was done first
    for names in (stats.rendered, stats.raw_cached, stats.mixed, stats.mix_cached):
        names.sort(key=order.index)
    done.processed = {name: processed[name] for name in order if name in processed}
    done.track_numbers = {name: done.track_numbers[name] for name in order
                          if name in done.track_numbers}
    for name, heard in done.vocal.items():  # what the vocal's maker heard on the finished track
        if name in done.track_numbers:
            done.track_numbers[name] = {**done.track_numbers[name], **{
                k: heard[k] for k in _VOCAL_TRACK_NUMBERS if heard.get(k) is not None}}
    return done


def _stem_hashes(stems: dict[str, str], cache: _Cache) -> dict[str, str]:
    """Each stem's SHA-256 (its part of the tracks' cache keys), remembered by the file's
    identity: a stem is an artifact that never changes in place, and hashing the stems of a
    3-minute song reads a quarter of a gigabyte, which a re-render would do for nothing.

    A file replaced or rewritten has another inode, size or modification time, so it is hashed
    again; hashes of files not yet known are taken side by side (hashing releases the
    interpreter lock).
    """
    from jobs.parallel import map_parallel

    def identity(path: str) -> str:
        info = os.stat(path)
        return _digest("sha256-of", os.path.realpath(path), info.st_dev, info.st_ino,
                       info.st_size, info.st_mtime_ns)

    def hashed(path: str) -> str:
        key = identity(path)
        known = (cache.load_numbers(key) or {}).get("sha256")
        if isinstance(known, str):
            return known
        digest = file_sha256(path)
        cache.store_numbers(key, {"sha256": digest})
        return digest

    return dict(zip(stems, map_parallel(hashed, stems.values()), strict=True))


def _trim(payload: RenderPayload) -> None:
    """Keep the cache to its size, now that this render stored what it made."""
    if payload.cache_max_bytes:
        trim_cache(Path(payload.cache_dir), max_bytes=payload.cache_max_bytes)


def render_spec(payload: RenderPayload, progress: ProgressFn) -> dict[str, Any]:
    """Render every track, mix, master, write the outputs and measure them against the spec."""
    progress(0.01, "loading the instruments")  # the first import in a fresh worker takes seconds
    started = time.time()
    from jobs.master import master, tonal_correction
    from jobs.measure import between_hits_band_db

    spec = payload.spec
    sr = ENGINE_SAMPLE_RATE
    out_dir = Path(payload.out_dir)
    prepared = _prepare(payload, progress, full=True)
    cache, kicks, palette, stats = (prepared.cache, prepared.kicks, prepared.palette,
                                    prepared.stats)
    length, processed, raw_keys = prepared.length, prepared.processed, prepared.raw_keys
    octave_keys, track_numbers = prepared.octave_keys, prepared.track_numbers
    sounded = prepared.sounded
    progress(0.7, "mixing")
    target = _tonal_target(spec)
    staging: dict[str, Any] = {}
    tonal_gains: dict[int, float] | None = None
    tonal_note = ""
    if target is not None:
        staging = _staging_for(spec, processed, octave_keys, raw_keys, cache, target, sr)
    staged = _stage_tracks(prepared, staging, sr)
    used = {s.key for s in staged.values()}  # what the next render of a mix change reads
    mixed = _mix(cache, staged, spec=spec, sr=sr, used=used)
    # the tracks as the mix hears them, at unit gain (what a sweep is read on)
    processed = {name: s.track for name, s in staged.items()}
    master_spec = _master_spec(spec, payload, mixed.audio, sr)
    # glue and limiter reshape the spectrum a little (they hold back transients, which carry
    # the mids): the tonal stage aims past that reshaping. Not when the master is tilted on
    # purpose ("brighter"): that would undo the request. The same parts through the same master
    # are reshaped alike, so a render keeps what it measured and the next one (a mix change)
    # aims right at once instead of mastering twice
    reshaped = target is not None and master_spec.tilt_db == 0
    shift_key = _digest(sorted(raw_keys.items()), master_spec.model_dump(mode="json"),
                        "tonal-shift")
    shift: dict[int, float] = {}
    if target is not None:
        design = _design_mix(spec, staged, cache, mixed.audio, sr, used)
        if reshaped:
            shift = {int(c): float(v) for c, v in (cache.load_numbers(shift_key) or {}).items()}
        tonal_gains, predicted, tonal_note = tonal_correction(design, _aimed(target, shift),
                                                              sample_rate=sr)
    progress(0.78, "mastering")
    mastered = master(mixed.audio, master_spec, sample_rate=sr, tonal_gains_db=tonal_gains)
    mid: tuple[np.ndarray, np.ndarray] | None = None  # the master's mid spectrum, once taken
    if reshaped:
        from jobs.measure import mid_spectrum, octave_levels_of_spectrum

        mid = mid_spectrum(mastered.audio, sample_rate=sr)
        actual = octave_levels_of_spectrum(*mid)
        # aim past what this pass measured, once, where the reshaping is what put a band out
        # of range; a band the tonal stage could not reach anyway (its EQ is at its limit)
        # would move by no more than the reshaping: not worth mastering again
        pushed = [c for c in target.out_of_range(actual)
                  if abs(actual[c] - predicted[c]) >= _RESHAPING_WORTH_DB]
        if pushed:
            shift = {c: actual[c] - predicted[c] for c in target.bands_db}
            tonal_gains, predicted, tonal_note = tonal_correction(
                design, _aimed(target, shift), sample_rate=sr)
            mastered = master(mixed.audio, master_spec, sample_rate=sr,
                              tonal_gains_db=tonal_gains)
            mid = None
    progress(0.85, "writing the master and the preview")
    outputs, preview, short_term = _write_outputs(spec, payload, mastered.audio, out_dir, sr,
                                                  track_numbers)
    progress(0.9, "measuring the result")
    # the same raw tracks read as the same tempo and key whatever the mix does to them
    reading_key = _digest(sorted(raw_keys.items()), "reading")
    reading = cache.load_numbers(reading_key)
    measurements = _measure(spec, mastered, processed, track_numbers,
                            _brightness(spec, staged, prepared, sr), sr, reading=reading,
                            short_term=short_term, mid=mid)
    if reading is None:
        cache.store_numbers(reading_key, {k: measurements[k] for k in _READING})
    measurements["mix_trim_db"] = round(float(mixed.trim_db), 2)
    between = between_hits_band_db(mastered.audio, sample_rate=sr, hit_times_s=kicks,
                                   loudness_lufs=mastered.integrated_lufs)
    if between is not None:  # the bass region between the kicks, re the master's loudness
        measurements["low_between_kicks_db"] = round(between, 2)
        from jobs.balance import share_of

        share = share_of(_band_powers(cache, staged, prepared, sr), "bass")
        if share is not None:  # how much of that band is the bass's (the Mixing Chef sizes by it)
            measurements["bass_share_between_kicks"] = round(share, 3)
    if target is not None:
        measurements["staging"] = {name: {"gain_db": st.gain_db,
                                          "tilt_db_per_oct": st.tilt_db_per_oct,
                                          **({"low_cut": True} if st.low_cut else {})}
                                   for name, st in staging.items()}
        measurements["tonal_eq_db"] = {str(c): g for c, g in (tonal_gains or {}).items()}
        octaves = {int(c): float(v) for c, v in measurements["octaves_db"].items()}
        if reshaped:  # what glue and limiter did to this mix's tone, for the next render
            cache.store_numbers(shift_key, {str(c): round(octaves[c] - predicted[c], 3)
                                            for c in target.bands_db})
        measurements["tonal_out_of_range_db"] = {
            str(c): round(d, 1) for c, d in target.out_of_range(octaves).items()}
        measurements["tonal_target"] = {
            "bands_db": {str(c): v for c, v in target.bands_db.items()},
            "tolerance_db": {str(c): v for c, v in target.tolerance_db.items()},
            "side_mid_min": target.side_mid_min, "side_mid_max": target.side_mid_max,
            "low_correlation_min": target.low_correlation_min}
        if tonal_note:
            measurements["tonal_note"] = tonal_note
        from jobs.picture import tonal_png

        outputs["tonal.png"] = str(tonal_png(
            octaves, target, out_dir / "tonal.png", title=spec.title,
            side_mid=measurements["side_mid_ratio"],
            low_correlation=measurements["low_band_correlation"]))
    if not mastered.reached and mastered.note:
        measurements["master_note"] = mastered.note
    outputs["preview.mp3"] = str(preview().path)
    for heard in prepared.vocal.values():  # a remix's vocal: its key, shift and phrases
        measurements["vocal"] = {k: v for k, v in heard.items()
                                 if k not in _VOCAL_TRACK_NUMBERS}
        break
    mismatches = _mismatches(spec, measurements) + _tonal_mismatches(target, measurements)
    measurements["instruments"] = palette.describe(sorted(sounded))
    write_json_atomic(out_dir / "samples.json", measurements["instruments"])
    write_json_atomic(out_dir / "spec.json", spec.model_dump(mode="json"))
    write_json_atomic(out_dir / "measurements.json", measurements)
    if payload.production:
        _ChainOwners(cache).keep_only(payload.production, used, since=started)
    _trim(payload)
    progress(1.0, "rendered")
    return {"artifacts": outputs, "measurements": measurements, "mismatches": mismatches,
            "cache": stats.as_dict(), "duration_s": round(length / sr, 3)}


def _tonal_target(spec: ProductionSpec) -> Any:
    """The genre's tonal target the planner put in the spec, or ``None`` (nothing is staged).

    It travels in the spec, not looked up here: workers import no genre files (``chefs/``).
    """
    return spec.master.tonal_target


_RESHAPING_WORTH_DB = 0.25
"""How far glue and limiter must move an out-of-range octave before mastering again pays."""


def _aimed(target: Any, shift: dict[int, float]) -> Any:
    """``target`` with each band moved against the reshaping the master is known to add."""
    if not shift:
        return target
    return target.model_copy(update={"bands_db": {
        c: level - shift.get(c, 0.0) for c, level in target.bands_db.items()}})


def _design_offset_db(track: TrackSpec | None) -> float:
    """How far the director moved a track's fader from its designed level (0 when unmoved)."""
    from core.planner import DESIGN_GAIN_DB

    if track is None or track.role not in DESIGN_GAIN_DB:
        return 0.0
    return track.gain_db - DESIGN_GAIN_DB[track.role]


def _staging_gains(spec: ProductionSpec, processed: dict[str, Any], keys: dict[str, str],
                   cache: _Cache, target: Any, sr: int) -> dict[str, Any]:
    """Gain staging (``jobs.balance``): each track's octave powers at its designed level, solved
    toward the genre's target. The powers are cached with the track's chain."""
    from jobs.balance import stage_gains
    from jobs.measure import OCTAVES_HZ, octave_powers, side_octave_powers
    from jobs.parallel import map_parallel

    def octaves(name: str) -> dict[str, Any]:
        key = f"{keys[name]}-octaves"
        numbers = cache.load_numbers(key)
        if numbers is None or len(numbers) != 2 * len(OCTAVES_HZ):
            dry = processed[name].dry
            mid = octave_powers(dry, sample_rate=sr)
            side = side_octave_powers(dry, sample_rate=sr)
            numbers = {**{str(c): float(p) for c, p in zip(OCTAVES_HZ, mid, strict=True)},
                       **{f"side_{c}": float(p) for c, p in zip(OCTAVES_HZ, side, strict=True)}}
            cache.store_numbers(key, numbers)
        return numbers

    contributions, sides = {}, {}
    # each track's spectra on its own core (the transforms run outside the interpreter lock)
    for name, numbers in zip(processed, map_parallel(octaves, processed), strict=True):
        scale = 10 ** (-_design_offset_db(spec.track(name)) / 10)
        contributions[name] = np.array([numbers[str(c)] for c in OCTAVES_HZ]) * scale
        sides[name] = np.array([numbers[f"side_{c}"] for c in OCTAVES_HZ]) * scale
    vocals = frozenset(t.name for t in spec.tracks if t.role is TrackRole.VOCALS)
    return stage_gains(contributions, target=target, fixed=frozenset({"transitions"}),
                       vocals=vocals, sides=sides)


@dataclass(frozen=True)
class _StagedTrack:
    """A track as gain staging leaves it, its level kept apart: the (tilted, low-cut) dry signal
    at unit gain with its send curves, the staging's gain, and a key naming that signal.

    A mix is a weighted sum of these plus the returns, so a render after a change to one track
    re-reads the others from the cache instead of filtering and summing them again.
    """

    track: Any  #: ProcessedTrack, the shaped dry signal at unit gain
    gain: float  #: linear, the staging's level
    key: str


_SHAPED_FORMAT = "shaped-v2-sends"  # jobs.array_store arrays: the staged dry and send levels
_RETURNS_FORMAT = "returns-v1-sparse-mono"
_STAGING_FORMAT = "staging-v1"
_BRIGHTNESS_FORMAT = "brightness-v1"


class _UnreadChain:
    """A track's chain output that a render should not need, its staged signal being cached:
    the chain runs only if something reads it (a staging solved again, say)."""

    def __init__(self, run: Callable[[], dict[str, np.ndarray]]) -> None:
        self._run = run
        self._track: Any = None

    def _processed(self) -> Any:
        if self._track is None:
            self._track = _processed(self._run())
        return self._track

    @property
    def dry(self) -> np.ndarray:
        return self._processed().dry

    @property
    def send_levels(self) -> dict[str, np.ndarray]:
        return self._processed().send_levels


def _staging_key(spec: ProductionSpec, raw_keys: dict[str, str]) -> str:
    target = _tonal_target(spec)
    return _digest(sorted(raw_keys.items()), target.model_dump(mode="json"), _STAGING_FORMAT)


def _known_staging(cache: _Cache, spec: ProductionSpec,
                   raw_keys: dict[str, str]) -> dict[str, Any] | None:
    """The gain staging kept for these parts (raw tracks), or ``None`` when there is none
    yet (or no tonal target: then there is nothing to stage, and an empty staging)."""
    from jobs.balance import Staging

    if _tonal_target(spec) is None:
        return {}
    numbers = cache.load_numbers(_staging_key(spec, raw_keys))
    if numbers is None or set(numbers) != set(raw_keys):
        return None
    try:
        return {name: Staging(**value) for name, value in numbers.items()}
    except TypeError:
        return None  # another layout: solved again


def _shaped_key(mix_key: str, staging: Any) -> str:
    """The key of a track's staged signal: its chain output's and the staging's filters."""
    return _digest(mix_key, staging.tilt_db_per_oct, staging.low_cut, _SHAPED_FORMAT)


def _find_staged(cache: _Cache, work: _TrackWork, staging: dict[str, Any] | None) -> None:
    """Note the key of what the mix reads of ``work``'s track (when the staging is known)
    and, when the staging filters it and its chain output is not cached, its staged arrays."""
    if staging is None:
        return
    st = staging.get(work.track.name)
    if st is None or not st.shapes:
        work.staged_key = work.mix_key
        return
    work.staged_key = _shaped_key(work.mix_key, st)
    if work.arrays is None:
        work.staged = cache.load_mixed(work.staged_key)


def _brightness_key(staged_key: str, unswept_key: str) -> str:
    """Where a sweep's brightness is kept: the swept track as mixed, read against its chain
    without the sweep."""
    return _digest(staged_key, unswept_key, _BRIGHTNESS_FORMAT)


def _staging_for(spec: ProductionSpec, processed: dict[str, Any], keys: dict[str, str],
                 raw_keys: dict[str, str], cache: _Cache, target: Any,
                 sr: int) -> dict[str, Any]:
    """The gain staging of these parts: solved when the parts (raw tracks) are new, then kept.

    Staging is the engineer's balance of the parts toward the genre before the director's
    words; a change to one track's level, EQ or ducking is theirs and stays exactly as asked
    (re-solving would move every other track a little and partly undo it). It also lets the
    next render re-read every unchanged track as staged.
    """
    known = _known_staging(cache, spec, raw_keys)
    if known is not None and set(known) == set(processed):
        return known
    staging = _staging_gains(spec, processed, keys, cache, target, sr)
    cache.store_numbers(_staging_key(spec, raw_keys), {name: {"gain_db": st.gain_db,
                                     "tilt_db_per_oct": st.tilt_db_per_oct,
                                     "low_cut": st.low_cut} for name, st in staging.items()})
    return staging


def _stage_tracks(prepared: _Prepared, staging: dict[str, Any],
                  sr: int) -> dict[str, _StagedTrack]:
    """Every track through its staging's filters, level apart, and one array per track kept:
    what the mix reads of it.

    A staged track's filtered signal (with its send levels) is kept and stands in for its
    chain output, which is not kept beside it (a render that needs it again, because the
    parts changed, runs the chain again from the raw track); an unfiltered track's chain
    output is what the mix reads, kept as it is.
    """
    from jobs.balance import Staging, apply_staging
    from jobs.parallel import map_parallel

    cache = prepared.cache

    def staged(name: str) -> _StagedTrack:
        track = prepared.processed[name]
        st = staging.get(name, Staging())
        gain, key = float(10 ** (st.gain_db / 20)), prepared.octave_keys[name]
        if not st.shapes:
            if name in prepared.fresh:
                cache.store_mixed(key, {"dry": track.dry, **{
                    f"level_{k}": v for k, v in track.send_levels.items()}})
            return _StagedTrack(track=track, gain=gain, key=key)
        shaped_key = _shaped_key(key, st)
        arrays = prepared.staged.get(name) or cache.load_mixed(shaped_key)
        if arrays is None:
            dry = apply_staging(track.dry, replace(st, gain_db=0.0), sample_rate=sr)
            arrays = cache.store_mixed(shaped_key, {"dry": dry, **{
                f"level_{k}": v for k, v in track.send_levels.items()}})
        cache.forget_mixed(key)  # stored by a changed bars' clip, or before this layout
        return _StagedTrack(track=_processed(arrays), gain=gain, key=shaped_key)

    # the tracks filtered side by side, one per core (the filters release the interpreter lock)
    names = list(prepared.processed)
    return dict(zip(names, map_parallel(staged, names), strict=True))


def _mix(cache: _Cache, staged: dict[str, _StagedTrack], *, spec: ProductionSpec, sr: int,
         scale: dict[str, float] | None = None, used: set[str] | None = None) -> Any:
    """The mix bus (``jobs.mix``): every staged track at its level (times ``scale[name]``)
    plus the returns, which are read from the cache when no sending track changed (their
    key is added to ``used``)."""
    from jobs.mix import returns_of, summed, trimmed_bus

    scale = scale or {}
    gains = {name: s.gain * scale.get(name, 1.0) for name, s in staged.items()}
    n = max((s.track.dry.shape[1] for s in staged.values()), default=0)
    parts = [(s.track.dry, gains[name]) for name, s in staged.items()]
    senders = {name: s for name, s in staged.items() if s.track.send_levels}
    if senders:
        key = _digest(sorted((name, s.key, round(gains[name], 6)) for name, s in senders.items()),
                      spec.tempo_bpm, _RETURNS_FORMAT)
        arrays = cache.load_mixed(key)
        wet: np.ndarray | None = None
        if arrays is not None:
            wet = arrays["dry"]
        else:
            wet = returns_of({name: s.track for name, s in senders.items()}, scale=gains,
                             spec=spec, sample_rate=sr)
            if wet is not None:
                wet = cache.store_mixed(key, {"dry": wet})["dry"]
        if used is not None:
            used.add(key)
        if wet is not None:
            parts.append((wet, 1.0))
    return trimmed_bus(summed(parts, length=n))


def _band_powers(cache: _Cache, staged: dict[str, _StagedTrack], prepared: _Prepared,
                 sr: int) -> dict[str, float | None]:
    """Each track's low-band power between the kicks (``jobs.balance``), kept per shaped
    track at unit gain and scaled by its level: only a changed track is filtered again."""
    from jobs.balance import band_power_between_kicks
    from jobs.parallel import map_parallel

    def power(name: str) -> float | None:
        s = staged[name]
        key = _digest(s.key, prepared.kick_key, "band-power-between-kicks")
        numbers = cache.load_numbers(key)
        if numbers is None:
            numbers = {"power": band_power_between_kicks(s.track.dry, sample_rate=sr,
                                                         hit_times_s=prepared.kicks)}
            cache.store_numbers(key, numbers)
        kept = numbers.get("power")
        return None if kept is None else float(kept) * s.gain ** 2

    return dict(zip(staged, map_parallel(power, staged), strict=True))


def _design_mix(spec: ProductionSpec, staged: dict[str, _StagedTrack], cache: _Cache,
                mix: np.ndarray, sr: int, used: set[str] | None = None) -> np.ndarray:
    """The staged mix at the designed levels: what the master's tonal stage is solved on.

    A fader the director moved stays moved: solving the tonal stage on their mix would balance
    their change away (a bass 3 dB down would come back up in the master's EQ).
    """
    offsets = {name: _design_offset_db(spec.track(name)) for name in staged}
    if not any(offsets.values()):
        return mix
    return _mix(cache, staged, spec=spec, sr=sr, used=used,
                scale={name: 10 ** (-offset / 20) for name, offset in offsets.items()}).audio


def _tonal_mismatches(target: Any, m: dict[str, Any]) -> list[str]:
    """Sentences for every band, width or low-end correlation out of the genre's range."""
    from core.tonal import band_label

    if target is None:
        return []
    problems = []
    for centre, miss in m.get("tonal_out_of_range_db", {}).items():
        problems.append(f"the {band_label(int(centre))} octave is {abs(miss):.1f} dB "
                        f"{'over' if miss > 0 else 'under'} the genre's range")
    width = m["side_mid_ratio"]
    if not target.side_mid_min <= width <= target.side_mid_max:
        problems.append(f"the stereo width (side/mid {width:.2f}) is outside the genre's "
                        f"{target.side_mid_min:g}–{target.side_mid_max:g}")
    if m["low_band_correlation"] < target.low_correlation_min:
        problems.append(f"the low end is not mono (correlation {m['low_band_correlation']:.2f} "
                        f"below 120 Hz)")
    return problems


def _variant(cache: _Cache, raw: _RawTrack, key: str, track: TrackSpec, *,
             spec: ProductionSpec, hits: np.ndarray | None) -> np.ndarray:
    """A track through a variant of its chain (its chain output's key ``key``), for
    measurement only: read from the cache when some version mixed it, never stored. What is
    read on it is kept instead (the ducked chain's numbers, a sweep's brightness), so a
    variant is run once per chain."""
    from jobs.mix import process_track

    arrays = cache.load_mixed(key)
    if arrays is None:
        result = process_track(raw.audio(), track, spec=spec, sample_rate=ENGINE_SAMPLE_RATE,
                               sidechain_hits_s=hits)
        return flush_subnormals(result.dry)
    return arrays["dry"]


def _raw_recipe(track: TrackSpec, spec: ProductionSpec, payload: RenderPayload, *,
                layout: dict[str, Any], length: int, stem_hashes: dict[str, str],
                render_instrument: Callable[..., np.ndarray],
                generate_track: Callable[..., Any],
                render_transitions: Callable[..., np.ndarray], cache: _Cache,
                palette: Palette | None = None) -> tuple[str, Callable[[], np.ndarray]]:
    """The cache key of a track's raw audio and the function that makes it (a kit track's key
    includes the samples it may play)."""
    sr = ENGINE_SAMPLE_RATE
    duration_s = length / sr
    if track.name == "transitions" and track.role is TrackRole.FX and track.source == "pattern" \
            and track.pattern is None:
        key = _digest("fx", [t.model_dump(mode="json") for t in spec.transitions], layout, length)
        return key, lambda: render_transitions(spec, sample_rate=sr)
    if track.source == "stem":
        if track.stem not in payload.stems:
            raise _missing_stem(track)
        vocal = spec.vocal.model_dump(mode="json") if spec.vocal else None
        # the other stems say where the song's fullest part (its hook) is; the sections' parts
        # say what the vocal sings where
        key = _digest("stem", _VOCAL_FORMAT, stem_hashes[track.stem], sorted(stem_hashes.items()),
                      vocal, spec.source_tempo_bpm, payload.source_downbeat_s, layout,
                      [s.vocal for s in spec.sections], track.name, length)
        return key, lambda: _vocal_raw(spec, track, payload, length=length, cache=cache, key=key)
    if track.pattern is None or track.voice is None:
        raise ValueError(f"track {track.name!r} has no pattern or voice to render")
    sampler = palette if palette is not None and palette.plays(track.voice) else None
    key = _digest("pattern", track.pattern.model_dump(mode="json"),
                  track.voice.model_dump(mode="json"), track.name, track.role.value, layout, length,
                  *([sampler.digest()] if sampler is not None else []))

    def make() -> np.ndarray:
        instrument = generate_track(spec, track)
        assert track.voice is not None
        part = render_instrument(instrument, track.voice, duration_s=duration_s, sample_rate=sr,
                                 seed=track.pattern.seed if track.pattern else 0,
                                 tonic=spec.key.tonic,
                                 sampler=sampler.hit if sampler is not None else None)
        if track.role is TrackRole.MUSIC:  # chords and pads are stereo voices
            from jobs.mix import stereo_unison

            part = stereo_unison(part, sample_rate=sr)
        return part

    return key, make


def _missing_stem(track: TrackSpec) -> Exception:
    from core.errors import StepUnavailable

    return StepUnavailable("rendering the vocal",
                           detail=f"The {track.stem} stem is missing; separate the song again.")


def _processed(arrays: dict[str, np.ndarray]) -> Any:
    from jobs.mix import ProcessedTrack

    levels = {k.removeprefix("level_"): v for k, v in arrays.items() if k.startswith("level_")}
    return ProcessedTrack(dry=arrays["dry"], send_levels=levels)


def _master_spec(spec: ProductionSpec, payload: RenderPayload, mix: np.ndarray, sr: int) -> Any:
    """The master settings, with the tilt that matches a reference's tonal balance if asked."""
    if payload.reference_tilt_db_per_oct is None:
        return spec.master
    from jobs.analysis import spectral_tilt_db_per_oct

    ours = spectral_tilt_db_per_oct(mix, sample_rate=sr)
    # MasterSpec.tilt_db is the gain difference across the ~10 octaves of the audio band
    wanted = float(np.clip(spec.master.tilt_db + (payload.reference_tilt_db_per_oct - ours) * 5,
                           -6, 6))
    return spec.master.model_copy(update={"tilt_db": wanted})


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "track"


def _write_outputs(spec: ProductionSpec, payload: RenderPayload, audio: np.ndarray,
                   out_dir: Path, sr: int, track_numbers: dict[str, dict[str, Any]],
                   ) -> tuple[dict[str, str], Callable[[], Any], np.ndarray]:
    """Start encoding the preview and writing the master in threads of their own, draw the
    arrangement picture (its lanes where each track was measured sounding), and return: the
    render goes on measuring meanwhile, and the returned function waits for the two threads
    and gives the ``PreviewResult``. Also returns the master's short-term loudness, which the
    picture draws and the loudness range is read from.

    Threads, not forked processes: LAME and libsndfile release the interpreter lock, and a
    fork would make every later write of the render to memory it had before copy the page
    (copy-on-write), slowing the measuring more than the encoder's work would.

    The master is 24-bit FLAC: the same samples as a 24-bit WAV in about three quarters of
    the bytes, kept for every version (the project zip carries it as it is; the web page
    offers it as a WAV). A master past full scale, which FLAC would clip, stays a WAV.
    """
    from jobs.loudness import short_term_loudness
    from jobs.picture import arrangement_png, lane_activity
    from jobs.preview import preview_mp3

    side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vyke-outputs")
    encoded = side.submit(preview_mp3, audio, sample_rate=sr, path=out_dir / "preview.mp3",
                          max_bytes=payload.preview_max_bytes)
    master_name = "master.flac" if fits_flac(audio) else "master.wav"
    if master_name == "master.flac":
        written = side.submit(write_flac, out_dir / master_name, audio, sample_rate=sr)
    else:
        written = side.submit(write_wav, out_dir / master_name, audio, sample_rate=sr,
                              subtype="PCM_24")
    side.shutdown(wait=False)  # the threads finish on their own; ``wait`` collects them
    lufs = short_term_loudness(audio, sample_rate=sr)
    times = np.arange(len(lufs)) * 0.1 + 1.5  # centres of the 3 s windows, 100 ms apart
    levels = {name: numbers.get("level_by_bar_db") or [] for name, numbers in track_numbers.items()}
    arrangement_png(spec, out_dir / "arrangement.png", energy=[s.energy for s in spec.sections],
                    loudness=(times, lufs), activity=lane_activity(spec, levels))

    def wait() -> Any:
        written.result()
        return encoded.result()

    return ({"preview.mp3": str(out_dir / "preview.mp3"),
             "arrangement.png": str(out_dir / "arrangement.png"),
             master_name: str(out_dir / master_name)},
            wait, lufs)


_READING = ("tempo_bpm", "tempo_alternative_bpm", "key", "key_alternative")
"""What the master's analysis says about the notes: the same for every render of the same
parts, so a mix-only change reuses it (``reading`` in :func:`_measure`)."""


def _measure(spec: ProductionSpec, mastered: Any, processed: dict[str, Any],
             track_numbers: dict[str, dict[str, Any]], brightness: dict[str, list[float]],
             sr: int, reading: dict[str, Any] | None = None,
             short_term: np.ndarray | None = None,
             mid: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """What the render sounds like, in the numbers the change card and the Chefs read.

    Loudness, true peak, tonal balance and width of the master and the level, tone and
    ducking of every track (``jobs.measure``), plus the tempo and key the master reads as
    (analysed unless ``reading`` holds them from a render of the same raw tracks). The
    master's short-term loudness and mid spectrum are read rather than taken again when given.
    """
    from jobs.analysis import tempo_and_key
    from jobs.measure import measure_render, spectral_centroid_by_bar

    out: dict[str, Any] = measure_render(mastered.audio, sample_rate=sr, spec=spec,
                                         known_lufs=mastered.integrated_lufs,
                                         known_true_peak_dbtp=mastered.true_peak_dbtp,
                                         known_short_term_lufs=short_term,
                                         known_mid_spectrum=mid)
    out["tracks"] = dict(track_numbers)
    if reading is None or any(k not in reading for k in _READING):
        tempo, key = tempo_and_key(mastered.audio, sample_rate=sr)
        reading = {"tempo_bpm": tempo.bpm,
                   "tempo_alternative_bpm": tempo.alternative_bpm if tempo.ambiguous else None,
                   "key": str(key.key),
                   "key_alternative": str(key.runner_up)
                   if key.ambiguous and key.runner_up is not None else None}
    out.update({k: reading[k] for k in _READING})
    # a sweep, bar by bar: the swept track's centroid, and the centroid each bar's filter gives
    # the track's average sound (the music's own chord changes cancel out of the second)
    out["centroid_by_bar"] = {}
    out["brightness_by_bar"] = {}
    for track in spec.tracks:
        result = processed.get(track.name)
        for automation in track.automation:
            if result is None or automation.parameter != "filter_cutoff_hz":
                continue
            bars = range(automation.start_bar, automation.end_bar + 1)
            swept = spectral_centroid_by_bar(result.dry, spec=spec, sample_rate=sr, bars=bars)
            out["centroid_by_bar"][track.name] = [round(float(c), 1) for c in swept]
            if track.name in brightness:
                out["brightness_by_bar"][track.name] = brightness[track.name]
    return _rounded(out)


def _brightness(spec: ProductionSpec, staged: dict[str, _StagedTrack], prepared: _Prepared,
                sr: int) -> dict[str, list[float]]:
    """Each swept track's brightness bar by bar over its (last) sweep, read against the same
    chain without the sweep (``jobs.measure.swept_centroid_by_bar``) and kept: a later render
    that does not change the track reads it back instead of running the chain twice."""
    from jobs.measure import swept_centroid_by_bar

    out = dict(prepared.brightness)
    for track in spec.tracks:
        sweeps = [a for a in track.automation if a.parameter == "filter_cutoff_hz"]
        s, unswept = staged.get(track.name), prepared.unswept.get(track.name)
        if not sweeps or s is None or track.name in out or unswept is None:
            continue
        out[track.name] = swept_centroid_by_bar(
            s.track.dry, unswept, spec=spec, sample_rate=sr,
            bars=range(sweeps[-1].start_bar, sweeps[-1].end_bar + 1))
        prepared.cache.store_numbers(
            _brightness_key(s.key, prepared.unswept_keys[track.name]),
            {"by_bar": [float(v) for v in out[track.name]]})
    return out


def _rounded(value: Any) -> Any:
    """Measurements as plain JSON numbers with sensible precision."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.4g}")  # four significant digits
    return value


def _mismatches(spec: ProductionSpec, m: dict[str, Any]) -> list[str]:
    """Sentences for every way the render misses its spec (shown in the thread, not hidden)."""
    problems = []
    alternative = m.get("tempo_alternative_bpm")
    if abs(m["tempo_bpm"] - spec.tempo_bpm) > 0.5 and not (
            alternative and abs(alternative - spec.tempo_bpm) <= 0.5):  # half-time feel is fine
        problems.append(f"the master reads as {m['tempo_bpm']:g} BPM, not {spec.tempo_bpm:g}")
    # an unsure key reading whose other candidate is the planned key is not a miss (a bass
    # line that leans on the dominant can tip a reading of F minor towards C); nor is the
    # relative key when the vocal sings in it: a C major vocal over A minor chords is in A
    # minor's notes, and its melody may well pull the tonal centre to C
    heard = m.get("vocal") or {}
    sung = m["key"] == str(spec.key.relative) and (
        heard.get("key") == m["key"] or heard.get("fits") is True)
    if str(spec.key) not in (m["key"], m.get("key_alternative")) and not sung:
        problems.append(f"the master reads as {m['key']}, not {spec.key}")
    if heard.get("fits") is False:
        problems.append(f"the vocal reads as {heard['key']} after its "
                        f"{heard['applied_shift']:+d} semitone shift, outside "
                        f"{spec.key.long_name}'s notes")
    if abs(m["integrated_lufs"] - spec.master.target_lufs) > 0.5:
        problems.append(f"the master is {m['integrated_lufs']:.1f} LUFS, not "
                        f"{spec.master.target_lufs:g}")
    if m["true_peak_dbtp"] > spec.master.ceiling_dbtp + 0.1:
        problems.append(f"the true peak is {m['true_peak_dbtp']:.1f} dBTP, over the "
                        f"{spec.master.ceiling_dbtp:g} dBTP ceiling")
    return problems


def render_section(request: SectionPayload, progress: ProgressFn) -> SectionClip:
    """The bars where a change is heard, mixed and mastered on their own, as an MP3 clip.

    The version's tracks go through the same chains as in its full render (stored in the cache,
    so the render that follows does not run them again), the bars plus one bar of run-in are
    mixed and staged like the whole song, and the master uses the version before's tonal stage
    and lands on the loudness those bars have in its master: the clip sounds like that version
    but for the change. Nothing is measured or pictured; the full render does that.
    """
    from jobs.loudness import integrated_loudness
    from jobs.master import master
    from jobs.mix import mix_down
    from jobs.preview import faded, preview_mp3

    payload = request.render
    spec, sr = payload.spec, ENGINE_SAMPLE_RATE
    prepared = _prepare(payload, progress, full=False)
    progress(0.75, "mixing the changed bars")
    start = round(spec.bar_start_s(request.start_bar) * sr)
    stop = min(prepared.length, round(spec.bar_start_s(request.end_bar + 1) * sr))
    # one bar of run-in: compressor, limiter and reverb settle before the clip starts
    run_in = max(0, round(spec.bar_start_s(request.start_bar - 1) * sr))
    target = _tonal_target(spec)
    staging: dict[str, Any] = {}
    if target is not None:  # staged as in the whole song (the levels come from whole tracks)
        staging = _staging_for(spec, prepared.processed, prepared.octave_keys,
                               prepared.raw_keys, prepared.cache, target, sr)
    window = {name: _staged_window(prepared, name, staging.get(name), run_in, stop, sr)
              for name in prepared.processed}
    if payload.production and prepared.stored:  # the version's render forgets what it does
        _ChainOwners(prepared.cache).note(payload.production, prepared.stored)  # not read
    mixed = mix_down(window, spec=spec, sample_rate=sr)
    loudness = spec.master.target_lufs
    if request.match_master and Path(request.match_master).is_file():
        before, _ = sf.read(request.match_master, start=start, stop=stop, dtype="float32",
                            always_2d=True)
        loudness = integrated_loudness(before.T, sample_rate=sr)
    progress(0.85, "mastering the changed bars")
    gains = {int(c): g for c, g in request.tonal_eq_db.items()} or None
    mastered = master(mixed.audio, spec.master.model_copy(update={"target_lufs": loudness}),
                      sample_rate=sr, tonal_gains_db=gains)
    clip = faded(mastered.audio[:, start - run_in:], sample_rate=sr, fade_s=0.05)
    path = Path(payload.out_dir) / "first-listen.mp3"
    preview_mp3(clip, sample_rate=sr, path=path, max_bytes=payload.preview_max_bytes)
    _trim(payload)
    progress(1.0, "the changed bars")
    return SectionClip(path=str(path), start_bar=request.start_bar, end_bar=request.end_bar,
                       label=request.label, parent=request.parent,
                       lufs=round(integrated_loudness(clip, sample_rate=sr), 1))


def section_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> SectionResult:
    """The worker job: fetch the stems and the version before's master, render the changed
    bars (:func:`render_section`) and publish the clip."""
    wire = payload_of(request, SectionRequest)
    with files.scratch(request.production_id, request.job_id) as work:
        local = SectionPayload(
            **wire.model_dump(exclude={"job", "render", "match_master"}),
            render=RenderPayload.of(wire.render, files, work,
                                    production=request.production_id),
            match_master=str(files.fetch(wire.match_master)) if wire.match_master else "")
        clip = render_section(local, progress)
        key = files.publish(request.production_id, f"v{request.version}/first-listen.mp3",
                            Path(clip.path))
    return SectionResult(key=key, **clip.model_dump(exclude={"path"}))


def _window(track: Any, start: int, stop: int) -> Any:
    """A processed track's samples ``start:stop`` (its send levels with them)."""
    from jobs.mix import ProcessedTrack

    return ProcessedTrack(dry=track.dry[:, start:stop], send_levels={
        k: v if v.size == 1 else v[start:stop] for k, v in track.send_levels.items()})


def _staged_window(prepared: _Prepared, name: str, staging: Any, start: int, stop: int,
                   sr: int) -> Any:
    """A track's samples ``start:stop`` as gain staging leaves them: cut from its staged
    signal when the cache holds it (times the staging's level, as the whole song has it),
    else its chain output's cut through the staging's filters."""
    from jobs.balance import apply_staging
    from jobs.mix import ProcessedTrack

    kept = prepared.staged.get(name)
    if kept is not None and staging is not None:
        cut = _window(_processed(kept), start, stop)
        return ProcessedTrack(dry=cut.dry * np.float32(10.0 ** (staging.gain_db / 20.0)),
                              send_levels=cut.send_levels)
    cut = _window(prepared.processed[name], start, stop)
    if staging is None:
        return cut
    return ProcessedTrack(dry=apply_staging(cut.dry, staging, sample_rate=sr),
                          send_levels=cut.send_levels)


def render_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> RenderResult:
    """The worker job: fetch the stems, render (see :func:`render_spec`) in a scratch folder
    and publish the version's files: master, preview, pictures, each track and the samples
    played (the export reads them from the store, on whichever worker runs it)."""
    wire = payload_of(request, RenderRequest)
    with files.scratch(request.production_id, request.job_id) as work:
        rendered = render_spec(RenderPayload.of(wire, files, work,
                                                production=request.production_id), progress)
        made = {name: Path(path) for name, path in rendered["artifacts"].items()}
        made["samples.json"] = work / "samples.json"
        # each track's FLAC (a float WAV when louder than full scale), linked from the cache
        made.update({f"tracks/{track.name}": track
                     for track in sorted((work / "tracks").glob("*"))
                     if track.suffix.lower() in (".flac", ".wav")})
        version = f"v{request.version}"
        rendered["artifacts"] = {name: files.publish(request.production_id, f"{version}/{name}",
                                                     path)
                                 for name, path in made.items() if path.is_file()}
    return RenderResult.model_validate(rendered)
