"""The sampler: recorded one-shots from sample libraries and the Sound Vault in place of synth hits.

A :class:`Palette` is chosen once per render from what this machine has: the director's own
Sound Vault (``VYKE_SAMPLES_DIR``) first, then the free libraries the system installed, in the
order the genre prefers (``jobs/sample_genres.toml``). A role nothing covers, or one the genre
keeps synthesised (a kick tuned to the key), stays on the synth vault, which is also the whole
fallback when nothing is installed. The palette plays a hit as stereo at the engine rate, shaped
by the same voice controls as the synth (darker, shorter, driven), and remembers which samples
sounded, so the render can name each one with its licence.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from core.jobs import SampleSources
from core.spec import ProductionSpec, VoiceSpec
from jobs.audio_io import ENGINE_SAMPLE_RATE, file_sha256, resample
from jobs.sample_library import (
    ROLES,
    KitLicence,
    Sample,
    SampleKit,
    find_hydrogen_kits,
    find_soundfont_kits,
    genre_samples,
)
from jobs.vault import KICK_VOICES, KIT_VOICES, one_shot_level, tuned_hz

__all__ = [
    "DRUM_ROLES",
    "SOUND_VAULT_LICENCE",
    "TUNED_ROLES",
    "Palette",
    "build_palette",
    "track_samples",
]

logger = logging.getLogger(__name__)

DRUM_ROLES = frozenset({"kick", "snare", "clap", "rim", "hat_closed", "hat_pedal", "hat_open",
                        "ride", "crash", "tom_high", "tom_mid", "tom_low"})
"""Roles a genre's ``drums`` kits play; every other role is hand percussion."""

SOUND_VAULT_LICENCE = KitLicence("the director's own", "the director", True,
                                 "the director's own samples, from their Sound Vault folder",
                                 "Sound Vault")

_MAX_HIT_S = 3.0  # a crash rings longest; anything after this is cut with a fade
TUNED_ROLES = frozenset({"kick", "tom_low", "tom_mid", "tom_high", "conga_low", "conga_high",
                         "bongo", "surdo"})
"""Pitched drums, tuned to the song's tonic or fifth like the synth vault's (a kick's body is a
steady low note that fights the bass, and can pull a key detector, when it is off the key)."""
_FADE_S = 0.01


def _sample_id(sample: Sample) -> str:
    return f"{sample.kit}/{sample.path.name}"


@lru_cache(maxsize=256)
def _load(path: str) -> np.ndarray:
    """A sample as stereo float32 at the engine rate, from its attack, at most 3 s, peak 1."""
    import soundfile as sf

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(data.T[:2])
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    if rate != ENGINE_SAMPLE_RATE:
        audio = resample(audio, sample_rate=rate, target_rate=ENGINE_SAMPLE_RATE)
    level = np.max(np.abs(audio), axis=0)
    peak = float(level.max(initial=0.0))
    if peak <= 0:
        raise ValueError("silent sample")
    start = max(0, int(np.argmax(level > 0.01 * peak)) - ENGINE_SAMPLE_RATE // 2000)
    audio = audio[:, start:start + int(_MAX_HIT_S * ENGINE_SAMPLE_RATE)] / peak
    fade = min(audio.shape[1], int(_FADE_S * ENGINE_SAMPLE_RATE))
    audio[:, audio.shape[1] - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    audio.setflags(write=False)
    return audio


def _shaped(audio: np.ndarray, voice: VoiceSpec, *, level: float) -> np.ndarray:
    """The voice controls on a recorded hit, as close as a recording allows to the synth's.

    ``brightness`` below 0 closes a low-pass from 12 kHz down two octaves, above 0 adds the
    content above 2 kHz back (up to +6 dB); ``decay`` below 0 shortens the ring to
    ``2 ** (1.25 · decay)`` of its length with a fade (a recording cannot ring longer than it
    did, so above 0 it is left as recorded); ``drive`` is ``tanh`` saturation.
    """
    sr = ENGINE_SAMPLE_RATE
    x = audio.astype(np.float64)
    b = voice.brightness
    if b < 0:
        sos = signal.butter(2, 12000.0 * 4.0**b, "lowpass", fs=sr, output="sos")
        x = signal.sosfilt(sos, x, axis=1)
    elif b > 0:
        sos = signal.butter(2, 2000.0, "highpass", fs=sr, output="sos")
        x = x + b * signal.sosfilt(sos, x, axis=1)
    if voice.decay < 0:
        env = np.max(np.abs(x), axis=0)
        ring = np.flatnonzero(env > 0.01 * env.max())
        length = (int(ring[-1]) + 1 if ring.size else x.shape[1]) * 2.0 ** (1.25 * voice.decay)
        t = np.arange(x.shape[1])
        fade = np.clip((length - t) / max(1.0, 0.5 * length), 0.0, 1.0)
        x = x * fade
        x = x[:, : max(1, int(np.ceil(length)))]
    peak = float(np.max(np.abs(x), initial=0.0)) or 1.0
    x = x / peak
    if voice.drive > 0:
        gain = 1.0 + 6.0 * voice.drive
        x = np.tanh(gain * x) / np.tanh(gain)
    return (level * x).astype(np.float32)


def _pitch_hz(audio: np.ndarray) -> float:
    """The body's pitch of a drum hit: the strongest 40–600 Hz component 20–200 ms after it."""
    sr = ENGINE_SAMPLE_RATE
    body = audio.mean(axis=0)[int(0.02 * sr): int(0.2 * sr)]
    if body.size < int(0.05 * sr):
        return 0.0
    n = 8 * body.size
    mag = np.abs(np.fft.rfft(body * np.hanning(body.size), n=n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    band = (freqs >= 40.0) & (freqs < 600.0)
    return float(freqs[band][int(np.argmax(mag[band]))]) if mag[band].max() > 0 else 0.0


def _retuned(audio: np.ndarray, tonic: int) -> np.ndarray:
    """The hit played faster or slower (pitch and length together, as a sampler does) so its
    body lands on the nearest tonic or fifth; left alone when no clear pitch is found."""
    from fractions import Fraction

    pitch = _pitch_hz(audio)
    if pitch <= 0:
        return audio
    ratio = tuned_hz(pitch, tonic) / pitch
    if abs(ratio - 1.0) < 0.01:
        return audio
    step = Fraction(ratio).limit_denominator(200)
    out = signal.resample_poly(audio, step.denominator, step.numerator, axis=1)
    return out.astype(np.float32)


@lru_cache(maxsize=512)
def _hit_cached(path: str, voice_key: tuple[str, float, float, float], level: float,
                tonic: int | None = None) -> np.ndarray:
    voice = VoiceSpec(name=voice_key[0], brightness=voice_key[1], decay=voice_key[2],
                      drive=voice_key[3])
    audio = _load(path)
    if tonic is not None:
        audio = _retuned(audio, tonic)
    out = _shaped(audio, voice, level=level)
    out.setflags(write=False)
    return out


@dataclass
class Palette:
    """Which sample plays each role in this render, and which of them have sounded."""

    choices: dict[str, tuple[Sample, ...]] = field(default_factory=dict)
    synth_roles: frozenset[str] = frozenset()  #: roles the genre keeps synthesised
    tonic: int | None = None  #: the song's key; pitched drums are tuned to it (TUNED_ROLES)
    note: str = ""  #: why nothing is sampled, when nothing is
    _used: dict[str, Sample] = field(default_factory=dict)
    _digest: str = ""

    @property
    def sampled(self) -> bool:
        return bool(self.choices)

    def digest(self) -> str:
        """A hash of the choices (file contents included), for the render cache key."""
        if not self._digest:
            parts = sorted((role, _sample_id(s), file_sha256(s.path))
                           for role, samples in self.choices.items() for s in samples)
            self._digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
        return self._digest

    def plays(self, voice: VoiceSpec) -> bool:
        """Whether a track with this voice can play samples (kit and kick voices can)."""
        return self.sampled and (voice.name in KIT_VOICES or voice.name in KICK_VOICES)

    def hit(self, name: str, voice: VoiceSpec, velocity: float, variant: int) -> np.ndarray | None:
        """A recorded hit for the vault one-shot ``name`` (stereo, float32), or ``None`` for synth.

        Parameters
        ----------
        name : str
            A vault one-shot name (``kick_deep``, ``snare``, ``conga_low`` …); kick voices play
            the ``kick`` role.
        voice : core.spec.VoiceSpec
            Its brightness, decay and drive shape the sample (see :func:`_shaped`).
        velocity : float, 0–1
        variant : int ≥ 0
            Round robin among the role's samples.

        Returns
        -------
        np.ndarray, float32, shape (2, samples), or None
            At the vault's level for ``name`` times ``velocity``.
        """
        role = "kick" if name in KICK_VOICES else name
        samples = self.choices.get(role)
        if not samples:
            return None
        sample = samples[variant % len(samples)]
        try:
            audio = _hit_cached(str(sample.path), (voice.name, round(voice.brightness, 3),
                                                   round(voice.decay, 3), round(voice.drive, 3)),
                                one_shot_level(name), self.tonic if role in TUNED_ROLES else None)
        except Exception as exc:  # a damaged file falls back to the synth, never fails a render
            logger.warning("could not play sample %s: %s", sample.path.name, exc)
            return None
        self._used[_sample_id(sample)] = sample
        return float(np.clip(velocity, 0.0, 1.0)) * audio

    def take_used(self) -> list[str]:
        """The ids of the samples that sounded since the last call (and forget them)."""
        used = sorted(self._used)
        self._used.clear()
        return used

    def describe(self, used: list[str]) -> dict[str, Any]:
        """The render's account of its instruments: which vault played and every sample used.

        Returns
        -------
        dict
            ``{"vault": "samples" | "synth", "note": str, "kits": [names], "synth_roles": [...],
            "samples": [{"file", "kit", "role", "licence", "author", "attribution", "package",
            "reason"}]}``; ``samples`` lists only what sounded, sorted.
        """
        by_id = {_sample_id(s): s for samples in self.choices.values() for s in samples}
        rows = []
        for sample_id in used:
            sample = by_id.get(sample_id)
            if sample is None:
                continue
            lic = sample.licence
            rows.append({"file": sample_id, "kit": sample.kit, "role": sample.role,
                         "licence": lic.spdx, "author": lic.author, "attribution": lic.attribution,
                         "package": lic.package, "reason": lic.reason})
        kits = sorted({row["kit"] for row in rows})
        return {"vault": "samples" if rows else "synth", "note": "" if rows else self.note,
                "kits": kits, "synth_roles": sorted(self.synth_roles), "samples": rows}


def _rank(entry_path: str, words: tuple[str, ...]) -> tuple[int, str]:
    name = entry_path.lower()
    return (-sum(1 for w in words if w in name), entry_path)


def build_palette(spec: ProductionSpec, sources: SampleSources, *, cache_dir: Path,
                  hydrogen_dirs: tuple[str, ...] | None = None,
                  soundfont_dirs: tuple[str, ...] | None = None) -> Palette:
    """The samples this render plays, by role, from what this machine has.

    Parameters
    ----------
    spec : ProductionSpec
        Its genre picks the kits and the words that rank the director's samples.
    sources : core.jobs.SampleSources
        Whether the installed libraries may be used, and the director's Sound Vault folder.
    cache_dir : Path
        The data folder's cache (SoundFont renders and the Sound Vault index live under it).
    hydrogen_dirs, soundfont_dirs : tuple of str, optional
        Where to look for libraries (the Debian locations by default; tests point elsewhere).

    Returns
    -------
    Palette
        Empty (synth everywhere, with a ``note`` saying why) when nothing usable is found.
    """
    from jobs import sample_library

    prefs = genre_samples(spec.genre)
    kits: dict[str, SampleKit] = {}
    if sources.library:
        for kit in find_hydrogen_kits(hydrogen_dirs or sample_library.HYDROGEN_DIRS):
            kits[kit.name] = kit
        # a SoundFont is rendered (once, cached) only if no kit before it in the genre's order
        # has what it would play
        missing = set(ROLES) - set(prefs.synth_roles)
        for name in dict.fromkeys(prefs.drums + prefs.percussion):
            if name in kits:
                missing -= set(kits[name].samples)
                continue
            if not missing:
                break
            for kit in find_soundfont_kits(cache_dir / "samples", names=frozenset({name}),
                                           dirs=soundfont_dirs or sample_library.SOUNDFONT_DIRS):
                kits[kit.name] = kit
                missing -= set(kit.samples)
    own: dict[str, list[Sample]] = {}
    if sources.vault_dir:
        from jobs.sound_vault import index_sound_vault

        folder = Path(sources.vault_dir)
        if folder.is_dir():
            for entry in sorted(index_sound_vault(folder, cache_dir=cache_dir),
                                key=lambda e: _rank(e.path, prefs.words)):
                if entry.role in ROLES:
                    own.setdefault(entry.role, []).append(
                        Sample(Path(entry.path), entry.role, "Sound Vault", SOUND_VAULT_LICENCE,
                               Path(entry.path).name))
        else:
            logger.warning("the Sound Vault folder %s does not exist", folder)
    choices: dict[str, tuple[Sample, ...]] = {}
    for role in ROLES:
        if role in own:
            choices[role] = tuple(own[role][:4])
            continue
        if role in prefs.synth_roles:
            continue
        order = prefs.drums if role in DRUM_ROLES else prefs.percussion
        for name in order:
            kit = kits.get(name)
            if kit is not None and role in kit.samples:
                choices[role] = kit.samples[role][:4]
                break
    note = ""
    if not choices:
        note = ("no sample library is installed here and no Sound Vault folder is set"
                if not kits and not own else "the installed kits have none of the sounds used")
        if not sources.library and not sources.vault_dir:
            note = "sampled kits are switched off in this installation"
    return Palette(choices=choices, synth_roles=frozenset(prefs.synth_roles) - set(own),
                   tonic=spec.key.tonic, note=note)


def track_samples(raw_path: Path, palette: Palette, *, fresh: bool) -> list[str]:
    """The samples a kit track played: taken from the palette when the track was just rendered
    (and kept beside its cached audio), read back from there when the audio came from the cache.
    """
    sidecar = raw_path.with_name(raw_path.name + ".samples.json")
    if fresh:
        used = palette.take_used()
        from jobs.audio_io import write_json_atomic

        write_json_atomic(sidecar, used)
        return used
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(item) for item in data] if isinstance(data, list) else []
