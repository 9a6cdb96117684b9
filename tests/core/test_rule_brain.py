"""RuleBrain: what a director types, and what a musician expects the brain to hear.

The tables are the specification. When a phrasing fails, the brain is fixed, not the row.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chefs.genre import load_genres
from core.brain import Aspect, BrainContext, Domain, Feedback, Intent, Understanding
from core.brief import VocalMode, Workflow
from core.music import Key, Mode
from core.rule_brain import MAX_TEXT_CHARS, RuleBrain, normalise_text

# --- contexts --------------------------------------------------------------------------------

NEW = BrainContext()
SONG = BrainContext(has_song=True)
KEY_BPM = BrainContext(
    pending_topic="key_bpm",
    option_ids=["agree", "keep", "other"],
    option_labels=["Yes", "Keep the original", "Something else"],
    has_song=True,
)
VOCAL = BrainContext(
    pending_topic="vocal",
    option_ids=["keep", "chops", "none"],
    option_labels=["Keep lyrics", "Vocal chops", "Instrumental"],
    has_song=True,
)
GENRE = BrainContext(pending_topic="genre", has_song=True)
REVIEW = BrainContext(
    has_song=True,
    has_version=True,
    track_names=["vocals", "kick", "drums", "percussion", "bass", "music"],
    section_names=["intro", "build", "drop", "breakdown", "outro"],
)
CONTEXTS = {
    "new": NEW,
    "song": SONG,
    "key_bpm": KEY_BPM,
    "vocal": VOCAL,
    "genre": GENRE,
    "review": REVIEW,
}


@pytest.fixture(scope="module")
def brain() -> RuleBrain:
    return RuleBrain(genres=load_genres())


def _key(name: str) -> Key:
    letter, _, mode = name.partition(" ")
    pitch = {"c": 0, "c#": 1, "db": 1, "d": 2, "eb": 3, "e": 4, "f": 5, "f#": 6, "gb": 6,
             "g": 7, "ab": 8, "a": 9, "bb": 10, "b": 11}[letter.lower()]  # fmt: skip
    return Key(tonic=pitch, mode=Mode.MINOR if mode == "minor" else Mode.MAJOR)


def fb(
    domain: Domain,
    aspect: Aspect,
    direction: str,
    target: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """The fields of one expected :class:`Feedback` (``text`` is not compared)."""
    return {"domain": domain, "aspect": aspect, "direction": direction, "target": target,
            "amount": None, "start_bar": None, "end_bar": None, "section": "", **extra}  # fmt: skip


def _fields(item: Feedback) -> dict[str, Any]:
    return item.model_dump(exclude={"text", "more_sections"} if not item.more_sections else {"text"})


M, MA, V, D, A, SD, G, B = (
    Domain.MIXING, Domain.MASTERING, Domain.VOCAL, Domain.DRUMS, Domain.ARRANGEMENT,
    Domain.SOUND_DESIGN, Domain.GENRE, Domain.BASS,
)  # fmt: skip

# --- feedback: (text, context, expected feedback items in order) ---------------------------

FEEDBACK_CASES: list[tuple[str, BrainContext, list[dict[str, Any]]]] = [
    # the seed conversation
    ("Bass too loud, needs more sidechain", REVIEW,
     [fb(M, Aspect.LEVEL, "down", "bass"), fb(M, Aspect.SIDECHAIN, "up", "bass")]),
    ("Perfect! Add filter sweep on build (bars 33-48)", REVIEW,
     [fb(SD, Aspect.FILTER_SWEEP, "add", start_bar=33, end_bar=48, section="build")]),
    ("Add filter sweep on build (bars 33-48)", REVIEW,
     [fb(SD, Aspect.FILTER_SWEEP, "add", start_bar=33, end_bar=48, section="build")]),
    # levels, per element
    ("vocals too quiet", REVIEW, [fb(M, Aspect.LEVEL, "up", "vocals")]),
    ("the vocal is buried", REVIEW, [fb(M, Aspect.LEVEL, "up", "vocals")]),
    ("kick is way too loud", REVIEW, [fb(M, Aspect.LEVEL, "down", "kick")]),
    ("turn the hats down", REVIEW, [fb(M, Aspect.LEVEL, "down", "percussion")]),
    ("can't hear the bass", REVIEW, [fb(M, Aspect.LEVEL, "up", "bass")]),
    ("I can’t hear the bassline at all", REVIEW, [fb(M, Aspect.LEVEL, "up", "bass")]),
    ("bring the vocals up 2 dB", REVIEW, [fb(M, Aspect.LEVEL, "up", "vocals", amount=2.0)]),
    ("lower the kick by 3db", REVIEW, [fb(M, Aspect.LEVEL, "down", "kick", amount=3.0)]),
    ("the 808 is overpowering", REVIEW, [fb(M, Aspect.LEVEL, "down", "bass")]),
    ("snare is too quiet", REVIEW, [fb(M, Aspect.LEVEL, "up", "drums")]),
    ("less bass", REVIEW, [fb(M, Aspect.LEVEL, "down", "bass")]),
    ("more kick", REVIEW, [fb(M, Aspect.LEVEL, "up", "kick")]),
    ("the pads are a bit too loud in the breakdown", REVIEW,
     [fb(M, Aspect.LEVEL, "down", "music", section="breakdown")]),
    ("make the vocals pop", REVIEW, [fb(M, Aspect.LEVEL, "up", "vocals")]),
    ("bass too loud and the vocals too quiet", REVIEW,
     [fb(M, Aspect.LEVEL, "down", "bass"), fb(M, Aspect.LEVEL, "up", "vocals")]),
    # sidechain
    ("more sidechain on the bass", REVIEW, [fb(M, Aspect.SIDECHAIN, "up", "bass")]),
    ("less sidechain", REVIEW, [fb(M, Aspect.SIDECHAIN, "down", "bass")]),
    ("sidechain the bass harder", REVIEW, [fb(M, Aspect.SIDECHAIN, "up", "bass")]),
    ("too much pumping on the pads", REVIEW, [fb(M, Aspect.SIDECHAIN, "down", "music")]),
    # tone
    ("it sounds thin", REVIEW, [fb(M, Aspect.THIN, "up")]),
    ("the bass needs more body", REVIEW, [fb(M, Aspect.THIN, "up", "bass")]),
    ("the mix is muddy", REVIEW, [fb(M, Aspect.MUDDY, "down", "master")]),
    ("low end is muddy", REVIEW, [fb(M, Aspect.MUDDY, "down", "bass")]),
    ("vocals are harsh", REVIEW, [fb(M, Aspect.HARSH, "down", "vocals")]),
    ("the hats are too harsh", REVIEW, [fb(M, Aspect.HARSH, "down", "percussion")]),
    ("make it brighter", REVIEW, [fb(M, Aspect.BRIGHTNESS, "up")]),
    ("vocals need more air", REVIEW, [fb(M, Aspect.BRIGHTNESS, "up", "vocals")]),
    ("darker pads please", REVIEW, [fb(M, Aspect.BRIGHTNESS, "down", "music")]),
    ("the synths are too bright", REVIEW, [fb(M, Aspect.BRIGHTNESS, "down", "music")]),
    ("kick needs more punch", REVIEW, [fb(M, Aspect.PUNCH, "up", "kick")]),
    ("make the drums punchier", REVIEW, [fb(M, Aspect.PUNCH, "up", "drums")]),
    ("wider pads", REVIEW, [fb(M, Aspect.WIDTH, "up", "music")]),
    ("the mix is too narrow", REVIEW, [fb(MA, Aspect.WIDTH, "up", "master")]),
    # space
    ("more reverb on the vocals", REVIEW, [fb(M, Aspect.REVERB, "up", "vocals")]),
    ("too much reverb on the vocal", REVIEW, [fb(M, Aspect.REVERB, "down", "vocals")]),
    ("vocals are too dry", REVIEW, [fb(M, Aspect.REVERB, "up", "vocals")]),
    ("add a delay on the vocal", REVIEW, [fb(M, Aspect.DELAY, "up", "vocals")]),
    # master and loudness
    ("make it louder", REVIEW, [fb(MA, Aspect.LOUDNESS, "up", "master")]),
    ("louder master", REVIEW, [fb(MA, Aspect.LOUDNESS, "up", "master")]),
    ("it's too loud overall", REVIEW, [fb(MA, Aspect.LOUDNESS, "down", "master")]),
    ("master it for the club", REVIEW, [fb(MA, Aspect.LOUDNESS, "up", "master")]),
    ("-9 LUFS", REVIEW, [fb(MA, Aspect.LOUDNESS, "up", "master", amount=-9.0)]),
    ("master to -9 LUFS please", REVIEW, [fb(MA, Aspect.LOUDNESS, "up", "master", amount=-9.0)]),
    # arrangement and sound design
    ("filter sweep over bars 17 to 32", REVIEW,
     [fb(SD, Aspect.FILTER_SWEEP, "add", start_bar=17, end_bar=32)]),
    ("add a riser before the drop", REVIEW, [fb(SD, Aspect.RISER, "add", section="drop")]),
    ("add a riser in bars 29-32", REVIEW, [fb(SD, Aspect.RISER, "add", start_bar=29, end_bar=32)]),
    ("add an impact at the drop", REVIEW, [fb(SD, Aspect.IMPACT, "add", section="drop")]),
    ("needs more energy in the drop", REVIEW, [fb(A, Aspect.ENERGY, "up", section="drop")]),
    ("can you make the drop bigger", REVIEW, [fb(A, Aspect.ENERGY, "up", section="drop")]),
    ("stutter the vocal in the build", REVIEW, [fb(V, Aspect.STUTTER, "add", "vocals", section="build")]),
    ("chop up the vocal in the breakdown", REVIEW,
     [fb(V, Aspect.CHOPS, "add", "vocals", section="breakdown")]),
    # groove
    ("more swing on the hats", REVIEW, [fb(D, Aspect.SWING, "up", "percussion")]),
    ("the drums feel too stiff", REVIEW, [fb(D, Aspect.SWING, "up", "drums")]),
    ("busier hats", REVIEW, [fb(D, Aspect.BUSIER, "up", "percussion")]),
    ("more hats", REVIEW, [fb(D, Aspect.BUSIER, "up", "percussion")]),
    ("the drums are too busy", REVIEW, [fb(D, Aspect.BUSIER, "down", "drums")]),
    ("busier bassline", REVIEW, [fb(B, Aspect.BUSIER, "up", "bass")]),
    # tempo as feedback on a version
    ("a bit faster", REVIEW, [fb(G, Aspect.TEMPO, "up")]),
    ("slower please", REVIEW, [fb(G, Aspect.TEMPO, "down")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "context", "expected"), FEEDBACK_CASES, ids=[c[0] for c in FEEDBACK_CASES]
)
def test_feedback(
    brain: RuleBrain, text: str, context: BrainContext, expected: list[dict[str, Any]]
) -> None:
    u = brain.parse(text, context=context)
    assert [_fields(f) for f in u.feedback] == expected
    assert u.has(Intent.FEEDBACK)
    assert not u.has(Intent.UNKNOWN)
    assert u.genre is None, "feedback must not be read as a genre change"
    assert u.workflow is None


def test_feedback_keeps_the_words_it_came_from(brain: RuleBrain) -> None:
    u = brain.parse("Bass too loud, needs more sidechain", context=REVIEW)
    assert [f.text for f in u.feedback] == ["bass too loud", "needs more sidechain"]


def test_praise_and_a_change_in_one_message(brain: RuleBrain) -> None:
    u = brain.parse("Perfect! Add filter sweep on build (bars 33-48)", context=REVIEW)
    assert u.intents == [Intent.APPROVE, Intent.FEEDBACK]


def test_master_destination_and_target(brain: RuleBrain) -> None:
    assert brain.parse("master it for the club", context=REVIEW).destination == "club"
    assert brain.parse("-9 LUFS", context=REVIEW).target_lufs == -9.0
    assert brain.parse("make it spotify ready", context=REVIEW).destination == "streaming"
    assert brain.parse("-60 LUFS", context=REVIEW).target_lufs is None  # out of range: not a target


# --- parameter answers: (text, context, expected Understanding fields) ---------------------

PARAM_CASES: list[tuple[str, BrainContext, dict[str, Any]]] = [
    # the seed's key/tempo question: "I suggest Fm at 128 BPM. Agree?"
    ("Yes, but make it 126 BPM", KEY_BPM, {"agree": True, "bpm": ("absolute", 126)}),
    ("yes", KEY_BPM, {"agree": True, "bpm": None, "key": None}),
    ("sounds good", KEY_BPM, {"agree": True}),
    ("no", KEY_BPM, {"agree": False}),
    ("nope, G minor at 122 bpm", KEY_BPM, {"agree": False, "key": "g minor", "bpm": ("absolute", 122)}),
    ("2", KEY_BPM, {"option_id": "keep"}),
    ("Keep the original", KEY_BPM, {"option_id": "keep"}),
    # tempo in numbers and words
    ("126", KEY_BPM, {"bpm": ("absolute", 126)}),
    ("126 bpm", KEY_BPM, {"bpm": ("absolute", 126)}),
    ("make it 124", KEY_BPM, {"bpm": ("absolute", 124)}),
    ("one twenty six bpm", KEY_BPM, {"bpm": ("absolute", 126)}),
    ("one twenty six", KEY_BPM, {"bpm": ("absolute", 126)}),
    ("a hundred and twenty-eight bpm", KEY_BPM, {"bpm": ("absolute", 128)}),
    ("ninety bpm", KEY_BPM, {"bpm": ("absolute", 90)}),
    ("174 beats per minute", KEY_BPM, {"bpm": ("absolute", 174)}),
    ("a bit faster", KEY_BPM, {"bpm": ("relative", 3)}),
    ("a little slower", KEY_BPM, {"bpm": ("relative", -3)}),
    ("much faster", KEY_BPM, {"bpm": ("relative", 10)}),
    ("speed it up by 4 bpm", KEY_BPM, {"bpm": ("relative", 4)}),
    ("half time", KEY_BPM, {"bpm": ("half", 0)}),
    ("double time", KEY_BPM, {"bpm": ("double", 0)}),
    ("keep the tempo", KEY_BPM, {"bpm": ("keep", 0), "keep_key": False}),
    ("same bpm", KEY_BPM, {"bpm": ("keep", 0)}),
    ("up the tempo to 128", REVIEW, {"bpm": ("absolute", 128)}),
    # keys in common spellings
    ("Fm", KEY_BPM, {"key": "f minor", "bpm": None}),
    ("F minor", KEY_BPM, {"key": "f minor"}),
    ("f#m", KEY_BPM, {"key": "f# minor"}),
    ("F# minor", KEY_BPM, {"key": "f# minor"}),
    ("f sharp minor", KEY_BPM, {"key": "f# minor"}),
    ("Bb major", KEY_BPM, {"key": "bb major"}),
    ("b flat major", KEY_BPM, {"key": "bb major"}),
    ("in Bb major please", KEY_BPM, {"key": "bb major"}),
    ("in C", KEY_BPM, {"key": "c major"}),
    ("A min", KEY_BPM, {"key": "a minor"}),
    ("Am", KEY_BPM, {"key": "a minor"}),
    ("Am at 124", KEY_BPM, {"key": "a minor", "bpm": ("absolute", 124)}),
    ("Eb minor at 128", KEY_BPM, {"key": "eb minor", "bpm": ("absolute", 128)}),
    ("Fm 126", KEY_BPM, {"key": "f minor", "bpm": ("absolute", 126)}),
    ("yes but in D minor", KEY_BPM, {"agree": True, "key": "d minor"}),
    ("let's do it in G", KEY_BPM, {"key": "g major"}),
    ("C# minor", KEY_BPM, {"key": "c# minor"}),
    ("key of D", KEY_BPM, {"key": "d major"}),
    ("keep the original key", KEY_BPM, {"keep_key": True, "key": None}),
    ("keep the key but 128 bpm", KEY_BPM, {"keep_key": True, "bpm": ("absolute", 128)}),
    # ... and words that are not keys
    ("I am not sure", KEY_BPM, {"key": None, "agree": None, "intents": [Intent.UNKNOWN]}),
    ("a bit", KEY_BPM, {"key": None, "intents": [Intent.UNKNOWN]}),
    ("a", KEY_BPM, {"key": None, "bpm": None, "intents": [Intent.UNKNOWN]}),
    ("be right back in a minute", KEY_BPM, {"key": None, "intents": [Intent.UNKNOWN]}),
    ("Gm", KEY_BPM, {"key": "g minor"}),
    ("that's a major improvement", REVIEW, {"key": None}),
    ("a minor tweak to the hats", REVIEW, {"key": None}),
    ("cut the lows at 120 hz", REVIEW, {"bpm": None}),
    ("add an impact at 65", REVIEW, {"bpm": None}),
    ("lower the kick by 3 db", REVIEW, {"key": None}),
    ("gm everyone", SONG, {"key": None}),
    ("a bpm", KEY_BPM, {"bpm": None, "intents": [Intent.UNKNOWN]}),
    # the vocal question
    ("Keep lyrics but add some stutter effect in the build", VOCAL,
     {"vocal": {"mode": VocalMode.KEEP_LYRICS, "stutter_sections": ["build"]}, "feedback": []}),
    ("keep the vocals, pitch shift with formants preserved", VOCAL,
     {"vocal": {"mode": VocalMode.KEEP_LYRICS, "preserve_formants": True}}),
    ("vocal chops please", VOCAL, {"vocal": {"mode": VocalMode.CHOPS}}),
    ("chop it up", VOCAL, {"vocal": {"mode": VocalMode.CHOPS}}),
    ("no vocals", VOCAL, {"vocal": {"mode": VocalMode.INSTRUMENTAL}}),
    ("make it instrumental", VOCAL, {"vocal": {"mode": VocalMode.INSTRUMENTAL}}),
    ("stutter in the build and the drop, 1/32", VOCAL,
     {"vocal": {"stutter_sections": ["build", "drop"], "stutter_grid": "1/32"}}),
    ("keep lyrics, no formant preservation", VOCAL,
     {"vocal": {"mode": VocalMode.KEEP_LYRICS, "preserve_formants": False}}),
    ("1", VOCAL, {"option_id": "keep"}),
    ("Instrumental", VOCAL, {"option_id": "none"}),
    # the genre question
    ("afro circuit", GENRE, {"genre": "afro_house"}),
    ("let's go with some dnb", GENRE, {"genre": "drum_and_bass"}),
]  # fmt: skip


def _check(u: Understanding, expected: dict[str, Any]) -> None:
    for name, want in expected.items():
        got = getattr(u, name)
        if name == "bpm":
            assert (None if got is None else (got.kind, got.value)) == (
                None if want is None else (want[0], float(want[1]))
            )
        elif name == "key":
            assert got == (None if want is None else _key(want))
        elif name == "vocal":
            assert got is not None
            assert got.model_dump(include=set(want)) == want
        elif name == "feedback":
            assert [_fields(f) for f in got] == want
        else:
            assert got == want, name


@pytest.mark.parametrize(
    ("text", "context", "expected"), PARAM_CASES, ids=[c[0] for c in PARAM_CASES]
)
def test_parameter_answer(
    brain: RuleBrain, text: str, context: BrainContext, expected: dict[str, Any]
) -> None:
    u = brain.parse(text, context=context)
    _check(u, expected)
    if context.pending_topic and "intents" not in expected:
        assert u.has(Intent.ANSWER), "an answer to the pending question"


# --- genres: every knowledge file, by name and alias ---------------------------------------

GENRE_CASES: list[tuple[str, str]] = [
    ("Afro Circuit", "afro_house"), ("afro house", "afro_house"), ("afro-house", "afro_house"),
    ("tribal house", "afro_house"),
    ("amapiano", "amapiano"), ("Amapiano", "amapiano"),
    ("deep house", "deep_house"), ("deep-house", "deep_house"),
    ("drum and bass", "drum_and_bass"), ("drum & bass", "drum_and_bass"), ("drum n bass", "drum_and_bass"),
    ("dnb", "drum_and_bass"), ("d&b", "drum_and_bass"), ("DnB", "drum_and_bass"), ("jungle", "drum_and_bass"),
    ("dubstep", "dubstep"), ("riddim", "dubstep"),
    ("house", "house"), ("chicago house", "house"),
    ("lofi", "lofi_hip_hop"), ("lo-fi hip hop", "lofi_hip_hop"), ("lo fi", "lofi_hip_hop"),
    ("lofi hip hop", "lofi_hip_hop"), ("chillhop", "lofi_hip_hop"),
    ("melodic techno", "melodic_techno"), ("Melodic Techno", "melodic_techno"),
    ("melodic house", "melodic_techno"),
    ("nu disco", "nu_disco"), ("nu-disco", "nu_disco"), ("Nu Disco", "nu_disco"), ("disco", "nu_disco"),
    ("pop", "pop"), ("synthpop", "pop"), ("dance pop", "pop"),
    ("tech house", "tech_house"), ("tech-house", "tech_house"),
    ("techno", "techno"), ("hard techno", "techno"),
    ("trap", "trap"), ("drill", "trap"),
    ("uk garage", "uk_garage"), ("UKG", "uk_garage"), ("2-step", "uk_garage"), ("2 step", "uk_garage"),
    ("garage", "uk_garage"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "genre_id"), GENRE_CASES, ids=[c[0] for c in GENRE_CASES])
def test_genre_by_name_and_alias(brain: RuleBrain, label: str, genre_id: str) -> None:
    assert brain.parse(f"remix this to {label}", context=SONG).genre == genre_id
    assert brain.parse(label, context=GENRE).genre == genre_id


def test_every_genre_file_is_recognised_by_each_of_its_names(brain: RuleBrain) -> None:
    for genre in load_genres():
        for name in genre.names():
            assert brain.parse(f"make it {name}", context=GENRE).genre == genre.id, name


def test_genre_label_keeps_the_directors_words(brain: RuleBrain) -> None:
    assert brain.parse("Remix this to Afro Circuit", context=SONG).genre_label == "Afro Circuit"


# --- workflows ------------------------------------------------------------------------------

WORKFLOW_CASES: list[tuple[str, BrainContext, dict[str, Any]]] = [
    ("Remix this to Afro Circuit", SONG,
     {"workflow": Workflow.REMIX, "genre": "afro_house", "source_description": ""}),
    ("Remix Madonna to Afro Circuit", NEW,
     {"workflow": Workflow.REMIX, "genre": "afro_house", "source_description": "Madonna"}),
    ("remix Like a Prayer by Madonna into nu disco", NEW,
     {"workflow": Workflow.REMIX, "genre": "nu_disco", "source_description": "Like a Prayer by Madonna",
      "key": None}),
    ("turn this into drum and bass", SONG, {"workflow": Workflow.REMIX, "genre": "drum_and_bass"}),
    ("Afro house please", SONG, {"workflow": Workflow.REMIX, "genre": "afro_house"}),
    ("make a 124 BPM deep house track in A minor", NEW,
     {"workflow": Workflow.TEXT_TO_TRACK, "genre": "deep_house", "bpm": ("absolute", 124), "key": "a minor"}),
    ("produce a techno banger at 130 bpm", NEW,
     {"workflow": Workflow.TEXT_TO_TRACK, "genre": "techno", "bpm": ("absolute", 130)}),
    ("I want a lofi hip hop beat in F minor", NEW,
     {"workflow": Workflow.TEXT_TO_TRACK, "genre": "lofi_hip_hop", "key": "f minor"}),
    ("give me a melodic techno track", NEW, {"workflow": Workflow.TEXT_TO_TRACK, "genre": "melodic_techno"}),
    ("Remix this to techno in F minor at 130", SONG,
     {"workflow": Workflow.REMIX, "genre": "techno", "key": "f minor", "bpm": ("absolute", 130)}),
    ("reproduce this reference", SONG, {"workflow": Workflow.REPRODUCE}),
    ("make something that sounds like this reference", SONG, {"workflow": Workflow.REPRODUCE}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "context", "expected"), WORKFLOW_CASES, ids=[c[0] for c in WORKFLOW_CASES]
)
def test_workflow(
    brain: RuleBrain, text: str, context: BrainContext, expected: dict[str, Any]
) -> None:
    u = brain.parse(text, context=context)
    assert u.has(Intent.REQUEST)
    assert u.feedback == []
    _check(u, expected)


# --- commands -------------------------------------------------------------------------------

COMMAND_CASES: list[tuple[str, dict[str, Any]]] = [
    ("go back to v2", {"intents": [Intent.REVERT], "versions": [2]}),
    ("revert to version 3", {"intents": [Intent.REVERT], "versions": [3]}),
    ("go back to version two", {"intents": [Intent.REVERT], "versions": [2]}),
    ("undo", {"intents": [Intent.REVERT], "versions": []}),
    ("undo that", {"intents": [Intent.REVERT], "versions": []}),
    ("go back to the previous version", {"intents": [Intent.REVERT], "versions": []}),
    ("can we go back one version", {"intents": [Intent.REVERT], "versions": []}),
    ("compare v2 and v3", {"intents": [Intent.COMPARE], "versions": [2, 3]}),
    ("v2 vs v3", {"intents": [Intent.COMPARE], "versions": [2, 3]}),
    ("drums from v2 with the vocal of v4", {"intents": [Intent.MERGE], "merge": {"drums": 2, "vocals": 4}}),
    ("take the bass from v1 and the vocals from v3",
     {"intents": [Intent.MERGE], "merge": {"bass": 1, "vocals": 3}}),
    ("versions", {"intents": [Intent.VERSIONS]}),
    ("show all versions", {"intents": [Intent.VERSIONS]}),
    ("stop", {"intents": [Intent.STOP]}),
    ("cancel", {"intents": [Intent.STOP]}),
    ("Cancel that!", {"intents": [Intent.STOP]}),
    ("status", {"intents": [Intent.STATUS]}),
    ("how's it going?", {"intents": [Intent.STATUS]}),
    ("help", {"intents": [Intent.HELP]}),
    ("what can you do?", {"intents": [Intent.HELP]}),
    ("start over", {"intents": [Intent.START_OVER]}),
    ("let's start from scratch", {"intents": [Intent.START_OVER]}),
    ("explain like I'm a beginner", {"intents": [Intent.SET_LEVEL], "level": "beginner"}),
    ("I'm a pro, give me full detail", {"intents": [Intent.SET_LEVEL], "level": "pro"}),
    ("perfect", {"intents": [Intent.APPROVE]}),
    ("love it!", {"intents": [Intent.APPROVE]}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), COMMAND_CASES, ids=[c[0] for c in COMMAND_CASES])
def test_command(brain: RuleBrain, text: str, expected: dict[str, Any]) -> None:
    _check(brain.parse(text, context=REVIEW), expected)


# --- what it must not understand ------------------------------------------------------------

NONSENSE = [
    "", "   ", "asdfgh", "🎵🎵", "?!?!", "x" * 10_000, "lorem ipsum dolor " * 600,
    "\x00\x01\x02\x1b[0m\x7f", "\u200b\u200b", "hello there", "Bonjour, comment ça va ?",
    "你好，今天怎么样", "Привет, как дела?", "Wie geht es dir heute", "a a a a a a",
    "I am", "gm everyone",
]  # fmt: skip


@pytest.mark.parametrize("text", NONSENSE, ids=range(len(NONSENSE)))
@pytest.mark.parametrize("context_name", list(CONTEXTS))
def test_nonsense_is_unknown_never_a_guess(brain: RuleBrain, text: str, context_name: str) -> None:
    u = brain.parse(text, context=CONTEXTS[context_name])
    assert u.intents == [Intent.UNKNOWN]
    assert u == Understanding(intents=[Intent.UNKNOWN])


def test_long_input_is_capped_and_fast(brain: RuleBrain) -> None:
    text = "bass too loud, " * 5_000
    started = time.perf_counter()
    u = brain.parse(text, context=REVIEW)
    assert time.perf_counter() - started < 1.0
    assert [(f.aspect, f.target) for f in u.feedback] == [(Aspect.LEVEL, "bass")]
    assert len(normalise_text(text)) <= MAX_TEXT_CHARS


def test_normalise_text() -> None:
    assert normalise_text("  Bass\tTOO\x00loud\n ") == "bass too loud"
    assert normalise_text("can’t") == "can't"
    assert normalise_text("ｆｍ") == "fm"  # full-width, NFKC


async def test_understand_is_parse(brain: RuleBrain) -> None:
    text = "Bass too loud, needs more sidechain"
    assert await brain.understand(text, context=REVIEW) == brain.parse(text, context=REVIEW)


def test_brain_name() -> None:
    assert RuleBrain(genres=()).name == "rules"


# --- properties -----------------------------------------------------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300), context_name=st.sampled_from(list(CONTEXTS)))
def test_parse_never_raises_and_returns_a_valid_understanding(
    brain: RuleBrain, text: str, context_name: str
) -> None:
    u = brain.parse(text, context=CONTEXTS[context_name])
    assert isinstance(u, Understanding)
    assert u.intents
    assert Understanding.model_validate(u.model_dump()) == u
    if u.has(Intent.UNKNOWN):
        assert u.intents == [Intent.UNKNOWN]


_WORDS = st.sampled_from(
    ["bass", "too", "loud", "more", "sidechain", "in", "a", "minor", "fm", "126", "bpm", "bars",
     "33-48", "v2", "remix", "afro", "house", "techno", "stutter", "build", "keep", "lyrics", "yes",
     "no", "-9", "lufs", "and", "but", ",", "!", "half", "time", "one", "twenty", "six", "db"]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(words=st.lists(_WORDS, max_size=12), context_name=st.sampled_from(list(CONTEXTS)))
def test_parse_of_music_words_is_valid(
    brain: RuleBrain, words: list[str], context_name: str
) -> None:
    u = brain.parse(" ".join(words), context=CONTEXTS[context_name])
    assert Understanding.model_validate(u.model_dump()) == u
    for item in u.feedback:
        if item.start_bar is not None and item.end_bar is not None:
            assert item.start_bar <= item.end_bar


def test_a_bar_range_that_runs_backwards_is_not_taken_as_one() -> None:
    """Found by the property test: 'bars 126 -9 stutter' gave a stutter from bar 126 to 9."""
    u = RuleBrain(genres=load_genres()).parse("bars 126 -9 stutter",
                                              context=CONTEXTS["key_bpm"])
    assert all(f.start_bar is None or f.start_bar <= (f.end_bar or f.start_bar)
               for f in u.feedback)
