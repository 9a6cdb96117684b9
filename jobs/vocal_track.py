"""A remix's vocal track: the song's vocal moved, checked by ear and arranged through the remix.

1. **Moved** to the production's key and tempo in one Rubber Band pass, formants kept
   (:func:`jobs.vocal.shift_and_stretch`), by the shift the spec planned from the song's key.
2. **Checked**: the moved vocal's own key is read from its notes (:mod:`jobs.melody_key`).
   It must sit in the production's key or its relative. When it does not and the reading is
   sure (the song's key was misread, say G♯ minor heard as F♯ major), it is moved again by
   the interval the reading says, read again, and kept only if it now fits; the reading says
   so (``planned_reading``) and the thread is told. When it still does not fit, the planned
   shift stays and the reading says it does not fit: the Maestro asks the director. A reading
   too unsure to act on (a bare or noisy stem) says so (``fits`` is ``None``) and the thread is
   told that too. A shift the director set by hand is never re-checked into another.
3. **Arranged** (:mod:`jobs.vocal_arrangement`): the hook and verse phrases placed by the
   sections' parts, the spec's stutters on top, silent outside the vocal's sections.

Everything the thread and the change card need is in the reading: the key, the shift, the
hook and phrases, the placements, and, heard back from the finished track, which bars sing
the hook and how much of the sung time sits in the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.spec import ProductionSpec, TrackSpec
from jobs.melody_key import Melody, MelodyKey, melody, melody_key
from jobs.vocal_arrangement import Backing, arrange, backing_bars, find_phrases, place, recognise

__all__ = ["SURE_MARGIN", "VocalTrack", "make_vocal_track"]

SURE_MARGIN = 0.08
"""A melody key reading leading the best key it does not fit by this much is acted on. On the
demo song's vocal in ten keys, moved or not (``tests/jobs/test_melody_key.py``), the right
reading leads by 0.15 or more."""

_FADE_S = 0.01  # the sections' gate opens and closes over 10 ms


@dataclass
class VocalTrack:
    """The arranged vocal and what was read and decided on the way."""

    audio: np.ndarray  #: float32, shape (channels, length)
    reading: dict[str, Any]  #: :class:`core.measurements.VocalReading` fields
    hook_by_bar: list[float]  #: 1 where the finished track is heard singing the hook
    in_key_share: float | None  #: share of its sung time on the production key's notes
    sung_pitch: float | None  #: the median pitch it sings (MIDI)


def _moved(vocal: np.ndarray, spec: ProductionSpec, semitones: int, sample_rate: int,
           ) -> tuple[np.ndarray, Melody, MelodyKey | None]:
    from jobs.vocal import shift_and_stretch

    moved = shift_and_stretch(vocal, sample_rate=sample_rate, semitones=semitones,
                              source_bpm=spec.source_tempo_bpm or spec.tempo_bpm,
                              target_bpm=spec.tempo_bpm)
    sung = melody(moved, sample_rate=sample_rate)
    return moved, sung, melody_key(sung)


def _backing(backing: list[np.ndarray], spec: ProductionSpec, sample_rate: int) -> Backing | None:
    """The rest of the song bar by bar, at the song's own tempo (:func:`backing_bars`)."""
    if not backing:
        return None
    length = min(b.shape[-1] for b in backing)
    mix = np.sum([b[..., :length].mean(axis=0) if b.ndim == 2 else b[:length] for b in backing],
                 axis=0)
    bar = max(16, round(spec.bar_s * spec.tempo_bpm / (spec.source_tempo_bpm or spec.tempo_bpm)
                        * sample_rate))
    return backing_bars(mix, bar_samples=bar)


def _gate(spec: ProductionSpec, track: str, length: int, sample_rate: int) -> np.ndarray:
    """1 where the track plays (its sections' layers), 0 elsewhere, with short fades."""
    gate = np.zeros(length, dtype=np.float32)
    for section, first, last in spec.section_bars():
        if track in section.layers:
            a = round((first - 1) * spec.bar_s * sample_rate)
            b = round(last * spec.bar_s * sample_rate)
            gate[a:min(b, length)] = 1.0
    # the fades: a moving average over ``fade`` samples, taken only where the gate moves (a
    # song-long average would spend 441 multiply-adds on every sample of a steady 0 or 1)
    fade = max(1, round(_FADE_S * sample_rate))
    kernel = np.ones(fade, dtype=np.float32) / fade
    out = gate.copy()
    edges = np.flatnonzero(np.diff(gate, prepend=0.0, append=0.0))  # silence beyond the ends
    for edge in edges:
        lo, hi = max(0, edge - fade), min(length, edge + fade)
        start, stop = max(0, lo - fade), min(length, hi + fade)  # the average's own reach
        smooth = np.convolve(gate[start:stop], kernel, mode="same")
        out[lo:hi] = smooth[lo - start:hi - start]
    return out


ON_THE_NOTES_SHARE = 0.95
"""A sung line with at least this share of its sung time on the key's notes fits the key,
whatever key its melody names: a C-major tune that never sings B reads as F major as easily,
and moving it a fourth down would change the song for nothing."""


def _on_the_notes(sung: Melody, spec: ProductionSpec) -> bool:
    share = sung.in_key_share(spec.key)
    return share is not None and share >= ON_THE_NOTES_SHARE


def make_vocal_track(spec: ProductionSpec, track: TrackSpec, *, vocal: np.ndarray,
                     backing: list[np.ndarray], length: int, sample_rate: int) -> VocalTrack:
    """The vocal ``track`` of ``spec``, moved, checked and arranged (see the module).

    Parameters
    ----------
    vocal : np.ndarray, float32, shape (channels, samples)
        The separated vocal from the song's first downbeat, at the engine's rate.
    backing : list of np.ndarray
        The song's other stems from the same downbeat (where its fullest part is).
    length : int, samples
        The arrangement and its tail.
    """
    from jobs.vocal import stutter

    processing = spec.vocal
    planned = processing.semitones if processing else 0
    moved, sung, reading = _moved(vocal, spec, planned, sample_rate)
    applied, planned_reading = planned, None
    on_notes = _on_the_notes(sung, spec)  # judged on the moved line, before it is arranged
    if processing is not None and processing.recheck_key and reading is not None \
            and not reading.key.fits(spec.key) and reading.margin >= SURE_MARGIN \
            and not on_notes:
        again = planned + reading.key.transposition_to(spec.key)
        retry = _moved(vocal, spec, again, sample_rate)
        if retry[2] is not None and retry[2].key.fits(spec.key):
            planned_reading, applied = str(reading.key), again
            moved, sung, reading = retry
            on_notes = _on_the_notes(sung, spec)
    phrases = find_phrases(moved, sung, sample_rate=sample_rate, bar_s=spec.bar_s,
                           beats_per_bar=spec.time_signature[0],
                           backing=_backing(backing, spec, sample_rate))
    placements = arrange(spec, track.name, phrases, chops=bool(processing and processing.chops))
    placed = place(moved, placements, spec=spec, sample_rate=sample_rate, length=length)
    divisions = {"1/8": 8, "1/16": 16, "1/32": 32}
    for s in processing.stutters if processing else []:
        placed = stutter(placed, sample_rate=sample_rate, tempo_bpm=spec.tempo_bpm,
                         division=divisions[s.grid],  # type: ignore[arg-type]
                         bars=[(s.start_bar - 1, s.end_bar)], beats_per_bar=spec.time_signature[0])
    placed *= _gate(spec, track.name, length, sample_rate)
    heard = melody(placed, sample_rate=sample_rate)
    sings = recognise(heard, phrases, spec=spec)
    info: dict[str, Any] = {
        "planned_shift": planned, "applied_shift": applied,
        "hook": phrases.hook.span, "phrases": [p.span for p in phrases.others],
        "placements": [p.as_dict() for p in placements],
    }
    if reading is not None:  # a misfit read too unsurely to act on is not called a misfit
        fits = reading.key.fits(spec.key) or on_notes
        info.update(key=str(reading.key), runner_up=str(reading.runner_up),
                    margin=reading.margin, sure=reading.margin >= SURE_MARGIN,
                    fits=fits if fits or reading.margin >= SURE_MARGIN else None)
    if planned_reading is not None:
        info["planned_reading"] = planned_reading
    return VocalTrack(audio=placed, reading=info,
                      hook_by_bar=[1.0 if bar in phrases.family else 0.0 for bar in sings],
                      in_key_share=heard.in_key_share(spec.key), sung_pitch=heard.median())
