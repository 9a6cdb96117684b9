"""The director's own Sound Vault: a folder of one-shots and loops, classified and indexed once.

The folder is the ``VYKE_SAMPLES_DIR`` setting. Every audio file in it is hashed (SHA-256);
a file whose content was seen before is not analysed again, whatever it is called now. Each new
file is classified from its sound, because sample packs are named in a hundred ways:

- ``loop``: longer than a hit, with several onsets; its tempo (snapped to a whole number of
  bars when the length says so) and key come from :mod:`jobs.tempo` and :mod:`jobs.key`;
- ``kick``: low-band energy with the falling pitch of a beaten membrane;
- ``clap``: noise in several bursts a few milliseconds apart;
- ``hat``: bright noise with no drum body below 400 Hz that dies within 1 s; ``cymbal`` if longer;
- ``snare``: broadband noise over a drum body, one attack;
- ``percussion``: the rest — pitched hand drums, bells, claves, shakers — with a sub-role the
  renderer can place (``conga_low``, ``bongo``, ``shaker``, ``agogo_high`` …).

Shakers are heard as hats (both are short bright noise) unless their name says otherwise.
On the generated test vault (``tests/jobs/sound_vault_fixture.py``) 33 of 34 files are
classified right; on real recorded kits the six-way split is much rougher (about half), which is
why a folder or file name, when it says what a sample is, is trusted first.

A folder or file name that says what a sample is (``Kicks/``, ``snare_03.wav``) wins over the
analysis and is recorded as such (``by = "name"``). The index is a JSON file in the data
folder's cache, keyed by content hash.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from jobs.audio_io import ENGINE_SAMPLE_RATE, file_sha256, resample, write_json_atomic

__all__ = [
    "AUDIO_SUFFIXES",
    "CLASSES",
    "INDEX_VERSION",
    "SampleFeatures",
    "VaultEntry",
    "classify",
    "index_sound_vault",
    "sample_features",
]

logger = logging.getLogger(__name__)

CLASSES = ("kick", "snare", "clap", "hat", "cymbal", "percussion", "loop")
"""What a Sound Vault file can be."""

INDEX_VERSION = "sound-vault-2"
"""Bumped when classification changes, so the index is rebuilt."""

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"})

_MAX_FILE_BYTES = 64 * 1024 * 1024  # a one-shot or loop; bigger files are songs, not samples
_MAX_LOOP_S = 60.0
_HEAD_S = 0.3  # a hit's character is in its first 300 ms

_NAME_HINTS = (
    (r"loop|groove|\bbeat\b|\d+ ?bpm", "loop"),
    (r"kick|\bbd\b|bass ?drum|\bkik\b", "kick"),
    (r"clap|\bclp\b", "clap"),
    (r"snare|\bsd\b|\bsnr\b", "snare"),
    (r"hi-?hat|\bhh\b|\bhat\b|hats\b", "hat"),
    (r"crash|ride|cymbal", "cymbal"),
    (r"perc|conga|bongo|shaker|tamb|agogo|clave|cowbell|djembe|tom\b|rim|tribal", "percussion"),
)


@dataclass(frozen=True, slots=True)
class SampleFeatures:
    """What the classifier looks at, all of a hit's first 300 ms unless said otherwise."""

    duration_s: float  #: the whole file, leading silence trimmed
    low: float  #: share of magnitude below 150 Hz
    mid: float  #: share of magnitude 1–5 kHz
    high: float  #: share of magnitude above 5 kHz
    noisiness: float  #: median spectral flatness 1–16 kHz, 0 (tones) … 1 (white noise)
    sweep: float  #: ratio of the dominant low frequency at the hit to 100 ms later
    dominant_hz: float  #: strongest frequency 40 Hz–4 kHz
    bursts: int  #: separate attacks in the first 50 ms (a clap has three or four)
    decay_s: float  #: time from the peak down by 30 dB
    attack_s: float  #: time from −20 dB of the peak up to the peak (a shaker swells, a hat hits)
    low_edge_hz: float  #: frequency below which 10 % of the magnitude lies (hats sit high)
    hits: int  #: separate attacks over the whole file (a loop has many)
    body_db: float  #: strongest 120–400 Hz component re the strongest above 400 Hz (a drum's shell)


@dataclass(frozen=True, slots=True)
class VaultEntry:
    """One classified file of the director's Sound Vault."""

    path: str
    sha256: str
    kind: str  #: one of :data:`CLASSES`
    role: str  #: the one-shot role it can play (``kick``, ``hat_open``, ``conga_low`` …), or ``loop``
    by: str  #: ``"analysis"`` or ``"name"``
    duration_s: float
    decay_s: float = 0.0  #: from the peak down by 30 dB
    tempo_bpm: float | None = None  #: loops only
    key: str | None = None  #: loops only, e.g. ``"A minor"``

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mono(audio: np.ndarray) -> np.ndarray:
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def _trim(x: np.ndarray) -> np.ndarray:
    """From 1 ms before the first sample above −40 dB of the peak."""
    peak = float(np.max(np.abs(x), initial=0.0))
    if peak <= 0:
        return x
    start = int(np.argmax(np.abs(x) > 0.01 * peak))
    return x[max(0, start - ENGINE_SAMPLE_RATE // 1000):]


def _band_share(mag: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> float:
    total = float(mag.sum()) + 1e-12
    return float(mag[(freqs >= lo) & (freqs < hi)].sum() / total)


def _dominant_hz(x: np.ndarray, sample_rate: int, lo: float, hi: float) -> float:
    n = max(8192, x.size)
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size), n=n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = (freqs >= lo) & (freqs < hi)
    if not band.any() or mag[band].max() <= 0:
        return 0.0
    return float(freqs[band][int(np.argmax(mag[band]))])


def sample_features(audio: np.ndarray, *, sample_rate: int) -> SampleFeatures:
    """The classifier's features of one sample.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (channels, samples) or (samples,)
    sample_rate : int > 0, Hz

    Returns
    -------
    SampleFeatures
    """
    import librosa

    x = _mono(np.asarray(audio, dtype=np.float64))
    if sample_rate != ENGINE_SAMPLE_RATE:
        x = resample(x[np.newaxis, :], sample_rate=sample_rate,
                     target_rate=ENGINE_SAMPLE_RATE)[0].astype(np.float64)
    sr = ENGINE_SAMPLE_RATE
    x = _trim(x)
    peak = float(np.max(np.abs(x), initial=0.0)) or 1.0
    x = x / peak
    duration_s = x.size / sr
    head = x[: int(_HEAD_S * sr)]
    n = max(16384, head.size)
    mag = np.abs(np.fft.rfft(head * np.hanning(head.size), n=n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    # noisiness: spectral flatness of 1–16 kHz in 23 ms frames, where the hit is loud
    stft = np.abs(librosa.stft(head.astype(np.float32), n_fft=1024, hop_length=256))
    f_stft = librosa.fft_frequencies(sr=sr, n_fft=1024)
    band = stft[(f_stft >= 1000) & (f_stft < 16000)]
    energy = band.sum(axis=0)
    loud = energy >= 0.1 * (energy.max() + 1e-12)
    flat = (np.exp(np.mean(np.log(band + 1e-10), axis=0)) / (np.mean(band, axis=0) + 1e-10))
    noisiness = float(np.median(flat[loud])) if loud.any() else 0.0
    at_hit = _dominant_hz(x[: int(0.02 * sr)], sr, 30.0, 400.0)
    later = _dominant_hz(x[int(0.08 * sr): int(0.2 * sr)], sr, 30.0, 400.0) if duration_s > 0.2 else at_hit
    sweep = at_hit / later if later > 0 else 1.0
    # bursts: peaks of the 2 ms envelope above 500 Hz in the first 50 ms, each standing 6 dB
    # above the dips beside it and within 8 dB of the loudest
    hp = signal.sosfilt(signal.butter(2, 500.0, "highpass", fs=sr, output="sos"), x[: int(0.06 * sr)])
    hop = sr // 1000
    env = np.sqrt(np.convolve(hp**2, np.ones(2 * hop) / (2 * hop), mode="same"))[::hop][:50]
    env_db = 20 * np.log10(env + 1e-9)
    peaks, _ = signal.find_peaks(env_db, prominence=6.0, height=float(env_db.max()) - 8.0)
    # the loudness envelope in 5 ms frames: attack, decay, and re-attacks (a loop's hits)
    frame = sr // 200
    frames = x[: x.size // frame * frame].reshape(-1, frame)
    level_db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    top = int(np.argmax(level_db)) if level_db.size else 0
    below = np.nonzero(level_db[top:] < level_db[top] - 30.0)[0] if level_db.size else np.zeros(0)
    decay_s = (int(below[0]) if below.size else level_db.size - top) * frame / sr
    fine = np.abs(x[: int(0.1 * sr)])
    loud = np.nonzero(fine >= 0.1 * fine.max())[0] if fine.size else np.zeros(1, dtype=int)
    attack_s = (int(np.argmax(fine)) - int(loud[0])) / sr if loud.size else 0.0
    hits, _ = signal.find_peaks(level_db, prominence=10.0, height=float(level_db.max(initial=0)) - 30.0,
                                distance=10)
    smooth = np.convolve(mag, np.ones(8) / 8, mode="same")  # ~22 Hz: noise bins average out
    shell = smooth[(freqs >= 120.0) & (freqs < 400.0)].max()
    body_db = float(20 * np.log10((shell + 1e-12) / (smooth[freqs >= 400.0].max() + 1e-12)))
    cumulative = np.cumsum(mag)
    low_edge_hz = float(freqs[int(np.searchsorted(cumulative, 0.1 * cumulative[-1]))])
    return SampleFeatures(
        duration_s=duration_s,
        low=_band_share(mag, freqs, 20.0, 150.0), mid=_band_share(mag, freqs, 1000.0, 5000.0),
        high=_band_share(mag, freqs, 5000.0, 20000.0), noisiness=noisiness, sweep=sweep,
        dominant_hz=_dominant_hz(head, sr, 40.0, 4000.0), bursts=int(peaks.size), decay_s=decay_s,
        attack_s=attack_s, low_edge_hz=low_edge_hz, hits=max(1, int(hits.size)),
        body_db=body_db,
    )


def classify(features: SampleFeatures) -> tuple[str, str]:
    """``(kind, role)`` of a sample from its features (see the module docstring for the rules).

    Examples
    --------
    >>> from core.spec import VoiceSpec
    >>> from jobs.vault import one_shot
    >>> hit = one_shot("kick_house", VoiceSpec(name="kick_house"), velocity=1.0, sample_rate=44100)
    >>> classify(sample_features(hit, sample_rate=44100))
    ('kick', 'kick')
    """
    f = features
    if f.duration_s >= 1.5 and f.hits >= 4:
        return "loop", "loop"
    if f.low >= 0.35 and f.dominant_hz < 130.0 and (f.sweep >= 1.3 or f.dominant_hz < 75.0):
        return "kick", "kick"
    if f.noisiness >= 0.12 and f.bursts >= 2 and f.high + f.mid >= 0.5:
        return "clap", "clap"
    if f.noisiness >= 0.12 and f.high >= 0.3 and f.body_db < -4.0:
        if f.decay_s >= 1.0:
            return "cymbal", "crash" if f.noisiness >= 0.2 else "ride"
        return "hat", "hat_open" if f.decay_s >= 0.25 else "hat_closed"
    if f.noisiness >= 0.12 and f.high + f.mid >= 0.5:
        return "snare", "snare"
    return "percussion", _percussion_role(f)


def _percussion_role(f: SampleFeatures) -> str:
    """Where a pitched or noisy hand-percussion hit sits among the vault's percussion roles."""
    if f.noisiness >= 0.3 and f.high >= 0.3:  # noise that is mostly bright: a shaker
        return "shaker"
    hz = f.dominant_hz
    if hz < 140:
        return "tom_low"
    if hz < 280:
        return "conga_low"
    if hz < 400:
        return "conga_high"
    if hz < 600:
        return "bongo"
    if hz < 1300:
        return "agogo_low" if hz < 800 else "agogo_high"
    return "clave"


def _name_hint(path: Path) -> str | None:
    words = " ".join(p.lower().replace("_", " ").replace("-", " ") for p in path.parts[-3:])
    for pattern, kind in _NAME_HINTS:
        if re.search(pattern, words):
            return kind
    return None


_DEFAULT_ROLE = {"kick": "kick", "snare": "snare", "clap": "clap", "hat": "hat_closed",
                 "cymbal": "crash", "percussion": "conga_high", "loop": "loop"}


def _loop_tempo_key(x: np.ndarray, sr: int, duration_s: float) -> tuple[float, str]:
    """A loop's tempo, snapped to the nearest whole number of bars its length allows, and key."""
    from jobs.key import estimate_key
    from jobs.tempo import estimate_beat_grid

    grid = estimate_beat_grid(x.astype(np.float32), sample_rate=sr)
    bpm = grid.bpm
    candidates = [4 * bars * 60.0 / duration_s for bars in (1, 2, 4, 8, 16, 32)]
    near = min(candidates, key=lambda c: abs(np.log2(c / bpm)))
    if abs(near / bpm - 1.0) <= 0.04:  # the file is a whole number of bars at this tempo
        bpm = near
    key = estimate_key(x.astype(np.float32), sample_rate=sr).key
    return round(float(bpm), 2), key.long_name


def analyse_file(path: Path, *, sha256: str) -> VaultEntry:
    """Classify one file from its sound alone (and find a loop's tempo and key)."""
    import soundfile as sf

    from jobs.audio_io import read_audio

    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = np.ascontiguousarray(data.T)
        if rate != ENGINE_SAMPLE_RATE:
            audio = resample(audio, sample_rate=rate, target_rate=ENGINE_SAMPLE_RATE)
    except Exception:  # MP3, odd containers: the checked decoder (FFmpeg where needed)
        audio = read_audio(path, max_duration_s=_MAX_LOOP_S,
                           max_size_bytes=_MAX_FILE_BYTES).audio
    sr = ENGINE_SAMPLE_RATE
    mono = _trim(_mono(audio))
    features = sample_features(mono, sample_rate=sr)
    kind, role = classify(features)
    tempo = key = None
    if kind == "loop":
        tempo, key = _loop_tempo_key(mono, sr, mono.size / sr)
    return VaultEntry(path=str(path), sha256=sha256, kind=kind, role=role, by="analysis",
                      duration_s=round(features.duration_s, 3), decay_s=round(features.decay_s, 3),
                      tempo_bpm=tempo, key=key)


def _named(entry: VaultEntry, path: Path) -> VaultEntry:
    """The entry with the kind its folder or file name states, when that differs."""
    hint = _name_hint(path)
    if hint is None or hint == entry.kind:
        return entry
    role = _DEFAULT_ROLE[hint]
    if hint == "hat" and entry.decay_s >= 0.25:
        role = "hat_open"
    tempo, key = (entry.tempo_bpm, entry.key) if hint == "loop" else (None, None)
    return replace(entry, kind=hint, role=role, by="name", tempo_bpm=tempo, key=key)


def index_sound_vault(folder: Path, *, cache_dir: Path, use_names: bool = True) -> list[VaultEntry]:
    """Every usable file of the director's Sound Vault, classified; new content is analysed once.

    Parameters
    ----------
    folder : Path
        The director's sample folder (the ``VYKE_SAMPLES_DIR`` setting), searched recursively.
    cache_dir : Path
        The data folder's cache; the index lives in ``sound_vault/index.json`` under it.
    use_names : bool
        Let folder and file names that say what a sample is override the analysis.

    Returns
    -------
    list of VaultEntry
        Sorted by path. Files that cannot be read, are empty or too big are logged and left out.
    """
    index_path = cache_dir / "sound_vault" / "index.json"
    try:
        stored = json.loads(index_path.read_text(encoding="utf-8"))
        if stored.get("version") != INDEX_VERSION:
            stored = {}
    except (OSError, ValueError):
        stored = {}
    known: dict[str, dict[str, Any]] = stored.get("entries", {})  # content hash -> entry
    hashes: dict[str, list[str]] = stored.get("hashes", {})  # path -> [size:mtime, hash]
    entries: list[VaultEntry] = []
    changed = False
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    for path in files:
        stat = path.stat()
        if stat.st_size == 0 or stat.st_size > _MAX_FILE_BYTES:
            logger.info("Sound Vault: skipping %s (%d bytes)", path.name, stat.st_size)
            continue
        seen = f"{stat.st_size}:{stat.st_mtime_ns}"
        cached = hashes.get(str(path))
        if cached is not None and cached[0] == seen:
            digest = cached[1]  # unchanged since it was hashed: no need to read it again
        else:
            digest = file_sha256(path)
            hashes[str(path)] = [seen, digest]
            changed = True
        record = known.get(digest)
        if record is None:
            try:
                entry = analyse_file(path, sha256=digest)
            except Exception as exc:  # one bad file never stops the rest
                logger.warning("Sound Vault: could not read %s: %s", path.name, exc)
                known[digest] = {"error": str(exc)[:200]}  # said once, not on every render
                changed = True
                continue
            known[digest] = entry.as_dict()
            changed = True
        elif "error" in record:
            continue
        else:
            entry = VaultEntry(**{**record, "path": str(path)})
        entries.append(_named(entry, path.relative_to(folder)) if use_names else entry)
    if changed:
        write_json_atomic(index_path, {"version": INDEX_VERSION, "entries": known,
                                       "hashes": hashes})
    return entries
