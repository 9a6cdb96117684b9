"""Keys: parsing the spellings musicians use, and spelling keys back the way charts do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.music import Key, Mode, parse_key, pitch_class_name

MINOR, MAJOR = Mode.MINOR, Mode.MAJOR

PARSE_CASES: list[tuple[str, int, Mode]] = [
    ("Fm", 5, MINOR), ("fm", 5, MINOR), ("F minor", 5, MINOR), ("F min", 5, MINOR), ("F-", 5, MINOR),
    ("f#m", 6, MINOR), ("F#m", 6, MINOR), ("F♯m", 6, MINOR), ("F sharp minor", 6, MINOR),
    ("Bb major", 10, MAJOR), ("Bb", 10, MAJOR), ("B♭", 10, MAJOR), ("b flat major", 10, MAJOR),
    ("Bbm", 10, MINOR), ("Eb minor", 3, MINOR), ("Ebm", 3, MINOR), ("D#m", 3, MINOR),
    ("C", 0, MAJOR), ("C major", 0, MAJOR), ("Cmaj", 0, MAJOR), ("CM", 0, MAJOR),
    ("A min", 9, MINOR), ("Am", 9, MINOR), ("a minor", 9, MINOR), ("A", 9, MAJOR),
    ("Cb", 11, MAJOR), ("B#", 0, MAJOR), ("E#m", 5, MINOR), ("Fb", 4, MAJOR),
    ("  G  ", 7, MAJOR), ("g minor", 7, MINOR), ("Db", 1, MAJOR), ("C#m", 1, MINOR),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tonic", "mode"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_key(text: str, tonic: int, mode: Mode) -> None:
    assert parse_key(text) == Key(tonic=tonic, mode=mode)


@pytest.mark.parametrize(
    "text", ["", "H", "I am", "a bit", "Fmajor7", "F minor please", "123", "#", "🎵"]
)
def test_not_a_key(text: str) -> None:
    assert parse_key(text) is None


SPELLING_CASES: list[tuple[int, Mode, str, str]] = [
    (5, MINOR, "Fm", "F minor"), (10, MAJOR, "Bb", "Bb major"), (6, MINOR, "F#m", "F# minor"),
    (6, MAJOR, "F#", "F# major"), (1, MAJOR, "Db", "Db major"), (1, MINOR, "C#m", "C# minor"),
    (3, MINOR, "Ebm", "Eb minor"), (8, MAJOR, "Ab", "Ab major"), (8, MINOR, "G#m", "G# minor"),
    (10, MINOR, "Bbm", "Bb minor"), (0, MAJOR, "C", "C major"), (9, MINOR, "Am", "A minor"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tonic", "mode", "short", "long"), SPELLING_CASES, ids=[c[2] for c in SPELLING_CASES]
)
def test_spelling(tonic: int, mode: Mode, short: str, long: str) -> None:
    key = Key(tonic=tonic, mode=mode)
    assert key.short_name == short == str(key)
    assert key.long_name == long
    assert parse_key(short) == key
    assert parse_key(long) == key


def test_relative_keys() -> None:
    assert Key(tonic=5, mode=MINOR).relative == Key(tonic=8, mode=MAJOR)  # Fm <-> Ab
    assert Key(tonic=0, mode=MAJOR).relative == Key(tonic=9, mode=MINOR)  # C <-> Am


@pytest.mark.parametrize(
    ("source", "target", "semitones"),
    [
        ("Am", "Fm", -4),
        ("C", "F", 5),
        ("C", "F#", -6),
        ("Fm", "Fm", 0),
        ("Gm", "Fm", -2),
        ("E", "Fm", 1),
    ],
)
def test_semitones_to_takes_the_shortest_shift(source: str, target: str, semitones: int) -> None:
    a, b = parse_key(source), parse_key(target)
    assert a is not None and b is not None
    assert a.semitones_to(b) == semitones


@pytest.mark.parametrize(
    ("source", "target", "semitones"),
    [
        ("C", "Fm", -4),  # to A-flat major: every note of the melody is in F minor
        ("C", "F", 5),
        ("Am", "C", 0),  # already the same notes
        ("Dm", "G", 2),  # to E minor, G major's relative
        ("Fm", "Gm", 2),
    ],
)
def test_transposition_keeps_the_melody_in_the_new_key(source: str, target: str,
                                                       semitones: int) -> None:
    a, b = parse_key(source), parse_key(target)
    assert a is not None and b is not None
    assert a.transposition_to(b) == semitones


def test_pitch_class_names() -> None:
    assert [pitch_class_name(pc) for pc in (0, 1, 10, 12, -1)] == ["C", "C#", "A#", "C", "B"]
    assert pitch_class_name(10, prefer_flats=True) == "Bb"


def test_key_is_frozen_and_bounded() -> None:
    with pytest.raises(ValueError):
        Key(tonic=12, mode=MAJOR)
    key = Key(tonic=5, mode=MINOR)
    with pytest.raises(ValueError):
        key.tonic = 6  # type: ignore[misc]
    assert {key, Key(tonic=5, mode=MINOR)} == {key}


@given(tonic=st.integers(0, 11), mode=st.sampled_from(Mode))
def test_spelling_round_trips(tonic: int, mode: Mode) -> None:
    key = Key(tonic=tonic, mode=mode)
    assert parse_key(key.short_name) == key
    assert parse_key(key.long_name) == key
    assert -6 <= key.semitones_to(key.relative) <= 5


@given(st.text(max_size=40))
def test_parse_key_never_raises(text: str) -> None:
    result = parse_key(text)
    assert result is None or isinstance(result, Key)
