"""The song's vocal arranged through a remix: its phrases and hook found, then placed by bar.

A remixer does not lay the song's vocal down once from the first drop and let it run out
(a 30-second song would leave every later section silent). They find the hook, the line the
song repeats over its fullest part, and loop it in the drops; sing the other phrases in the
breakdowns; chop the hook in the builds; tag the outro with it once. This module does that,
on the vocal already moved to the production's key and tempo (so the song's bar ``k`` is
the ``k``-th bar of the moved vocal):

1. :func:`find_phrases` compares the song's bars by the notes each beat sings
   (:meth:`jobs.melody_key.Melody.beats`) and picks the hook: the window of bars that
   repeats most, sung over the fullest backing, highest and loudest (a chorus lifts), starting
   where the song changes. The sung bars that are not the hook or a repeat of it are the verse phrases.
2. :func:`arrange` gives each section the part its spec says (:data:`core.spec.VocalPart`):
   every placement starts on a bar line, a long section loops its phrase, the verse phrases
   carry on from one section to the next.
3. :func:`place` copies each phrase's bars into place with short fades at its edges (no clicks,
   no cut-off breath), slices the hook into chops on the grid with a stutter roll on the last
   bar, and :func:`recognise` reads back, bar by bar, which of the song's bars the rendered
   vocal sings: the hook placed in a drop is heard, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.spec import ProductionSpec, VocalPart
from jobs.melody_key import Melody

__all__ = ["Backing", "Phrase", "Phrases", "Placement", "arrange", "backing_bars", "find_phrases",
           "place", "recognise"]

_SUNG_BELOW_PEAK_DB = 30.0  # a bar this far under the loudest sung bar is not sung
_SILENT_DB = -60.0
_SAME_BARS = 0.85
"""Two bars whose beat-by-beat notes point this close (cosine) sing the same line."""
_SAME_RHYTHM = 0.8
"""Two bars of backing whose sixteenth-by-sixteenth levels correlate this well play the same
groove; less, and the song has moved to another section."""
_FADE_IN_S = 0.012
_FADE_OUT_S = 0.04  # a phrase's last note ends on the bar line: a short release, not a click


@dataclass(frozen=True, slots=True)
class Phrase:
    """Bars of the song's vocal: ``start`` counts from 0 at the song's first downbeat."""

    start: int
    bars: int

    @property
    def span(self) -> list[int]:
        """First and last bar, counted from 1 as a musician does: ``[1, 4]``."""
        return [self.start + 1, self.start + self.bars]


@dataclass(frozen=True)
class Phrases:
    """What the song's vocal sings, bar by bar, and which bars are its hook."""

    hook: Phrase
    others: tuple[Phrase, ...]  #: the verse phrases, in the song's order
    bars: int  #: bars of the song's vocal
    features: np.ndarray  #: shape (bars, beats · 12): the notes of each bar (L2-normalised)
    family: frozenset[int]  #: the hook's bars and the bars that repeat them


@dataclass(frozen=True, slots=True)
class Placement:
    """One piece of the song's vocal in the arrangement (bars 1-based)."""

    bar: int
    bars: int
    part: VocalPart
    source: Phrase  #: the song's bars it sings (the hook's, for chops)

    def as_dict(self) -> dict[str, int | str]:
        return {"bar": self.bar, "bars": self.bars, "part": self.part,
                "source_bar": self.source.start + 1}


def _bar_levels_db(audio: np.ndarray, bar_samples: int, bars: int) -> np.ndarray:
    """Mean power of each bar, dBFS (−120 where silent)."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    out = np.full(bars, -120.0)
    for bar in range(bars):
        piece = mono[bar * bar_samples:(bar + 1) * bar_samples]
        power = float(np.mean(np.square(piece, dtype=np.float64))) if piece.size else 0.0
        if power > 1e-12:
            out[bar] = 10 * np.log10(power)
    return out


def _normalised(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0–1 over the bars ``where`` (0 elsewhere or when all equal)."""
    out = np.zeros_like(values, dtype=float)
    if not where.any():
        return out
    low, high = float(values[where].min()), float(values[where].max())
    if high - low > 1e-9:
        out[where] = (values[where] - low) / (high - low)
    return out


@dataclass(frozen=True)
class Backing:
    """The rest of the song, bar by bar: how full it is and the rhythm it plays."""

    levels_db: np.ndarray  #: shape (bars,): its level in each bar
    patterns: np.ndarray  #: shape (bars, steps): its level on each sixteenth, shape only


def backing_bars(mix: np.ndarray, *, bar_samples: int, steps: int = 16) -> Backing:
    """:class:`Backing` of the song's other stems summed to ``mix`` (mono), ``bar_samples`` a
    bar: a section change shows as a new rhythm (four kicks where there were three, open hats)
    even where the level stays the same."""
    bars = max(1, -(-mix.size // bar_samples))
    padded = np.pad(mix.astype(np.float64), (0, bars * bar_samples - mix.size))
    step = bar_samples // steps
    power = np.square(padded[: bars * steps * step]).reshape(bars, steps, step).mean(axis=2)
    levels = 10 * np.log10(np.maximum(power.mean(axis=1), 1e-12))
    shape = 10 * np.log10(np.maximum(power, 1e-12))
    shape -= shape.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(shape, axis=1, keepdims=True)
    return Backing(levels_db=levels, patterns=np.where(norms > 0, shape / np.maximum(norms, 1e-12), 0))


def find_phrases(vocal: np.ndarray, sung: Melody, *, sample_rate: int, bar_s: float,
                 beats_per_bar: int = 4, backing: Backing | None = None) -> Phrases:
    """The song's hook and verse phrases, on its bar grid.

    Parameters
    ----------
    vocal : np.ndarray, float32, shape (channels, samples)
        The song's vocal at the production's tempo, from its first downbeat.
    sung : Melody
        Its notes (:func:`jobs.melody_key.melody` of ``vocal``).
    bar_s : float > 0, seconds
    backing : Backing, optional
        The rest of the song, bar by bar (:func:`backing_bars`): a hook is sung over its fullest
        part, starting where its rhythm changes. Without it the vocal's own bars decide.

    Returns
    -------
    Phrases
        The hook is 4 bars when the song sings at least 8, else 2 (1 for a single sung bar).
    """
    bar_samples = max(1, round(bar_s * sample_rate))
    bars = max(1, -(-vocal.shape[-1] // bar_samples))
    level = _bar_levels_db(vocal, bar_samples, bars)
    active = level > max(float(level.max()) - _SUNG_BELOW_PEAK_DB, _SILENT_DB)
    beat_s = bar_s / beats_per_bar
    features = np.stack([sung.beats(start_s=bar * bar_s, beat_s=beat_s, beats=beats_per_bar)
                         for bar in range(bars)])
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    features = np.where(norms > 0, features / np.maximum(norms, 1e-12), 0.0)
    same = features @ features.T
    count = int(active.sum())
    length = 4 if count >= 8 else 2 if count >= 2 else 1
    full = np.zeros(bars) if backing is None else np.resize(backing.levels_db, bars)
    fullness = _normalised(full, active)
    loudness = _normalised(level, active)
    height = _normalised(np.array([sung.height(start_s=bar * bar_s, seconds=bar_s)
                                   for bar in range(bars)]), active)
    repeats = _repeats(same, length)
    best, best_score = 0, -np.inf
    for start in range(0, max(1, bars - length + 1)):
        window = range(start, min(bars, start + length))
        if not active[start] or active[list(window)].sum() < max(1, length - 1):
            continue
        score = (2.0 * repeats[start] + np.mean(fullness[list(window)])
                 + np.mean(height[list(window)])
                 + 0.5 * np.mean(loudness[list(window)])
                 + 0.5 * _starts_section(start, active, same, window[-1], backing))
        if score > best_score + 1e-9:
            best, best_score = start, score
    hook = Phrase(start=best, bars=min(length, bars - best))
    hook_bars = range(hook.start, hook.start + hook.bars)
    family = {b for b in range(bars) if b in hook_bars or (
        active[b] and max(same[b, h] for h in hook_bars) >= _SAME_BARS)}
    others: list[Phrase] = []
    run: list[int] = []
    for bar in [*range(bars), bars]:  # runs of sung bars outside the hook's family
        if bar < bars and active[bar] and bar not in family:
            run.append(bar)
            continue
        for first in range(0, len(run), length):
            piece = run[first:first + length]
            if len(piece) >= max(1, length // 2):
                others.append(Phrase(start=piece[0], bars=len(piece)))
        run = []
    return Phrases(hook=hook, others=tuple(others), bars=bars, features=features,
                   family=frozenset(family))


def _repeats(same: np.ndarray, length: int) -> np.ndarray:
    """For each window of ``length`` bars, how well it is sung again elsewhere: the best, over
    every lag at least a window away (earlier or later), of its bars' mean similarity to the
    bars that far off (0 past the song's ends)."""
    bars = same.shape[0]
    best = np.zeros(bars)
    kernel = np.ones(length) / length
    for lag in range(length, bars):
        # index i of ``padded`` holds same[i - lag, i]: a window read forward from ``lag`` on,
        # or backward from 0
        padded = np.concatenate([np.zeros(lag), np.diagonal(same, offset=lag),
                                 np.zeros(length + lag)])
        windowed = np.convolve(padded, kernel, mode="valid")
        best = np.maximum(best, np.maximum(windowed[lag:lag + bars], windowed[:bars]))
    return best


def _starts_section(bar: int, active: np.ndarray, same: np.ndarray, last: int,
                    backing: Backing | None) -> bool:
    """Whether a phrase may start at ``bar``: after silence, or where the backing changes
    (its level jumps or its rhythm turns), or, with no backing to tell, where the bar before
    does not already sing the window's last bar (a loop's turn, not its middle)."""
    if bar == 0 or not active[bar - 1]:
        return True
    if backing is None or bar >= len(backing.levels_db):
        return bool(same[bar - 1, last] < _SAME_BARS)
    jump = abs(float(backing.levels_db[bar] - backing.levels_db[bar - 1]))
    turn = float(backing.patterns[bar] @ backing.patterns[bar - 1])
    return jump >= 1.5 or turn < _SAME_RHYTHM


def arrange(spec: ProductionSpec, track: str, phrases: Phrases, *,
            chops: bool = False) -> list[Placement]:
    """Where each phrase goes: every section the vocal ``track`` plays in, by its part.

    ``hook`` loops the hook to fill the section, ``verse`` sings the verse phrases in order
    (carrying on in the next verse section, from the first again when they run out; the hook
    when the song has no other phrase), ``tag`` sings the hook once, ``chops`` fills the
    section with chops of the hook. With ``chops`` (the director asked for chops instead of
    the lyrics) every ``hook`` section sings chops.
    """
    out: list[Placement] = []
    verse = 0
    verses = phrases.others or (phrases.hook,)
    for section, first, last in spec.section_bars():
        if track not in section.layers:
            continue
        part: VocalPart = section.vocal_part
        if chops and part == "hook":
            part = "chops"
        if part == "chops":
            out.append(Placement(bar=first, bars=last - first + 1, part=part, source=phrases.hook))
            continue
        bar = first
        while bar <= last:
            source = phrases.hook if part in ("hook", "tag") else verses[verse % len(verses)]
            if part == "verse":
                verse += 1
            bars = min(source.bars, last - bar + 1)
            out.append(Placement(bar=bar, bars=bars, part=part, source=source))
            bar += bars
            if part == "tag":
                break
    return out


def _edges(piece: np.ndarray, sample_rate: int) -> np.ndarray:
    """``piece`` with raised-cosine fades at both ends (a phrase's edges)."""
    out = piece.copy()
    for seconds, rising in ((_FADE_IN_S, True), (_FADE_OUT_S, False)):
        n = min(round(seconds * sample_rate), out.shape[1] // 2)
        if n <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
        if rising:
            out[:, :n] *= ramp
        else:
            out[:, -n:] *= ramp[::-1]
    return out


def place(vocal: np.ndarray, placements: list[Placement], *, spec: ProductionSpec,
          sample_rate: int, length: int) -> np.ndarray:
    """The arranged vocal track: each placement's bars of ``vocal`` on the production's grid.

    Parameters
    ----------
    vocal : np.ndarray, float32, shape (channels, samples)
        The song's vocal at the production's key and tempo, from its first downbeat.
    placements : list of Placement
    length : int, samples

    Returns
    -------
    np.ndarray, float32, shape (channels, length)
    """
    from jobs.vocal import chop, stutter

    bar_s = spec.bar_s
    beats = spec.time_signature[0]
    out = np.zeros((vocal.shape[0], length), dtype=np.float32)

    def bars_of(phrase_start: int, bars: int) -> np.ndarray:
        a = round(phrase_start * bar_s * sample_rate)
        n = round(bars * bar_s * sample_rate)
        piece = vocal[:, a:a + n]
        return np.pad(piece, ((0, 0), (0, n - piece.shape[1])))

    for placement in placements:
        at = round((placement.bar - 1) * bar_s * sample_rate)
        if at >= length:
            continue
        if placement.part == "chops":
            hook = bars_of(placement.source.start, placement.source.bars)
            steps = 4 * beats * min(2, placement.source.bars)  # sixteenths of up to two bars
            sliced, _ = chop(hook, sample_rate=sample_rate, tempo_bpm=spec.tempo_bpm,
                             steps=steps, seed=spec.seed + placement.bar)
            n = round(placement.bars * bar_s * sample_rate)
            if sliced.shape[1] == 0:
                continue
            piece = np.tile(sliced, (1, -(-n // sliced.shape[1])))[:, :n]
            if placement.bars >= 2:  # the build's last bar rolls into a 1/16 stutter
                piece = stutter(piece, sample_rate=sample_rate, tempo_bpm=spec.tempo_bpm,
                                division=16, bars=[(placement.bars - 1, placement.bars)],
                                beats_per_bar=beats, repeat_beats=0.5)
        else:
            piece = _edges(bars_of(placement.source.start, placement.bars), sample_rate)
        end = min(length, at + piece.shape[1])
        out[:, at:end] = piece[:, :end - at]
    return out


def recognise(rendered: Melody, phrases: Phrases, *, spec: ProductionSpec) -> list[int]:
    """Which bar of the song each bar of the rendered vocal sings, heard from its notes.

    Returns
    -------
    list of int
        One per bar of the arrangement: the song's bar (from 0) whose notes the bar sings
        most like (cosine ≥ 0.85 beat by beat), or −1 (nothing sung, or nothing recognised:
        chops, a stutter).
    """
    beats = spec.time_signature[0]
    out = []
    for bar in range(spec.total_bars):
        heard = rendered.beats(start_s=bar * spec.bar_s, beat_s=spec.bar_s / beats, beats=beats)
        norm = float(np.linalg.norm(heard))
        if norm == 0:
            out.append(-1)
            continue
        match = phrases.features @ (heard / norm)
        best = int(np.argmax(match))
        out.append(best if match[best] >= _SAME_BARS else -1)
    return out
