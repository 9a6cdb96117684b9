"""The key and tempo evaluation corpus: music the analysis was not written against.

``python -m bench.corpus`` builds it (``--list`` prints what it holds); ``bench.analysis``
builds it on first use. Nothing here is committed: the audio is rendered into a cache folder
(``$VYKE_BENCH_CACHE`` or ``~/.cache/vyke-bench/analysis-corpus``) and reused between runs.

Two families of pieces, both rendered by FluidSynth through three free General MIDI sound
fonts (FluidR3 GM, TimGM6mb, MuseScore General), none of them made by our own synthesiser:

- **Bach chorales** from the ``music21`` corpus (four-part scores only). The key is the
  score's own key signature and its mode as the score states it (MusicXML ``<mode>``), kept
  only when the final bass note is that key's tonic: chorales notated with a Dorian signature
  or ending on a half cadence are left out rather than guessed. (``score.analyze('key')`` is
  *not* used: it is itself a key-finding algorithm.) Each chorale is transposed by a fixed
  pseudo-random interval (−5…+6 semitones, so all 24 keys occur) and played at a fixed
  pseudo-random quarter-note tempo of 70–110 BPM, fermatas not held. Instruments: organ,
  strings, choir, piano, or a wind quartet.
- **Electronic loops** in all 24 keys, five per key: drums, a bass line, chords and a lead
  written here from a chord progression in the key (major: I–V–vi–IV, I–IV–V–I, vi–IV–I–V,
  I–vi–IV–V; minor: i–VI–III–VII, i–iv–v–i, i–VII–VI–VII, i–iv–V–i), at 70–180 BPM, with
  synth basses, pads and leads from the General MIDI bank. Above 150 BPM half the loops have
  half-time drums (kick on 1, snare on 3, hats running at the real tempo): the tempo is the
  one the score is written in, as for drum & bass at 174.

Pieces are split into a development half and a test half by a hash of the piece's name (a
chorale keeps its split in every rendering): tune on ``dev``, report ``test``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Piece", "build_corpus", "cache_dir", "load_audio"]

_SR = 22050  # the analysis works at 22.05 kHz; rendering there halves the cache
_CORPUS_VERSION = 1  # bump when the pieces change, so a stale cache is rebuilt
_SOUNDFONTS = {
    "fluidr3": ("/usr/share/sounds/sf2/FluidR3_GM.sf2",),
    "timgm6mb": ("/usr/share/sounds/sf2/TimGM6mb.sf2",),
    "musescore": ("/usr/share/sounds/sf3/MuseScore_General.sf3",
                  "/usr/share/sounds/sf2/MuseScore_General.sf2"),
}
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_MAX_CHORALES = 200


@dataclass(frozen=True)
class Piece:
    """One rendered piece and its ground truth."""

    name: str  #: unique, e.g. "bwv10.7" or "loop-a-minor-2"
    family: str  #: "chorale" or "loop"
    tonic: int  #: 0 = C
    mode: str  #: "major" or "minor"
    bpm: float  #: the written tempo
    half_time: bool  #: drums in half time (the written tempo is the fast reading)
    soundfont: str
    split: str  #: "dev" or "test"
    path: str  #: FLAC, mono, 22.05 kHz

    @property
    def key_label(self) -> str:
        """``"A minor"``: the label ``mir_eval.key`` reads."""
        return f"{_NAMES[self.tonic]} {self.mode}"


def cache_dir() -> Path:
    """Where the rendered corpus lives (outside the repository)."""
    import os

    root = os.environ.get("VYKE_BENCH_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "vyke-bench"
    return base / "analysis-corpus"


def _split(name: str) -> str:
    return "dev" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "test"


def _soundfont_path(name: str) -> str | None:
    return next((p for p in _SOUNDFONTS[name] if Path(p).exists()), None)


def _available_soundfonts() -> list[str]:
    return [name for name in _SOUNDFONTS if _soundfont_path(name) is not None]


_SYNTHS: dict[str, tuple[object, int]] = {}


def _synth(soundfont: str) -> tuple[object, int]:
    """One FluidSynth per sound font per process (loading a compressed .sf3 takes seconds)."""
    import fluidsynth

    if soundfont not in _SYNTHS:
        path = _soundfont_path(soundfont)
        assert path is not None
        synth = fluidsynth.Synth(samplerate=float(_SR), gain=0.5)
        _SYNTHS[soundfont] = (synth, synth.sfload(path))
    return _SYNTHS[soundfont]


def _render(midi: object, soundfont: str, out: Path) -> None:
    """FluidSynth plays a ``pretty_midi.PrettyMIDI``; the result is normalised, stored as FLAC.

    The events are fed to the synthesiser in time order (pyfluidsynth), so the sound font is
    loaded once per process rather than once per piece as the ``fluidsynth`` command does.
    """
    import pretty_midi
    import soundfile as sf

    assert isinstance(midi, pretty_midi.PrettyMIDI)
    synth, sfid = _synth(soundfont)
    fs: Any = synth
    events: list[tuple[float, int, int, int, int]] = []  # (time, order, channel, pitch, vel)
    channel = 0
    for inst in midi.instruments:
        if inst.is_drum:
            chan = 9
            fs.program_select(chan, sfid, 128, 0)
        else:
            chan = channel if channel != 9 else 10
            channel = chan + 1
            fs.program_select(chan, sfid, 0, inst.program)
        for note in inst.notes:
            events.append((note.start, 1, chan, note.pitch, note.velocity))
            events.append((note.end, 0, chan, note.pitch, 0))
    events.sort()
    chunks: list[np.ndarray] = []
    now = 0
    for time_s, kind, chan, pitch, velocity in events:
        frame = round(time_s * _SR)
        if frame > now:
            chunks.append(np.asarray(fs.get_samples(frame - now)))
            now = frame
        if kind:
            fs.noteon(chan, pitch, velocity)
        else:
            fs.noteoff(chan, pitch)
    chunks.append(np.asarray(fs.get_samples(int(1.5 * _SR))))  # the release and reverb tail
    for chan in range(16):
        fs.cc(chan, 123, 0)  # all notes off before the next piece
    fs.get_samples(_SR)
    stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2) / 32768.0
    mono = stereo.mean(axis=1)
    peak = float(np.max(np.abs(mono))) or 1.0
    sf.write(str(out), (0.8 * mono / peak).astype(np.float32), _SR, format="FLAC")


# --- chorales ------------------------------------------------------------------------------

_CHORALE_ENSEMBLES = (
    ("organ", (19, 19, 19, 19)),
    ("strings", (40, 41, 42, 43)),
    ("choir", (52, 52, 52, 52)),
    ("piano", (0, 0, 0, 0)),
    ("winds", (73, 68, 71, 70)),
)


def _chorale_truth(score: object) -> tuple[int, str] | None:
    """(tonic, mode) from the score's key signature and stated mode, or ``None`` if unsure."""
    from music21 import stream

    assert isinstance(score, stream.Score)
    signatures = list(score.recurse().getElementsByClass("KeySignature"))
    if not signatures or len(score.parts) != 4:
        return None
    first = signatures[0]
    mode = getattr(first, "mode", None)
    if mode not in ("major", "minor"):
        return None
    major_tonic = (first.sharps * 7) % 12
    tonic = major_tonic if mode == "major" else (major_tonic + 9) % 12
    bass = list(score.parts[-1].flatten().notes)
    if not bass or bass[-1].pitches[0].pitchClass != tonic:
        return None  # ends away from the stated tonic: modal or a half cadence
    return tonic, mode


def _chorale_midi(score: object, *, transpose: int, bpm: float, programs: tuple[int, ...],
                  rng: random.Random) -> tuple[Any, float]:
    """The four voices as ``pretty_midi`` at ``bpm`` (quarter notes), and the length in s."""
    import pretty_midi
    from music21 import stream

    assert isinstance(score, stream.Score)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    beat_s = 60.0 / bpm
    end_s = 0.0
    for part, program in zip(score.parts, programs, strict=False):
        inst = pretty_midi.Instrument(program=program)
        for element in part.flatten().notes:
            start = float(element.offset) * beat_s
            end = start + max(0.05, float(element.quarterLength) * beat_s * 0.97)
            for pitch in element.pitches:
                inst.notes.append(pretty_midi.Note(
                    velocity=rng.randint(68, 92), pitch=int(pitch.midi) + transpose,
                    start=start, end=end))
            end_s = max(end_s, end)
        pm.instruments.append(inst)
    return pm, end_s


def _chorales(out_dir: Path, soundfonts: list[str]) -> list[Piece]:
    from music21 import corpus

    pieces: list[Piece] = []
    for path in sorted(corpus.getComposer("bach"), key=lambda p: str(p)):
        if len(pieces) >= _MAX_CHORALES:
            break
        name = Path(path).name.split(".mxl")[0]
        rng = random.Random(f"chorale:{name}")
        transpose = rng.randint(-5, 6)
        bpm = float(rng.randint(70, 110))
        soundfont = soundfonts[len(pieces) % len(soundfonts)]
        ensemble, programs = _CHORALE_ENSEMBLES[rng.randrange(len(_CHORALE_ENSEMBLES))]
        target = out_dir / f"{name}.flac"
        meta = out_dir / f"{name}.json"
        if target.exists() and meta.exists():
            pieces.append(Piece(**json.loads(meta.read_text())))
            continue
        try:
            score = corpus.parse(path)
        except Exception:  # a corpus file music21 cannot read is simply not in the corpus
            continue
        truth = _chorale_truth(score)
        if truth is None:
            continue
        tonic, mode = truth
        midi, length_s = _chorale_midi(score, transpose=transpose, bpm=bpm, programs=programs,
                                       rng=rng)
        if length_s < 15.0:
            continue
        _render(midi, soundfont, target)
        piece = Piece(name=name, family=f"chorale/{ensemble}", tonic=(tonic + transpose) % 12,
                      mode=mode, bpm=bpm, half_time=False, soundfont=soundfont,
                      split=_split(name), path=str(target))
        meta.write_text(json.dumps(asdict(piece)))
        pieces.append(piece)
    return pieces


# --- electronic loops ----------------------------------------------------------------------

_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)
_MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (0, 5, 3, 4))
_MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 4, 0))
_BASSES = (38, 39, 33, 87, 34)
_PADS = (89, 90, 88, 4, 48, 94)
_LEADS = (80, 81, 11, 73, 84, 62)


def _triad(degree: int, steps: tuple[int, ...], *, raised_fifth_chord: bool) -> list[int]:
    """Pitch offsets (from the tonic) of the diatonic triad on ``degree``."""
    notes = [steps[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
    if raised_fifth_chord and degree == 4:
        notes[1] += 1  # the major dominant of harmonic minor (the leading tone)
    return notes


def _drum_pattern(kind: str) -> list[tuple[float, int, int]]:
    """(beat within a 4-beat bar, GM drum note, velocity) for one bar."""
    hats = [(b / 2, 42, 70) for b in range(8)]
    if kind == "four":
        return [(b, 36, 110) for b in range(4)] + [(1, 39, 95), (3, 39, 95)] + \
            [(b + 0.5, 46, 75) for b in range(4)]
    if kind == "backbeat":
        return [(0, 36, 110), (2, 36, 105), (2.5, 36, 90), (1, 38, 100), (3, 38, 100), *hats]
    if kind == "breakbeat":
        return [(0, 36, 110), (1.5, 36, 95), (2.5, 36, 100), (1, 38, 100), (3, 38, 105),
                (3.75, 38, 70)] + [(b / 4, 42, 55 + 15 * (b % 2 == 0)) for b in range(16)]
    if kind == "halftime":
        return [(0, 36, 115), (2.5, 36, 95), (2, 38, 110)] + \
            [(b / 4, 42, 50 + 20 * (b % 2 == 0)) for b in range(16)]
    raise ValueError(kind)


def _loop_midi(*, tonic: int, mode: str, variant: int, bpm: float, drums: str,
               rng: random.Random) -> Any:
    """A loop as ``pretty_midi``: bass, pad, lead (from bar 5) and drums (from bar 3)."""
    import pretty_midi

    steps = _MAJOR_STEPS if mode == "major" else _MINOR_STEPS
    progressions = _MAJOR_PROGRESSIONS if mode == "major" else _MINOR_PROGRESSIONS
    progression = progressions[variant % len(progressions)]
    harmonic = mode == "minor" and variant % len(progressions) == 3
    beat_s = 60.0 / bpm
    bars = 16 if bpm < 120 else 24
    # the loop's register: tonic between E2 and D#3 for the bass
    base = 40 + (tonic - 4) % 12
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    bass = pretty_midi.Instrument(program=_BASSES[rng.randrange(len(_BASSES))])
    pad = pretty_midi.Instrument(program=_PADS[rng.randrange(len(_PADS))])
    lead = pretty_midi.Instrument(program=_LEADS[rng.randrange(len(_LEADS))])
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    ends_home = variant % 2 == 0
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        if ends_home and bar == bars - 1:
            degree = 0
        chord = _triad(degree, steps, raised_fifth_chord=harmonic)
        t0 = bar * 4 * beat_s
        for offset in chord:  # pad: the triad held for the bar, voiced around C4
            pitch = 54 + (tonic + offset - 54) % 12
            pad.notes.append(pretty_midi.Note(velocity=70, pitch=pitch, start=t0,
                                              end=t0 + 4 * beat_s * 0.98))
        root = base + chord[0] % 12 if base + chord[0] % 12 < 56 else base + chord[0] % 12 - 12
        rhythm = ((0, 1.5), (1.5, 1.0), (2.5, 1.5)) if variant % 3 else ((0, 0.5), (1, 0.5),
                                                                         (2, 0.5), (3, 0.5))
        for beat, length in rhythm:
            bass.notes.append(pretty_midi.Note(velocity=100, pitch=root,
                                               start=t0 + beat * beat_s,
                                               end=t0 + (beat + length * 0.9) * beat_s))
        if bar >= 4:  # the lead enters after four bars: chord tones on beats, steps between
            for beat in range(4):
                pool = chord if beat % 2 == 0 else [steps[i] for i in range(7)]
                offset = pool[rng.randrange(len(pool))]
                pitch = 72 + (tonic + offset - 72) % 12
                if bar == bars - 1 and ends_home:
                    pitch = 72 + (tonic - 72) % 12
                lead.notes.append(pretty_midi.Note(velocity=85, pitch=pitch,
                                                   start=t0 + beat * beat_s,
                                                   end=t0 + (beat + 0.8) * beat_s))
        if bar >= 2:  # drums from bar 3 on
            for beat, note, velocity in _drum_pattern(drums):
                start = t0 + beat * beat_s
                kit.notes.append(pretty_midi.Note(velocity=velocity, pitch=note, start=start,
                                                  end=start + 0.1))
    pm.instruments += [bass, pad, lead, kit]
    return pm


def _loops(out_dir: Path, soundfonts: list[str]) -> list[Piece]:
    pieces: list[Piece] = []
    for mode in ("major", "minor"):
        for tonic in range(12):
            for variant in range(5):
                name = f"loop-{_NAMES[tonic].replace('#', 's').lower()}-{mode}-{variant}"
                rng = random.Random(f"loop:{name}")
                bpm = float(rng.randint(70, 180))
                if bpm >= 150 and rng.random() < 0.5:
                    drums = "halftime"
                else:
                    drums = ("four", "backbeat", "breakbeat")[rng.randrange(3)]
                soundfont = soundfonts[(tonic + variant) % len(soundfonts)]
                target = out_dir / f"{name}.flac"
                piece = Piece(name=name, family=f"loop/{drums}", tonic=tonic, mode=mode, bpm=bpm,
                              half_time=drums == "halftime", soundfont=soundfont,
                              split=_split(name), path=str(target))
                if not target.exists():
                    midi = _loop_midi(tonic=tonic, mode=mode, variant=variant, bpm=bpm,
                                      drums=drums, rng=rng)
                    _render(midi, soundfont, target)
                pieces.append(piece)
    return pieces


def build_corpus() -> list[Piece]:
    """Render whatever is missing from the cache and return every piece with its truth.

    Raises
    ------
    RuntimeError
        When FluidSynth, a sound font or ``music21`` is missing (``make bench`` installs
        them: see the README).
    """
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth, over the system's libfluidsynth)
    except (ImportError, OSError) as exc:
        raise RuntimeError("FluidSynth is missing (apt-get install fluidsynth; pip install "
                           "-e '.[bench]')") from exc
    soundfonts = _available_soundfonts()
    if len(soundfonts) < 2:
        raise RuntimeError("need two or more General MIDI sound fonts (apt-get install "
                           "fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont)")
    try:
        import music21  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("music21 is not installed (pip install -e '.[bench]')") from exc
    out_dir = cache_dir() / f"v{_CORPUS_VERSION}"
    out_dir.mkdir(parents=True, exist_ok=True)
    return _chorales(out_dir, soundfonts) + _loops(out_dir, soundfonts)


def load_audio(piece: Piece) -> tuple[np.ndarray, int]:
    """The piece's mono audio (float32) and its sample rate."""
    import soundfile as sf

    audio, rate = sf.read(piece.path, dtype="float32")
    return audio, int(rate)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="print every piece and its truth")
    args = parser.parse_args(argv)
    pieces = build_corpus()
    if args.list:
        for p in pieces:
            print(f"{p.split:4} {p.family:18} {p.name:28} {p.key_label:9} {p.bpm:5.0f} {p.soundfont}")
    counts: dict[str, int] = {}
    for p in pieces:
        counts[f"{p.split} {p.family.split('/')[0]}"] = counts.get(
            f"{p.split} {p.family.split('/')[0]}", 0) + 1
    print(f"{len(pieces)} pieces in {cache_dir()}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
