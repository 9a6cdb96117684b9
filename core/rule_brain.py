"""The offline, deterministic brain: regular expressions over a director's words.

It understands the seed conversation, genres by name and alias, tempos in numbers and words,
keys in common spellings, vocal treatments, mix and arrangement feedback and version commands.
What it does not understand comes back as ``Intent.UNKNOWN`` so the Maestro can ask, never guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Literal

from core.brain import (
    Aspect,
    BpmChange,
    BrainContext,
    Domain,
    Feedback,
    Intent,
    Understanding,
    VocalAnswer,
)
from core.brief import VocalMode, Workflow
from core.genre import GenreProfile
from core.music import Key, parse_key

__all__ = ["MAX_TEXT_CHARS", "RuleBrain", "normalise_text"]

MAX_TEXT_CHARS = 2000
"""Longer messages are cut here before parsing: no instruction needs more."""

Direction = Literal["up", "down", "add", "remove"]

# --- words -----------------------------------------------------------------------------------

_TARGETS: dict[str, str] = {
    r"bass(?:line)?|sub(?:-?bass)?|808s?|low end": "bass",
    r"kicks?|kick drum": "kick",
    r"drums?|beat|groove|snares?|claps?": "drums",
    r"hats?|hi-?hats?|percussion|percs?|congas?|shakers?|toms?|rims?": "percussion",
    r"vocals?|vox|voice|singer|lyrics|acapella": "vocals",
    r"synths?|chords?|pads?|keys|piano|melody|leads?|music|instrumental": "music",
    r"master|mix|overall|whole (?:thing|track|song)|everything|the track|it all": "master",
}
_TARGET_RE = re.compile(r"\b(" + "|".join(f"(?:{p})" for p in _TARGETS) + r")\b")

_SECTION_RE = re.compile(r"\b(intro|build(?:-?up)?|drop|breakdown|outro|verse|chorus|bridge)s?\b")
_BARS_RE = re.compile(
    r"\bbars?\s*(\d{1,3})\s*(?:-|–|—|to|through|thru|until|and)\s*(?:bar\s*)?(\d{1,3})\b"
)
_DB_RE = re.compile(r"(\d+(?:\.\d+)?)\s*db\b")
_LUFS_RE = re.compile(r"(-?\s*\d+(?:\.\d+)?)\s*lufs\b")
_SMALL_NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_VERSION_RE = re.compile(r"\bv(?:ersion)?\s*#?\s*(\d{1,3}|" + "|".join(_SMALL_NUMBERS) + r")\b")

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
_NUMBER_WORDS_GROUP = (
    r"((?:(?:a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|and)[\s-]*){1,6})"
)
_NUMBER_WORD_RE = re.compile(r"\b" + _NUMBER_WORDS_GROUP + r"\s*(?:bpm|beats per minute)\b")
_BARE_NUMBER_WORDS_RE = re.compile(r"\W*" + _NUMBER_WORDS_GROUP + r"\W*")
_LAST_NUMBER_WORDS_RE = re.compile(r"(?:^|[,\s])" + _NUMBER_WORDS_GROUP + r"\W*$")
_TEMPO_TO_RE = re.compile(r"\b(?:tempo|bpm|speed)\s*(?:to|of|at|=|:|is)?\s*(\d{2,3}(?:\.\d+)?)\b(?!\s*(?:db|lufs|%))")
# "slow it right down to 80", "speed it up to 140", "bring the tempo down to 90"
_TEMPO_MOVE_RE = re.compile(r"\b(?:slow|speed|bring|take|drop|push|pick)\b[^.\d]{0,25}?\b(?:down|up)\s+to\s+"
                            r"(\d{2,3}(?:\.\d+)?)\b(?!\s*(?:db|lufs|%|bars?))")
_AT_NUMBER_RE = re.compile(  # "techno in Fm at 130", "a dnb tune, like 174": while the brief is set
    r"\b(?:at|like|around|about) (\d{2,3}(?:\.\d+)?)\b(?!\s*(?:db|lufs|%|bars?|hz|khz|k\b|ms|seconds|secs?|s\b|:|/))"
)
_AT_WORDS_RE = re.compile(r"\b(?:at|like|around|about)\s+" + _NUMBER_WORDS_GROUP + r"(?!\w)")
_TEMPO_DELTA_RE = re.compile(
    r"\b(?:((?:a )?(?:bit|little|touch|tad)|slightly|much|way|a lot) )?"
    r"(faster|slower|quicker|speed (?:it |things )?up|slow (?:it |things )?down|"
    r"(?:raise|increase|up|push) the (?:tempo|bpm)|(?:lower|decrease|drop|reduce) the (?:tempo|bpm))\b"
)

# A key name is only read as a key where a musician would: introduced ("in C", "key of D"),
# alone, or followed by an end, a tempo or a connecting word. "I am", "a bit", "3 dB",
# "gm everyone" and "a major improvement" are not keys.
_KEY_CANDIDATE_RE = re.compile(
    r"(?:^|(?<=[\s,(]))(?P<pre>(?:in|key of|key|to|into)\s+)?"
    r"(?P<key>[a-g](?P<acc>#|♯|b|♭|\s+sharp|\s+flat)?(?:\s*(?P<mode>minor|major|min|maj|m)\b)?)"
    r"(?=[\s,.!?)]|$)"
)
_KEY_FOLLOW_RE = re.compile(
    r"\s*(?:$|[,.!?)]|\d|(?:at|and|with|please|pls|instead|for|key|scale|bpm|tempo|then|but|or|"
    r"maybe|thanks|thx|would|works|sounds|is|feels|vibe|mode|too|plus)\b)"
)
_BARE_KEY_FOLLOW_RE = re.compile(
    r"\s*(?:$|[,.!?)]|(?:at|and|with|please|pls|instead|key|scale|then|but|or|maybe|thanks|thx)\b)"
)
_PREVIOUS_VERSION_RE = re.compile(
    r"\b(?:go(?:ing)? back|revert|return|roll ?back|back)(?: to)? (?:the )?(?:previous|last|earlier|prior|old|other) "
    r"(?:version|one|mix|take)\b|^\W*(?:go back|revert|roll ?back)\W*$|"
    r"\b(?:go(?:ing)? back|roll ?back|back) (?:one|a) (?:version|step)\b|\bone version back\b"
)
_POP_VERB_RE = re.compile(
    r"\bpop(?:s|ping)? (?:out|more|through)\b|\b(?:make|let|have) (?:the |my |your |that )?"
    r"(?:vocals?|vox|voice|kick|snares?|claps?|drums?|bass(?:line)?|synths?|leads?|chords|hats|melody|"
    r"hook|chorus|drop) pop\b"
)

_YES_RE = re.compile(
    r"^\W*(yes|yeah|yep|yup|ya|sure|ok(?:ay)?|agreed?|sounds good|go (?:for it|ahead)|do it|"
    r"fine|correct|right|absolutely|definitely|of course|let'?s go|deal|perfect|great)\b"
)
_NO_RE = re.compile(r"^\W*(no|nope|nah|not really|disagree|i'?d rather not|don'?t)\b")

_HELP_RE = re.compile(r"^\W*(help|\?+|what can you do|how does (?:this|it) work|commands)\W*$")
_STATUS_RE = re.compile(
    r"^\W*(status|progress|where are we|how(?:'s| is) it going|are you done|is it ready)\b"
)
_STOP_RE = re.compile(r"^\W*(stop|cancel|abort|halt|kill it|never ?mind)\b")
_START_OVER_RE = re.compile(r"\b(start (?:over|again|from scratch)|from scratch|reset everything)\b")
_VERSIONS_RE = re.compile(r"^\W*(?:list |show )?(?:the |all )?versions\W*$|\bwhat versions\b")
_REVERT_RE = re.compile(r"\b(go back to|revert(?: back)? to|back to|restore|roll ?back to)\b")
_UNDO_RE = re.compile(r"^\W*undo\b")
_COMPARE_RE = re.compile(r"\b(compare|a/?b|versus|vs\.?)\b")
_MERGE_RE = re.compile(
    r"\b(?:take |use |keep )?(?:the )?(\w+) (?:from|of) v(\d+)\b.*?\b(?:with|and|plus) (?:the )?"
    r"(\w+) (?:from|of) v(\d+)\b"
)
_APPROVE_RE = re.compile(
    r"\b(perfect|love (?:it|this|that)|sounds (?:great|amazing|good)|nailed it|that'?s it|"
    r"ship it|awesome|amazing|great job|good job|well done|exactly)\b"
)
_LEVEL_RE = {
    "beginner": re.compile(r"\b(beginner|new to (?:this|production)|keep it simple|eli5|plain english)\b"),
    "pro": re.compile(r"\b(i'?m (?:a )?pro|professional|engineer|full detail|technical)\b"),
    "intermediate": re.compile(r"\bintermediate\b"),
}

_REMIX_RE = re.compile(r"\b(remix|rework|flip|bootleg|re-?produce this as|turn (?:this|it) into)\b")
_REPRODUCE_RE = re.compile(
    r"\b(reproduce|sound(?:s)? like (?:this|the reference)|match (?:this|the reference)|"
    r"in the style of this|like this reference|reference track)\b"
)
_CREATE_RE = re.compile(
    r"\b(make|produce|create|generate|write|build|compose|give me|i want|i need)\b(?:.*\b(track|"
    r"beat|song|tune|banger|instrumental|loop)\b)?"
)
_MAKE_IT_RE = re.compile(
    r"\b(?:make|turn|flip|switch|change|convert|take)\s+(?:it|this|that|this (?:song|track|tune|one)|"
    r"the (?:song|track|tune)|my (?:song|track|tune))\b(?!\s+(?:sound|feel|more|less|louder|quieter)\b)"
)
"""The song itself made into a genre ("make it deep house", "turn this into garage")."""
_DESCRIBED_TRACK_RE = re.compile(r"^\s*(?:an?|some)\b.*\b(track|beat|song|tune|banger|instrumental)\b")
_SOURCE_RE = re.compile(
    r"\b(?:remix|rework|flip)\s+(.+?)\s+(?:to|into|as|in(?:to)? (?:an?|the) style of|in)\s+"
)
_DEICTIC = {"this", "it", "this song", "this track", "the song", "the track", "that", "my song", "this one"}


_SLANG: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words) for pattern, words in (
        (r"\b2 (?=(?:loud|quiet|soft|much|fast|slow|bright|dark|harsh|busy|wet|dry|low|high)\b)",
         "too "),  # "bass way 2 loud"
        (r"\bgimme\b", "give me"), (r"\bwanna\b", "want to"), (r"\bkinda\b", "kind of"),
        (r"\blil\b", "little"), (r"\bhows\b", "how's"), (r"\bcant\b", "can't"),
        (r"\bim\b", "i'm"), (r"\bu\b", "you"), (r"\bpl[sz]\b", "please"),
        (r"\bthx\b", "thanks"), (r"\bvox\b", "vocals"),
    ))
"""Chat spellings producers type, read as the words they stand for (case kept)."""


def _unslang(text: str) -> str:
    for pattern, words in _SLANG:
        text = pattern.sub(words, text)
    return text


def normalise_text(text: str) -> str:
    """Lower-case, NFKC, control characters removed, whitespace collapsed, length capped."""
    return _tidy(text).lower()[:MAX_TEXT_CHARS]


def _tidy(text: str) -> str:
    """:func:`normalise_text` without the lower-casing, to keep a name as the director wrote it."""
    text = unicodedata.normalize("NFKC", text[: MAX_TEXT_CHARS * 2])
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


def _words_to_number(words: str) -> int | None:
    """``"one twenty six"`` and ``"a hundred and twenty-six"`` -> 126; ``"ninety"`` -> 90."""
    tokens = [t for t in re.split(r"[\s-]+", words) if t and t != "and"]
    if not tokens or set(tokens) == {"a"}:
        return None
    values = [100 if t in {"a", "hundred"} and i == 0 else _NUMBER_WORDS.get(t) for i, t in enumerate(tokens)]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    if nums[0] in (1, 100) and len(nums) > 1:  # "one twenty six", "a hundred twenty"
        rest = [v for v in nums[1:] if v != 100]
        return 100 + sum(rest)
    return sum(nums)


# --- feedback rules ----------------------------------------------------------------------------
_VOX = r"(?:vocals?|vox|voice|singing|singer|lyrics|acapella|acca)"
_SECTION_WORDS = r"(?:intro|build(?:-?up)?|drop|breakdown|outro|verse|chorus|bridge)(?:e?s)?\b"
_INTERVAL = r"(?:a\s+|an?\s+|\d{1,2}\s+|one\s+|two\s+|three\s+|whole\s+)?(?:semi-?tones?|half[- ]?steps?|tone|step)\b"
_PITCH_MOVE = (r"\b(?:pitch|transpose|tune)\s+(?:the\s+)?" + _VOX + r"\s+(?:\w+\s+){{0,2}}?{way}\b|"
               r"\b(?:shift|move|nudge)\s+(?:the\s+)?" + _VOX + r"\s+(?:\w+\s+){{0,2}}?{way}\s+"
               + _INTERVAL.replace("{", "{{").replace("}", "}}"))
"""Moving the vocal's pitch: "pitch the vocal down", "shift the vox up a semitone" (a "move"
needs its interval: "move the vocals down" alone is about their level)."""
# Each rule: (pattern, domain, aspect, direction, default target). A rule's domain may be
# refined by the clause's target (master-wide changes go to the Mastering Chef).

_Rule = tuple[re.Pattern[str], Domain, Aspect, Direction, str]


def _rule(pattern: str, domain: Domain, aspect: Aspect, direction: Direction, target: str = "") -> _Rule:
    return (re.compile(pattern), domain, aspect, direction, target)


_RULES: list[_Rule] = [
    # sidechain before level: "needs more sidechain" is not "more <track>"
    _rule(r"\b(?:more|heavier|stronger|deeper|harder|bigger|extra)\s+(?:side-?chain(?:ing)?|pump(?:ing)?|duck(?:ing)?)\b|\bpump (?:it )?more\b|\bclash(?:es|ing)?\b|\bfight(?:s|ing)? (?:each other|the kick|the bass)\b|\bside-?chain (?:it |the \w+ )?(?:more|harder|heavier)\b|\bnot (?:pumping|ducking) enough\b",
          Domain.MIXING, Aspect.SIDECHAIN, "up", "bass"),
    _rule(r"\b(?:less|lighter|softer|subtler|gentler|weaker)\s+(?:side-?chain(?:ing)?|pump(?:ing)?|duck(?:ing)?)\b|\btoo much (?:side-?chain|pump(?:ing)?|duck(?:ing)?)\b|\bpumps? too much\b",
          Domain.MIXING, Aspect.SIDECHAIN, "down", "bass"),
    _rule(r"\bfilter ?sweep|\bsweep(?:ing)? (?:the )?filter|\bsweep\b|\bfilter (?:it )?(?:up|open)|\bopen(?:ing)? (?:up )?the filter|\bauto-?filter\b",
          Domain.SOUND_DESIGN, Aspect.FILTER_SWEEP, "add"),
    _rule(r"\b(?:riser|uplifter|white ?noise (?:rise|sweep)|build-?up fx)s?\b",
          Domain.SOUND_DESIGN, Aspect.RISER, "add"),
    _rule(r"(?<!more )\b(?:impact|downlifter|crash|boom)s?\b(?! the)", Domain.SOUND_DESIGN, Aspect.IMPACT, "add"),
    # where the vocal sings: before the level rules ("too much of the hook", "cut the vocal
    # from the intro" are not levels) and before chops ("chops in the build" stays chops)
    _rule(_VOX + r"\s+(?:should\s+|to\s+|must\s+|can\s+)?only\s+(?:\w+\s+){0,2}?(?:in|on|for|during)\b"
          r"|\bonly\s+(?:want\s+(?:to\s+)?|wanna\s+)?(?:have\s+|put\s+|keep\s+|use\s+|hear\s+)?"
          r"(?:the\s+|my\s+)?" + _VOX + r"\s+(?:in|on|for|during)\b|\b(?:keep|leave)\s+(?:the\s+)?"
          + _VOX + r"\s+(?:to|for)\s+the\s+(?:drops?|chorus(?:es)?)\b",
          Domain.VOCAL, Aspect.VOCAL_ONLY, "add", "vocals"),
    _rule(r"\bno\s+" + _VOX + r"\s+(?:in|on|during)\b|\b(?:take|pull|get|leave|keep)\s+(?:the\s+)?"
          + _VOX + r"\s+out\s+of\b|\b(?:remove|mute|cut|lose|kill)\s+(?:the\s+)?" + _VOX
          + r"\s+(?:in|from|on|during)\b|\bwithout\s+(?:the\s+)?" + _VOX + r"\s+in\b"
          r"|\bdrop\s+(?:the\s+)?" + _VOX + r"\s+(?:from|out\s+of)\s+(?:the\s+)?" + _SECTION_WORDS
          + r"|\b(?:intro|outro|build(?:-?up)?|breakdown)\s+(?:without\s+(?:the\s+)?vocals?|(?:should\s+be\s+)?"
          r"instrumental)\b|\binstrumental\s+(?:intro|outro|build(?:-?up)?|breakdown)\b",
          Domain.VOCAL, Aspect.VOCAL_PLACEMENT, "remove", "vocals"),
    _rule(r"\b(?:put|add|bring|have|use)\s+(?:the\s+)?" + _VOX + r"\s+(?:back\s+)?(?:in|into|on|to)\s+"
          r"(?:the\s+)?" + _SECTION_WORDS + r"|\b" + _VOX + r"\s+in\s+the\s+" + _SECTION_WORDS
          + r"(?:\s+(?:and|or)\s+(?:the\s+)?" + _SECTION_WORDS + r")?\s+too\b",
          Domain.VOCAL, Aspect.VOCAL_PLACEMENT, "add", "vocals"),
    _rule(r"\bless\s+(?:of\s+)?(?:the\s+)?hook\b|\b(?:hook|chorus)\s+(?:is\s+|gets\s+|feels\s+)?"
          r"(?:too|way too|a bit)\s+repetitive\b|\btoo\s+much\s+(?:of\s+)?(?:the\s+)?hook\b|"
          r"\bfewer\s+hooks\b|\bnot\s+(?:so\s+much|as\s+much)\s+(?:of\s+)?(?:the\s+)?hook\b",
          Domain.VOCAL, Aspect.HOOK, "down", "vocals"),
    _rule(r"\bmore\s+(?:of\s+)?(?:the\s+|that\s+)?hook\b|\b(?:repeat|loop|bring\s+back|use)\s+"
          r"(?:the\s+|that\s+)?hook\b|\bhook\s+(?:more|again|more\s+often)\b|"
          r"\b(?:put|add|have)\s+(?:the\s+)?hook\s+(?:in|on|into)\b|\bhook\s+in\s+(?:the\s+)?"
          + _SECTION_WORDS,
          Domain.VOCAL, Aspect.HOOK, "up", "vocals"),
    _rule(_PITCH_MOVE.format(way="down"), Domain.VOCAL, Aspect.VOCAL_SHIFT, "down", "vocals"),
    _rule(_PITCH_MOVE.format(way="up"), Domain.VOCAL, Aspect.VOCAL_SHIFT, "up", "vocals"),
    _rule(r"\bout\s+of\s+key\b|\boff[- ]key\b|\bin\s+the\s+wrong\s+key\b|\bclash(?:es)?\s+with\s+the\s+"
          r"(?:chords|key|music)\b",
          Domain.VOCAL, Aspect.VOCAL_SHIFT, "add", "vocals"),
    _rule(r"\bstutter(?:s|ing|ed)?\b|\bglitch(?:es|y)?\b|\bretrigger\b", Domain.VOCAL, Aspect.STUTTER, "add", "vocals"),
    _rule(r"\b(?:vocal )?chops?\b|\bchop (?:up )?the vocals?\b", Domain.VOCAL, Aspect.CHOPS, "add", "vocals"),
    _rule(r"\b(?:too )?thin\b|\bneeds? (?:more )?body\b|\bno bottom\b|\bweak low[- ]end\b|\blow[- ]end (?:is |feels |sounds )?(?:weak|light|thin)\b|\bfuller\b|\bthicker\b|\bmore weight\b",
          Domain.MIXING, Aspect.THIN, "up"),
    _rule(r"\bmud(?:dy|diness)?\b|\blow[- ]?mids?\b|\bboomy\b|\bboxy\b|\bcloudy\b|\bwoolly\b", Domain.MIXING, Aspect.MUDDY, "down"),
    _rule(r"\bharsh(?:ness)?\b|\bpiercing\b|\bshrill\b|\bsibilant\b|\bhurts? my ears\b|\btoo sharp\b",
          Domain.MIXING, Aspect.HARSH, "down"),
    _rule(r"\bbrighter\b|\bmore (?:air|sparkle|top ?end|highs|shine)\b|\b(?:too )?dull\b|\bmuffled\b|\bdark(?:er)? than\b",
          Domain.MIXING, Aspect.BRIGHTNESS, "up"),
    _rule(r"\bdarker\b|\btoo bright\b|\bless (?:air|top ?end|highs)\b|\bwarmer\b|\bmellower\b",
          Domain.MIXING, Aspect.BRIGHTNESS, "down"),
    _rule(r"\bpunch(?:ier|y)?\b|\bmore (?:impact|knock|snap|attack|crack)\b|\bhit(?:s)? harder\b|\bslap(?:s)? harder\b|\blacks? punch\b",
          Domain.MIXING, Aspect.PUNCH, "up", "drums"),
    _rule(r"\bwider\b|\bmore stereo\b|\btoo narrow\b|\bmore space\b|\bspread (?:it )?out\b|\bwidth\b",
          Domain.MIXING, Aspect.WIDTH, "up"),
    _rule(r"\bnarrower\b|\bmore mono\b|\btoo wide\b", Domain.MIXING, Aspect.WIDTH, "down"),
    _rule(r"\bmore (?:reverb|room|hall|wetness)\b|\bwetter\b|\bmore ambien(?:ce|t)\b|\btoo dry\b",
          Domain.MIXING, Aspect.REVERB, "up"),
    _rule(r"\bless (?:reverb|room|hall)\b|\bdrier\b|\btoo (?:wet|washy|much reverb)\b|\breverb (?:is |tail is )?(?:too|way too) (?:long|big)\b",
          Domain.MIXING, Aspect.REVERB, "down"),
    _rule(r"\bmore (?:delay|echo(?:es)?)\b|\badd (?:a |some )?(?:delay|echo)\b", Domain.MIXING, Aspect.DELAY, "up"),
    _rule(r"\bless (?:delay|echo(?:es)?)\b|\bno (?:delay|echo)\b", Domain.MIXING, Aspect.DELAY, "down"),
    _rule(r"\bmore swing\b|\bswing(?:ier)?\b|\bshuffle\b|\b(?:too )?(?:stiff|robotic|mechanical|quantized)\b|\bmore groove\b|\bgroovier\b",
          Domain.DRUMS, Aspect.SWING, "up", "drums"),
    _rule(r"\bless swing\b|\bstraighter\b|\btoo (?:loose|sloppy|swung)\b", Domain.DRUMS, Aspect.SWING, "down", "drums"),
    _rule(r"\bbusier\b|\bmore (?:hats|notes|fills|rolls|movement)\b|\btoo (?:sparse|empty|simple|bare)\b",
          Domain.DRUMS, Aspect.BUSIER, "up", "percussion"),
    _rule(r"\btoo (?:busy|cluttered|much going on)\b|\bsimpler\b|\bless busy\b|\bstrip (?:it )?back\b|\bfewer notes\b",
          Domain.DRUMS, Aspect.BUSIER, "down", "percussion"),
    _rule(r"\bmore energy\b|\b(?:needs|more) (?:drive|intensity|hype)\b|\blacks? energy\b|\b(?:too )?boring\b|\bbigger drop\b|\bmake (?:the |it )?(?:drop|chorus|build)s? (?:bigger|bigger and \w+)\b",
          Domain.ARRANGEMENT, Aspect.ENERGY, "up"),
    _rule(r"\bless energy\b|\bcalmer\b|\bchill(?:er)?\b|\bmore laid[- ]back\b", Domain.ARRANGEMENT, Aspect.ENERGY, "down"),
    _rule(r"\b(?:dirtier|grittier|more (?:drive|grit|distortion|saturation)|distort(?:ed)?|saturate)\b",
          Domain.SOUND_DESIGN, Aspect.BRIGHTNESS, "up"),
    # level last: the most general wording
    _rule(r"\b(?:too|way too|a (?:bit|little|touch) too|kind of|slightly|really|very) (?:loud|hot|high|strong|much|present|dominant|overpowering|boomy)\b|\b(?:turn|bring|pull|push) (?:the \w+ |it |them |everything )?down\b|\b(?:lower|reduce|quieter|softer|cut|less|tame|drop)\b|\boverpower(?:s|ing)?\b|\bdrown(?:s|ing)? (?:out )?(?:everything|the|it|them)\b|\btoo much \w+\b",
          Domain.MIXING, Aspect.LEVEL, "down"),
    _rule(r"^(?:the |my )?[\w-]+ (?:down|lower|quieter)$", Domain.MIXING, Aspect.LEVEL, "down"),
    _rule(r"\b(?:too|way too|a (?:bit|little|touch) too|kind of|slightly|really|very) (?:quiet|soft|low|weak|buried|faint|thin in the mix)\b|\bpop(?:s)? (?:out|more|through)\b|\bmake (?:the |my )?\w+ pop\b|\bstand out\b|\b(?:turn|bring|push) (?:the \w+ |it |them )?up\b|\b(?:louder|raise|boost|more|bring out|lift|hear (?:the \w+ )?more)\b|\bcan'?t hear\b|\bburied\b|\blost in the mix\b|\btoo far back\b|\bdrown(?:ed|ing)? in\b|\b(?:is|are|sounds?|feels?) (?:a (?:bit|little|touch) |kind of |really |very )?(?:weak|faint)\b|^(?:the |my )?[\w-]+ (?:up|louder)$",
          Domain.MIXING, Aspect.LEVEL, "up"),
]

_LOUDER_MASTER_RE = re.compile(
    r"\b(?:louder|quieter|softer|less loud|more loud) (?:master|overall|mix|track)\b|"
    r"\b(?:master|overall|mix|whole (?:thing|track)|it) (?:is )?(?:louder|quieter|too (?:loud|quiet|soft))\b|"
    r"\bmake (?:it|the (?:master|track|mix)) (?:louder|quieter)\b|\b(?:master|mastered) (?:for|to) (?:the )?club\b|"
    r"\b(?:club|streaming|spotify|apple music|youtube|soundcloud) (?:master|loudness|version|ready)\b|\blufs\b"
)
_DESTINATION_RE = re.compile(r"\b(club|streaming|spotify|apple music|youtube|soundcloud)\b")
_DESTINATION_ALIASES = {"spotify": "streaming", "apple music": "apple_music"}


_AND_SECTION = (r"and(?!\s+(?:in\s+|on\s+)?(?:the\s+)?" + _SECTION_WORDS
                + r"\s*(?:$|[.,;!?]|(?:too|as\s+well|only|please)\b))")
"""An "and" that joins two changes, not two sections of one ("only in the drops and the
breakdown" is one change; "in the drop and the outro needs a riser" two)."""


def _split_clauses(text: str) -> list[str]:
    parts = re.split(r"[.,;!?\n]+|\s(?:and then|then|also|plus|but|" + _AND_SECTION + r")\s", text)
    return [p.strip() for p in parts if p and p.strip()]


def _target_in(clause: str) -> str:
    found = ""
    for match in _TARGET_RE.finditer(clause):
        word = match.group(1)
        for pattern, name in _TARGETS.items():
            if re.fullmatch(pattern, word):
                found = found or name
                break
    return found


class RuleBrain:
    """Offline, deterministic understanding of a director's messages.

    Parameters
    ----------
    genres : sequence of GenreProfile
        The genre knowledge (names and aliases) to recognise.
    """

    name = "rules"

    def __init__(self, *, genres: Sequence[GenreProfile]) -> None:
        names: list[tuple[str, GenreProfile]] = []
        for genre in genres:
            names.extend((n, genre) for n in genre.names())
        names.sort(key=lambda item: -len(item[0]))  # "melodic techno" before "techno"
        self._genres = names
        self._genre_res = [
            (re.compile(r"(?<![\w])" + re.escape(n).replace(r"\ ", r"[\s_-]*") + r"(?![\w])"), g)
            for n, g in names
        ]

    async def understand(self, text: str, *, context: BrainContext) -> Understanding:
        """Parse ``text`` in ``context``. Never raises; unknown input gives ``Intent.UNKNOWN``."""
        return self.parse(text, context=context)

    def parse(self, text: str, *, context: BrainContext) -> Understanding:
        """Synchronous core of :meth:`understand`."""
        cased = _unslang(_tidy(text)[:MAX_TEXT_CHARS])
        t = _unslang(normalise_text(text))
        if len(cased) != len(t):  # a rare character changed length when lower-cased
            cased = t
        u = Understanding()
        if not t or not re.search(r"[a-z0-9]", t):
            u.intents.append(Intent.UNKNOWN)
            return u

        self._commands(t, u)
        if u.intents and u.intents[0] in {Intent.HELP, Intent.STATUS, Intent.STOP, Intent.VERSIONS}:
            return u

        self._option(t, u, context)
        self._genre(t, u)
        self._workflow(t, cased, u, context)
        self._tempo(t, u, context)
        self._key(t, u, context)
        self._vocal(t, u)
        self._loudness(t, u)
        self._feedback(t, u, context)

        if context.pending_topic and self._answers(u, context.pending_topic):
            u.intents.append(Intent.ANSWER)
        if u.feedback and Intent.FEEDBACK not in u.intents:
            u.intents.append(Intent.FEEDBACK)
        if not u.intents:
            u.intents.append(Intent.UNKNOWN)
        return u

    @staticmethod
    def _answers(u: Understanding, topic: str) -> bool:
        """Whether ``u`` says something that settles a question about ``topic``."""
        if u.option_id is not None or u.agree is not None:
            return True
        if topic == "key_bpm":
            return u.bpm is not None or u.key is not None or u.keep_key
        if topic == "vocal":
            return u.vocal is not None
        if topic == "genre":
            return u.genre is not None
        return False

    # --- pieces ----------------------------------------------------------------------------

    def _commands(self, t: str, u: Understanding) -> None:
        for regex, intent in (
            (_HELP_RE, Intent.HELP),
            (_STATUS_RE, Intent.STATUS),
            (_STOP_RE, Intent.STOP),
            (_VERSIONS_RE, Intent.VERSIONS),
        ):
            if regex.search(t):
                u.intents.append(intent)
                return
        if _START_OVER_RE.search(t):
            u.intents.append(Intent.START_OVER)
        versions = [_version_number(v) for v in _VERSION_RE.findall(t)]
        merge = _MERGE_RE.search(t)
        if merge and versions:
            for role_word, number in ((merge[1], merge[2]), (merge[3], merge[4])):
                role = _target_in(role_word) or role_word
                u.merge[role] = int(number)
            u.intents.append(Intent.MERGE)
        elif _COMPARE_RE.search(t) and versions:
            u.intents.append(Intent.COMPARE)
        elif (_REVERT_RE.search(t) and versions) or _UNDO_RE.search(t) or _PREVIOUS_VERSION_RE.search(t):
            u.intents.append(Intent.REVERT)
        u.versions = versions
        if _APPROVE_RE.search(t):
            u.intents.append(Intent.APPROVE)
        for level, regex in _LEVEL_RE.items():
            if regex.search(t) and re.search(r"\b(i'?m|i am|explain|keep it|talk|as a|like)\b", t):
                u.level = level  # type: ignore[assignment]
                u.intents.append(Intent.SET_LEVEL)
                break

    def _option(self, t: str, u: Understanding, context: BrainContext) -> None:
        if not context.option_ids:
            return
        number = re.fullmatch(r"\W*(?:option\s*)?(\d{1,2})\W*", t)
        if number and 1 <= int(number[1]) <= len(context.option_ids):
            u.option_id = context.option_ids[int(number[1]) - 1]
            return
        for option_id, label in zip(context.option_ids, context.option_labels, strict=False):
            if normalise_text(label) == t:
                u.option_id = option_id
                break
        if _YES_RE.search(t):
            u.agree = True
        elif _NO_RE.search(t):
            u.agree = False

    def _genre(self, t: str, u: Understanding) -> None:
        for regex, genre in self._genre_res:
            match = regex.search(t)
            if match and genre.id == "pop" and match.group(0) == "pop" and _POP_VERB_RE.search(t):
                continue  # "make the vocals pop": a level, not a genre
            if match:
                u.genre = genre.id
                u.genre_label = match.group(0).title()
                return

    def _workflow(self, t: str, cased: str, u: Understanding, context: BrainContext) -> None:
        if _REPRODUCE_RE.search(t):
            u.workflow = Workflow.REPRODUCE
        elif _REMIX_RE.search(t):
            u.workflow = Workflow.REMIX
            source = _SOURCE_RE.search(t + " ")
            if source and source[1].strip() not in _DEICTIC:
                said = cased[source.start(1) : source.end(1)].strip().strip("'\"")
                u.source_description = said[:1].upper() + said[1:]
        elif u.genre and context.has_song and _MAKE_IT_RE.search(t):
            u.workflow = Workflow.REMIX  # "make it deep house" with the song: a remix of it
        elif u.genre and _CREATE_RE.search(t):
            u.workflow = Workflow.TEXT_TO_TRACK
        elif u.genre and _DESCRIBED_TRACK_RE.search(t) and not context.has_song \
                and not context.has_version and not context.pending_topic:
            u.workflow = Workflow.TEXT_TO_TRACK  # "a 124 BPM deep house track in A minor"
        elif u.genre and context.has_song and not context.has_version and not context.pending_topic:
            u.workflow = Workflow.REMIX  # "Afro house please" with a song attached
        if u.workflow is not None:
            u.intents.append(Intent.REQUEST)

    def _tempo(self, t: str, u: Understanding, context: BrainContext) -> None:
        u.bpm = _tempo_in(
            t, pending_key_bpm=context.pending_topic == "key_bpm", has_version=context.has_version
        )
        if u.bpm is not None and context.has_version and context.pending_topic is None:
            slower = {"relative": u.bpm.value < 0, "half": True, "double": False}.get(
                u.bpm.kind, bool(re.search(r"\b(?:slow\w*|down|lower|decrease|reduce)\b", t)))
            u.feedback.append(
                Feedback(domain=Domain.GENRE, aspect=Aspect.TEMPO,
                         direction="down" if slower else "up", text=t)
            )

    def _key(self, t: str, u: Understanding, context: BrainContext) -> None:
        if re.search(r"\b(?:keep|same|original|don'?t change)(?: the)?(?: original)? key\b", t):
            u.keep_key = True
            return
        u.key = _key_in(t, pending_key_bpm=context.pending_topic == "key_bpm")

    def _vocal(self, t: str, u: Understanding) -> None:
        answer = VocalAnswer()
        if re.search(r"\b(keep|leave|preserve|use)(?: the)? (lyrics|vocals?|words|vox|acapella)\b|\bfull vocals?\b|\bkeep (?:it|them) as (?:is|sung)\b", t):
            answer.mode = VocalMode.KEEP_LYRICS
        if re.search(r"\b(vocal )?chops?\b|\bchop (?:it|them|the vocals?) up\b|\bmake chops\b", t) and not re.search(r"\bno chops\b", t):
            answer.mode = VocalMode.CHOPS
        if re.search(r"\b(instrumental|no vocals?|drop the vocals?|without (?:the )?vocals?|remove (?:the )?vocals?)\b"
                     r"(?!\s+(?:in|on|during|from|out of)\b)", t) and not _PLACED_RE.search(t):
            answer.mode = VocalMode.INSTRUMENTAL
        if re.search(r"\bstutter", t):
            sections = [s.replace("-", "").replace("buildup", "build").replace("build up", "build")
                        for s in _SECTION_RE.findall(t)]
            answer.stutter_sections = sorted({"build" if s.startswith("build") else s for s in sections}) or ["build"]
        grid = re.search(r"\b1\s*/\s*(8|16|32)\b|\b(eighth|sixteenth|thirty-?second)\b", t)
        if grid:
            value = grid[1] or {"eighth": "8", "sixteenth": "16"}.get(grid[2] or "", "32")
            answer.stutter_grid = f"1/{value}"  # type: ignore[assignment]
        if re.search(r"\bformants?\b", t):
            answer.preserve_formants = not re.search(r"\b(without|no|don'?t keep|ignore)\b.*formant", t)
        if re.search(r"\bchipmunk\b", t):
            answer.preserve_formants = True
        if answer != VocalAnswer():
            u.vocal = answer

    def _loudness(self, t: str, u: Understanding) -> None:
        lufs = _LUFS_RE.search(t)
        if lufs:
            value = -abs(float(lufs[1].replace(" ", "")))
            if -30 <= value <= -4:
                u.target_lufs = value
        destination = _DESTINATION_RE.search(t)
        if destination and re.search(r"\b(master|loud|for|ready|version|destination|release|play)\b", t):
            u.destination = _DESTINATION_ALIASES.get(destination[1], destination[1])
        if _LOUDER_MASTER_RE.search(t) or u.target_lufs is not None or u.destination:
            direction: Direction = "down" if re.search(r"\b(quieter|softer|less loud|too loud)\b", t) else "up"
            u.feedback.append(
                Feedback(domain=Domain.MASTERING, aspect=Aspect.LOUDNESS, direction=direction,
                         target="master", amount=u.target_lufs, text=t)
            )

    def _feedback(self, t: str, u: Understanding, context: BrainContext) -> None:
        if u.has(Intent.REQUEST) and not re.search(r"\b(but|and|with)\b", t):
            return
        seen: set[tuple[Aspect, str]] = {(f.aspect, f.target) for f in u.feedback}
        carried = ""
        bars = _BARS_RE.search(t)
        for clause in _split_clauses(t):
            target = _target_in(clause) or carried
            if _LOUDER_MASTER_RE.search(clause):
                carried = target
                continue  # handled by _loudness
            for regex, domain, aspect, direction, default_target in _RULES:
                if not regex.search(clause):
                    continue
                if aspect in (Aspect.LEVEL, Aspect.VOCAL_SHIFT) and "octave" in clause:
                    continue  # "drop the bass an octave": by octaves, not yet (core/not_yet.py)
                if aspect is Aspect.LEVEL and not _target_in(clause) and not (
                        carried and re.search(r"\b(?:them|they|it)\b", clause)):
                    continue  # "lower" alone says nothing about what; "them" is the last named
                if aspect in (Aspect.STUTTER, Aspect.CHOPS) and u.vocal and (
                    u.has(Intent.REQUEST) or context.pending_topic == "vocal"
                    or (not context.has_version and not context.pending_topic)
                ):
                    continue  # already said as the vocal treatment, not a change to a version
                if aspect is Aspect.LEVEL and u.vocal is not None and u.vocal.mode is not None \
                        and (target or default_target) == "vocals" \
                        and (context.pending_topic == "vocal" or not context.has_version):
                    continue  # "drop the vocals", "keep the vocals": the vocal treatment
                item_target = target or default_target
                if aspect in _VOCAL_ASPECTS:  # "instrumental intro": still the vocal's place
                    item_target = "vocals"
                item_domain = domain
                if item_target == "master" and aspect in (Aspect.BRIGHTNESS, Aspect.WIDTH, Aspect.LEVEL):
                    item_domain = Domain.MASTERING
                    if aspect is Aspect.LEVEL:
                        aspect = Aspect.LOUDNESS
                if aspect is Aspect.BUSIER and item_target == "bass":
                    item_domain = Domain.BASS
                if aspect is Aspect.SIDECHAIN and item_target in ("", "kick", "master", "drums"):
                    item_target = "bass"
                if (aspect, item_target) in seen:
                    continue
                seen.add((aspect, item_target))
                amount = _DB_RE.search(clause)
                said = (_semitones_in(clause) if aspect is Aspect.VOCAL_SHIFT
                        else float(amount[1]) if amount else None)
                sections = _sections_named(clause)
                clause_bars = _BARS_RE.search(clause) or (bars if aspect in _BAR_ASPECTS else None)
                if clause_bars and int(clause_bars[1]) > int(clause_bars[2]):
                    clause_bars = None  # "bars 126 -9": no range a bar grid can hold
                u.feedback.append(
                    Feedback(
                        domain=item_domain,
                        aspect=aspect,
                        direction=direction,
                        target=item_target,
                        amount=said,
                        start_bar=int(clause_bars[1]) if clause_bars else None,
                        end_bar=int(clause_bars[2]) if clause_bars else None,
                        section=sections[0] if sections else "",
                        more_sections=sections[1:],
                        text=clause,
                    )
                )
                break  # one aspect per clause; "bass too loud, more sidechain" is two clauses
            carried = target


_BAR_ASPECTS = {Aspect.FILTER_SWEEP, Aspect.RISER, Aspect.STUTTER, Aspect.IMPACT}
_VOCAL_ASPECTS = {Aspect.VOCAL_PLACEMENT, Aspect.VOCAL_ONLY, Aspect.HOOK, Aspect.VOCAL_SHIFT}
_PLACED_RE = re.compile(r"\b(?:intro|outro|build(?:-?up)?|breakdown)\s+instrumental\b|"
                        r"\binstrumental\s+(?:intro|outro|build(?:-?up)?|breakdown)\b")
"""An instrumental *section* is about where the vocal sings, not dropping it altogether."""
_SEMITONES_RE = re.compile(
    r"\b(\d{1,2}|a|one|two|three|four|five|six)\s+(?:semi-?tones?|half[- ]?steps?)\b|"
    r"\b(?:a\s+)?(whole)\s+(?:tone|step)\b")


def _semitones_in(clause: str) -> float | None:
    """The semitones named in ``clause`` ("up a semitone", "down 2 semitones", "a whole tone")."""
    match = _SEMITONES_RE.search(clause)
    if match is None:
        return None
    if match[2]:
        return 2.0
    word = match[1]
    return float(word) if word.isdigit() else float(1 if word == "a" else _NUMBER_WORDS[word])


def _version_number(word: str) -> int:
    """``"2"`` or ``"two"`` -> 2."""
    return int(word) if word.isdigit() else _SMALL_NUMBERS.index(word) + 1


def _tempo_in(t: str, *, pending_key_bpm: bool, has_version: bool) -> BpmChange | None:
    """The tempo asked for in ``t``: a number of BPM, words, a change, half or double time.

    A bare number ("126", "make it 124") counts only as the answer to a key/tempo question.
    """
    for value in _bpm_values(t, pending_key_bpm=pending_key_bpm, has_version=has_version):
        if 40 <= value <= 220:
            return BpmChange(kind="absolute", value=value)
    if re.search(r"\bhalf[- ]?time\b|\bhalf (?:the )?(?:tempo|speed)\b", t):
        return BpmChange(kind="half")
    if re.search(r"\bdouble[- ]?time\b|\bdouble (?:the )?(?:tempo|speed)\b", t):
        return BpmChange(kind="double")
    if re.search(r"\b(?:keep|same|original|don'?t change)(?: the)?(?: original)? (?:tempo|bpm|speed)\b|\b(?:tempo|bpm) as is\b", t):
        return BpmChange(kind="keep")
    delta = _TEMPO_DELTA_RE.search(t)
    if delta is None:
        return None
    size = {"much": 10.0, "way": 10.0, "a lot": 10.0}.get(delta[1] or "", 5.0)
    if delta[1] and re.search(r"\b(?:bit|little|touch|tad|slightly)\b", delta[1]):
        size = 3.0
    by = re.search(r"\bby (\d{1,2}(?:\.\d+)?)\b", t)
    if by and 0 < float(by[1]) <= 40:
        size = float(by[1])
    slower = re.match(r"slow|lower|decrease|drop|reduce", delta[2])
    return BpmChange(kind="relative", value=-size if slower else size)


def _bpm_values(t: str, *, pending_key_bpm: bool, has_version: bool) -> Iterable[float]:
    """Every absolute tempo ``t`` may name, most explicit first."""
    for match in re.finditer(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute|beats)\b", t):
        yield float(match[1])
    for match in _TEMPO_TO_RE.finditer(t):
        yield float(match[1])
    for match in _TEMPO_MOVE_RE.finditer(t):
        yield float(match[1])
    if not has_version or pending_key_bpm:  # on a version, "at 64" is more likely a bar
        for match in _AT_NUMBER_RE.finditer(t):
            yield float(match[1])
        for match in _AT_WORDS_RE.finditer(t):  # "at one thirty"
            value = _words_to_number(match[1])
            if value is not None:
                yield float(value)
    for match in _NUMBER_WORD_RE.finditer(t):
        value = _words_to_number(match[1])
        if value is not None:
            yield float(value)
    if pending_key_bpm:
        bare = re.search(r"(?:make it|at|to|go|try|do|maybe)\s+(\d{2,3}(?:\.\d+)?)\b(?!\s*(?:db|lufs|%|bars?))", t)
        bare = bare or re.search(r"(?:^|\s)(\d{2,3}(?:\.\d+)?)\W*$", t)  # "126", "Fm 126"
        # "130 is fine", "128 works", "125 please": a number first, then words
        bare = bare or re.search(r"^\W*(\d{2,3}(?:\.\d+)?)\b(?!\s*(?:db|lufs|%|bars?|hz|k\b))", t)
        if bare:
            yield float(bare[1])
        words = _BARE_NUMBER_WORDS_RE.fullmatch(t) or _LAST_NUMBER_WORDS_RE.search(t)
        if words:  # "one twenty six", "sure, one twenty four"
            value = _words_to_number(words[1])
            if value is not None:
                yield float(value)


def _key_in(t: str, *, pending_key_bpm: bool) -> Key | None:
    """The first key named in ``t``, read the way a musician would (see ``_KEY_CANDIDATE_RE``)."""
    whole = re.sub(r"[^\w#♯♭ ]+", "", t).strip()
    for match in _KEY_CANDIDATE_RE.finditer(t):
        raw = match["key"].strip()
        before = t[: match.start()].split()
        after = t[match.end() :]
        alone = raw == whole
        introduced = bool(match["pre"])
        if before and not introduced and (before[-1] == "i" or before[-1][-1:].isdigit()):
            continue  # "I am", "3 dB", "9 am"; but "at 124 in C minor" is a key
        if match["mode"] is None and match["acc"] is None:  # a lone letter: "in C", "C"
            if raw in {"a", "b"} and not introduced:
                continue  # an article, a grade
            if not (alone or ((introduced or pending_key_bpm) and _BARE_KEY_FOLLOW_RE.match(after))):
                continue
        elif raw in {"em", "dm"} and not (introduced or alone):
            continue  # "tame 'em", "send me a dm": a key spelled like a word needs an "in"
        elif not (alone or _KEY_FOLLOW_RE.match(after)):
            continue  # "gm everyone", "a major improvement"
        key = parse_key(raw)
        if key is not None:
            return key
    return None


def _section_kind(word: str) -> str:
    return "build" if word.startswith("build") else word


_DROP_VERB_RE = re.compile(
    r"(?<!\bthe )(?<!\bin )(?<!\bfirst )(?<!\bsecond )(?<!\blast )(?<!\bthat )(?<!\beach )"
    r"(?<!\bevery )(?<!\bboth )(?<!\bthis )(?<!\bmy )(?<!\bbig )"
    r"\bdrop\s+(?:the|my|it|them|that|this|those|these|all|some|every)\b")
""""drop" as a verb ("drop the vocal from the intro"), not the section ("in the drop the bass
is too loud" names the drop)."""


def _sections_named(clause: str) -> list[str]:
    """The section kinds a clause names, in order, each once; "drop" used as a verb is none."""
    verbs = {m.start() for m in _DROP_VERB_RE.finditer(clause)}
    kinds = [_section_kind(m[1]) for m in _SECTION_RE.finditer(clause) if m.start() not in verbs]
    return list(dict.fromkeys(kinds))


def genre_names(genres: Iterable[GenreProfile]) -> list[str]:
    """Display names of the known genres, for help texts."""
    return sorted(g.name for g in genres)
