"""The phrasing table (``tests/core/phrasings.txt``): how producers talk, and what Vyke must hear.

Each row is a message in a context with its expected reading. The RuleBrain must read every
row that way; when a row fails, the brain (or ``core/not_yet.py``) is fixed, not the row.

The same table goes through :class:`ClaudeBrain` against the loopback fake of the Messages
API: the fake answers each row with the expected reading as the tool input, the way a
correct model would. That cannot prove Claude *understands* the phrasing (only a live model
can); it proves the Claude path carries every reading the product needs through the tool
schema, pydantic validation and ClaudeBrain's bounds to the same :class:`Understanding`:
no expected reading is dropped, clipped or mis-typed on the way, and a key written as a
name ("G minor") is taken too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chefs.genre import load_genres
from core.brain import BrainContext, Intent, Understanding
from core.claude_brain import TOOL_NAME, ClaudeBrain
from core.music import parse_key
from core.not_yet import not_yet_in
from core.rule_brain import RuleBrain
from tests.fakes.anthropic_api import FakeAnthropicAPI

pytestmark = pytest.mark.slow  # hundreds of phrasings through both brains

TABLE = Path(__file__).with_name("phrasings.txt")
MIN_ROWS = 200

CONTEXTS: dict[str, BrainContext] = {
    "new": BrainContext(),
    "song": BrainContext(has_song=True),
    "key_bpm": BrainContext(pending_topic="key_bpm", option_ids=["agree", "keep", "other"],
                            option_labels=["Yes", "Keep the original", "Something else"],
                            has_song=True),
    "vocal": BrainContext(pending_topic="vocal", option_ids=["keep", "chops", "none"],
                          option_labels=["Keep lyrics", "Vocal chops", "Instrumental"],
                          has_song=True),
    "genre": BrainContext(pending_topic="genre", has_song=True),
    "offer": BrainContext(pending_topic="offer", option_ids=["yes", "no"],
                          option_labels=["Yes, do that", "No thanks"], has_song=True,
                          has_version=True),
    "review": BrainContext(has_song=True, has_version=True,
                           track_names=["vocals", "kick", "drums", "percussion", "bass", "music"],
                           section_names=["intro", "build", "drop", "breakdown", "outro"]),
}


@dataclass
class Row:
    """One line of the table."""

    line: int
    context: str
    text: str
    expect: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.line}:{self.context}:{self.text[:40]}"


def read_table(path: Path = TABLE) -> list[Row]:
    """Every row of the table; a malformed row fails loudly with its line number."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        context, text, expected = (part.strip() for part in raw.split("|"))
        assert context in CONTEXTS, f"line {number}: unknown context {context!r}"
        expect: dict[str, str] = {}
        for item in filter(None, (i.strip() for i in expected.split(";"))):
            name, _, value = item.partition("=")
            expect[name.strip()] = value.strip()
        rows.append(Row(number, context, text, expect))
    return rows


ROWS = read_table()


def _feedback_tuple(spec: str) -> tuple[str, ...]:
    parts = spec.split("/")
    return (*parts[:4], *([""] * (4 - len(parts[:4]))), parts[4] if len(parts) > 4 else "")


def _bpm(value: str) -> tuple[str, float]:
    if value in ("half", "double", "keep"):
        return (value, 0.0)
    if value[0] in "+-":
        return ("relative", float(value))
    return ("absolute", float(value))


def mismatches(u: Understanding, row: Row) -> list[str]:
    """How ``u`` differs from the row's expected reading (empty when it reads right)."""
    e = row.expect
    problems: list[str] = []

    def differ(name: str, got: object, want: object) -> None:
        if got != want:
            problems.append(f"{name}: got {got!r}, want {want!r}")

    if "unknown" in e:
        differ("intents", u.intents, [Intent.UNKNOWN])
        return problems
    if Intent.UNKNOWN in u.intents and "not_yet" not in e:  # a wish is the Maestro's to name
        problems.append("read as unknown")
    for name in filter(None, e.get("intents", "").split(",")):
        if Intent(name) not in u.intents:
            problems.append(f"intent {name} missing from {[i.value for i in u.intents]}")
    want_fb = [_feedback_tuple(s) for s in filter(None, e.get("fb", "").split(","))]
    got_fb = [(f.domain.value, f.aspect.value, f.direction, f.target,
               "+".join([f.section, *f.more_sections])) for f in u.feedback]
    differ("feedback", sorted(got_fb), sorted(want_fb))  # the order of two asks is free
    differ("genre", u.genre, e.get("genre"))
    differ("workflow", u.workflow.value if u.workflow else None, e.get("workflow"))
    if "source" in e:
        differ("source", u.source_description, e["source"])
    differ("bpm", (u.bpm.kind, u.bpm.value) if u.bpm else None,
           _bpm(e["bpm"]) if "bpm" in e else None)
    differ("key", u.key, parse_key(e["key"]) if "key" in e else None)
    differ("keep_key", u.keep_key, "keep_key" in e)
    if "agree" in e:
        differ("agree", u.agree, e["agree"] == "yes")
    if "option" in e:
        differ("option", u.option_id, e["option"])
    if "vocal" in e:
        mode = u.vocal.mode.value if u.vocal and u.vocal.mode else ("-" if u.vocal else None)
        differ("vocal", mode, e["vocal"])
    if "stutter" in e:
        differ("stutter", sorted(u.vocal.stutter_sections) if u.vocal else None,
               sorted(e["stutter"].split(",")))
    if "versions" in e:
        differ("versions", u.versions, [int(v) for v in e["versions"].split(",")])
    if "merge" in e:
        differ("merge", u.merge, {k: int(v) for k, v in
                                  (p.split(":") for p in e["merge"].split(","))})
    if "level" in e:
        differ("level", u.level, e["level"])
    if "destination" in e:
        differ("destination", u.destination, e["destination"])
    if "lufs" in e:
        differ("lufs", u.target_lufs, float(e["lufs"]))
    return problems


def not_yet_problems(row: Row) -> list[str]:
    """A wish not possible yet is recognised as that wish (brain-independent: the Maestro asks
    :func:`core.not_yet.not_yet_in` with the words); everything else is not a wish."""
    wish = not_yet_in(row.text)
    got = wish.wish if wish else None
    want = row.expect.get("not_yet")
    return [] if got == want else [f"not_yet: got {got!r}, want {want!r}"]


def test_the_table_is_big_and_varied() -> None:
    assert len(ROWS) >= MIN_ROWS
    assert {r.context for r in ROWS} == set(CONTEXTS)
    assert sum("not_yet" in r.expect for r in ROWS) >= 20
    assert sum("," in r.expect.get("fb", "") for r in ROWS) >= 10  # two requests in one
    assert len({r.text.lower() for r in ROWS}) >= len(ROWS) - 20


@pytest.fixture(scope="module")
def rules() -> RuleBrain:
    return RuleBrain(genres=load_genres())


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_rule_brain_reads_each_phrasing(rules: RuleBrain, row: Row) -> None:
    u = rules.parse(row.text, context=CONTEXTS[row.context])
    assert mismatches(u, row) + not_yet_problems(row) == []


def expected_tool_input(row: Row) -> dict[str, Any]:
    """The tool input a correct model would send for ``row``: its expected reading, as JSON."""
    e = row.expect
    if "unknown" in e:
        return {"intents": ["unknown"]}
    intents = [i for i in e.get("intents", "").split(",") if i]
    out: dict[str, Any] = {}
    if "fb" in e:
        out["feedback"] = []
        for spec in e["fb"].split(","):
            domain, aspect, direction, target, sections = _feedback_tuple(spec)
            section, *more = sections.split("+")
            out["feedback"].append({"domain": domain, "aspect": aspect, "direction": direction,
                                    "target": target, "section": section,
                                    "more_sections": more, "text": row.text})
        intents.append("feedback")
    if "workflow" in e:
        out["workflow"] = e["workflow"]
        intents.append("request")
    for name, field_name in (("genre", "genre"), ("source", "source_description"),
                             ("option", "option_id"), ("level", "level"),
                             ("destination", "destination")):
        if name in e:
            out[field_name] = e[name]
    if "bpm" in e:
        kind, value = _bpm(e["bpm"])
        out["bpm"] = {"kind": kind, "value": value}
    if "key" in e:
        out["key"] = e["key"]  # a name, as a model may write it: ClaudeBrain coerces it
    if "keep_key" in e:
        out["keep_key"] = True
    if "agree" in e:
        out["agree"] = e["agree"] == "yes"
    if "vocal" in e or "stutter" in e:
        vocal: dict[str, Any] = {}
        if e.get("vocal", "-") != "-":
            vocal["mode"] = e["vocal"]
        if "stutter" in e:
            vocal["stutter_sections"] = e["stutter"].split(",")
        out["vocal"] = vocal
    if "versions" in e:
        out["versions"] = [int(v) for v in e["versions"].split(",")]
    if "merge" in e:
        out["merge"] = {k: int(v) for k, v in (p.split(":") for p in e["merge"].split(","))}
    if "lufs" in e:
        out["target_lufs"] = float(e["lufs"])
    if CONTEXTS[row.context].pending_topic and (
            {"agree", "option", "bpm", "key", "keep_key", "vocal", "genre"} & set(e)):
        intents.append("answer")
    out["intents"] = list(dict.fromkeys(intents)) or ["unknown"]
    return out


class CountingFallback:
    """A fallback that understands nothing and counts how often the Claude path gave up."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    async def understand(self, text: str, *, context: BrainContext) -> Understanding:
        self.calls += 1
        return Understanding(intents=[Intent.UNKNOWN])


async def test_claude_brain_maps_each_expected_reading_to_the_same_understanding() -> None:
    """Every row, answered by the fake API with its expected reading, survives the Claude path."""
    failures = []
    fallback = CountingFallback()
    with FakeAnthropicAPI() as api:
        brain = ClaudeBrain(api_key="sk-ant-test", model="claude-test",
                            fallback=fallback, base_url=api.base_url,
                            timeout_s=5.0, genres=load_genres())
        try:
            for row in ROWS:
                api.reply_tool_use(expected_tool_input(row), name=TOOL_NAME)
                u = await brain.understand(row.text, context=CONTEXTS[row.context])
                problems = mismatches(u, row)
                if problems:
                    failures.append(f"{row.id}: {problems}")
        finally:
            await brain.aclose()
    assert len(api.requests) == len(ROWS) and fallback.calls == 0  # none fell back
    assert failures == []
