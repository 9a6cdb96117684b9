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
