"""A sung line's key, read from its own notes: right in every key and mode, moved or not."""

from __future__ import annotations

import numpy as np
import pytest

from core.music import Key, Mode
from jobs.demo_song import render_demo_stems
from jobs.melody_key import melody, melody_key
from jobs.vocal import shift_and_stretch
from jobs.vocal_track import SURE_MARGIN

SR = 44100
KEYS = [(0, "major"), (4, "minor"), (6, "major"), (11, "minor"), (2, "minor"), (9, "minor")]


@pytest.mark.parametrize(("tonic", "mode"), KEYS)
def test_the_demo_vocal_reads_in_its_own_key(tonic: int, mode: str) -> None:
    vocal = render_demo_stems(duration_s=16.0, tonic=tonic, mode=mode)["vocals"]
    sung = melody(vocal, sample_rate=SR)
    reading = melody_key(sung)
    key = Key(tonic=tonic, mode=Mode(mode))
    assert reading is not None and reading.key == key, reading
    assert reading.margin >= 1.5 * SURE_MARGIN  # sure enough to act on
    assert sung.in_key_share(key) is not None and sung.in_key_share(key) >= 0.95
    assert 55 <= (sung.median() or 0) <= 84  # a voice's range, not an overtone's


def test_a_moved_vocal_reads_where_it_was_moved() -> None:
    vocal = render_demo_stems(duration_s=16.0, tonic=2, mode="minor")["vocals"]
    moved = shift_and_stretch(vocal, sample_rate=SR, semitones=-2, source_bpm=118.0,
                              target_bpm=130.0)
    reading = melody_key(melody(moved, sample_rate=SR))
    assert reading is not None and reading.key == Key(tonic=0, mode=Mode.MINOR), reading


def test_silence_has_no_key() -> None:
    assert melody_key(melody(np.zeros((2, SR * 4), dtype=np.float32), sample_rate=SR)) is None


def test_a_vocal_moved_from_a_misread_key_is_moved_again_into_the_key() -> None:
    """The issue's case: a G# minor song read as F# major, remixed in F minor. The planned
    +2 lands the vocal in Bb minor, outside F minor's notes; the render hears that, moves it by
    what it heard (−3 in all: G# minor → F minor) and says both readings."""
    from core.spec import ProductionSpec, Section, TrackSpec, VocalProcessing
    from jobs.vocal_track import make_vocal_track

    song = Key(tonic=8, mode=Mode.MINOR)
    misread, key = Key(tonic=6, mode=Mode.MAJOR), Key(tonic=5, mode=Mode.MINOR)
    sr = 22050  # half the engine's rate: the same notes, half the work
    stems = render_demo_stems(duration_s=14.0, tonic=song.tonic, mode="minor", sample_rate=sr)
    spec = ProductionSpec(
        title="t", genre="uk_garage", tempo_bpm=118.0, key=key, source_key=misread,
        source_tempo_bpm=118.0, vocal=VocalProcessing(semitones=misread.transposition_to(key)),
        sections=[Section(name="chorus", kind="chorus", bars=8, layers=["vocals"])],
        tracks=[TrackSpec(name="vocals", role="vocals", source="stem", stem="vocals")])
    made = make_vocal_track(spec, spec.tracks[0], vocal=stems["vocals"],
                            backing=[stems["drums"], stems["bass"], stems["other"]],
                            length=round(8 * spec.bar_s * sr), sample_rate=sr)
    heard = made.reading
    assert heard["planned_shift"] == 2 and heard["planned_reading"] == "Bbm"
    assert heard["applied_shift"] == -3 and heard["key"] == "Fm" and heard["fits"] is True
    assert made.in_key_share is not None and made.in_key_share >= 0.95
    # a shift the director set by hand is kept, heard and reported, not moved
    by_hand = spec.model_copy(update={"vocal": VocalProcessing(semitones=2, recheck_key=False)})
    kept = make_vocal_track(by_hand, spec.tracks[0], vocal=stems["vocals"], backing=[],
                            length=round(8 * spec.bar_s * sr), sample_rate=sr).reading
    assert kept["applied_shift"] == 2 and kept["fits"] is False and "planned_reading" not in kept


def test_a_vocal_already_on_the_keys_notes_is_not_moved_whatever_key_its_tune_names() -> None:
    """The demo song: a C-major vocal kept at its pitch for an A-minor remix. Stretched to the
    remix's tempo its tune can name F major (it never sings B), yet every note it sings is in A
    minor: it stays where it is (moving it a fourth down changed the song for nothing)."""
    from core.spec import ProductionSpec, Section, TrackSpec, VocalProcessing
    from jobs.vocal_track import make_vocal_track

    sr = 22050
    stems = render_demo_stems(duration_s=14.0, sample_rate=sr)
    key = Key(tonic=9, mode=Mode.MINOR)
    spec = ProductionSpec(
        title="t", genre="afro_house", tempo_bpm=126.0, key=key,
        source_key=Key(tonic=0, mode=Mode.MAJOR), source_tempo_bpm=118.0,
        vocal=VocalProcessing(semitones=0),
        sections=[Section(name="drop", kind="drop", bars=8, layers=["vocals"])],
        tracks=[TrackSpec(name="vocals", role="vocals", source="stem", stem="vocals")])
    made = make_vocal_track(spec, spec.tracks[0], vocal=stems["vocals"], backing=[],
                            length=round(8 * spec.bar_s * sr), sample_rate=sr)
    assert made.reading["applied_shift"] == 0, made.reading
    assert made.reading.get("fits") in (True, None)
    assert made.in_key_share is not None and made.in_key_share >= 0.95
