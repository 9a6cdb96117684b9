"""ClaudeChefAdvisor through the real ``anthropic`` client against a loopback fake of the Messages API.

Claude's operations are used only when every one validates into the real operation models,
belongs to the Chef's domain and names a track that exists; anything else gives the rule
Chef's patch back unchanged, and the API key never reaches a log record.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chefs import MasteringChef, MixingChef, SoundDesignChef, load_genres
from core.brain import Aspect, Domain, Feedback
from core.claude_chef import DOMAIN_OPS, TOOL_NAME, ClaudeChefAdvisor
from core.measurements import Measurements
from core.music import parse_key
from core.patch import AdjustGain, SpecPatch, apply_patch
from core.production import MaestroState
from core.spec import ProductionSpec, Section, Sidechain, TrackSpec
from core.store import SqliteStore

try:
    from tests.fakes.anthropic_api import FakeAnthropicAPI, claude_users
except ModuleNotFoundError:  # the repository root is not on sys.path unless pytest's says so
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.fakes.anthropic_api import FakeAnthropicAPI, claude_users

from tests.core.test_maestro import SEED, NoJobsQueue, production, say
from tests.fakes.rule_maestro import rule_maestro

API_KEY = "sk-ant-test-chef-0123456789-SECRET"
GENRE = next(g for g in load_genres() if g.id == "afro_house")
MIXING = MixingChef()
BASS_DOWN = Feedback(domain=Domain.MIXING, aspect=Aspect.LEVEL, direction="down", target="bass",
                     text="bass too loud")
CLAUDE_BASS: dict[str, Any] = {
    "ops": [{"op": "adjust_gain", "track": "bass", "delta_db": -4.0}],
    "rationale": "Lowered the **bass** by 4 dB:\n\tit masks the kick around 60 Hz.  ",
}

MakeAdvisor = Callable[..., ClaudeChefAdvisor]


def make_spec() -> ProductionSpec:
    return ProductionSpec(
        title="t", genre="afro_house", tempo_bpm=126, key=parse_key("Fm"),
        sections=[Section(name="intro", kind="intro", bars=16),
                  Section(name="build", kind="build", bars=16),
                  Section(name="drop", kind="drop", bars=32)],
        tracks=[TrackSpec(name="kick", role="kick", source="stem", stem="drums"),
                TrackSpec(name="bass", role="bass", source="stem", stem="bass", gain_db=-2,
                          sidechain=Sidechain(depth_db=6)),
                TrackSpec(name="music", role="music", source="stem", stem="other")],
    )  # fmt: skip


def rule_patch(spec: ProductionSpec, request: Feedback = BASS_DOWN) -> SpecPatch:
    return MIXING.consult(spec=spec, request=request, measurements=Measurements(), genre=GENRE)


@pytest.fixture
def spec() -> ProductionSpec:
    """Most tests start from this spec and the Mixing Chef's patch for "bass too loud"."""
    return make_spec()


@pytest.fixture
def rules(spec: ProductionSpec) -> SpecPatch:
    return rule_patch(spec)


@pytest.fixture
async def make_advisor(api: FakeAnthropicAPI) -> AsyncIterator[MakeAdvisor]:
    async with claude_users(ClaudeChefAdvisor, api_key=API_KEY, model="claude-test",
                            base_url=api.base_url, timeout_s=5.0) as make:
        yield make


async def advise(advisor: ClaudeChefAdvisor, spec: ProductionSpec, rules: SpecPatch, *,
                 chef: Any = MIXING, request: Feedback = BASS_DOWN) -> SpecPatch:
    return await advisor.advise(chef=chef, request=request, spec=spec,
                                measurements=Measurements.model_validate(
                                    {"integrated_lufs": -9.5,
                                     "tracks": {"bass": {"track_level_db": -14.0}}}),
                                rule_patch=rules)


def _infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.claude_chef"]


async def test_claudes_valid_ops_are_used_and_apply(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, caplog: pytest.LogCaptureFixture,
    spec: ProductionSpec, rules: SpecPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert [op.delta_db for op in rules.ops if isinstance(op, AdjustGain)] == [-3.0]
    api.reply_tool_use(CLAUDE_BASS, name=TOOL_NAME)
    patch = await advise(make_advisor(), spec, rules)
    assert patch.chef == "MixingChef" and patch.request == "bass too loud"
    assert patch.ops == [AdjustGain(track="bass", delta_db=-4.0)]
    assert patch.rationale == "Lowered the bass by 4 dB: it masks the kick around 60 Hz."
    effect, heard = patch.expected  # the fader, and what the master's bass region does
    assert (effect.metric, effect.track, effect.change, effect.direction) == (
        "track_level_db", "bass", -4.0, "down")
    assert effect.text == "bass -4 dB"
    assert (heard.metric, heard.change, heard.direction) == ("low_between_kicks_db", -4.0, "down")
    new = apply_patch(spec, patch)
    bass = new.track("bass")
    assert bass is not None and bass.gain_db == pytest.approx(-6.0)
    assert any("chef advice from claude" in m for m in _infos(caplog))

    sent = api.requests[0].body
    assert sent["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert '"bass too loud"' in sent["messages"][0]["content"]
    assert '"delta_db": -3.0' in sent["messages"][0]["content"]  # the rule patch as a start


async def test_sidechain_change_is_recomputed_from_claudes_depth(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, spec: ProductionSpec
) -> None:
    request = Feedback(domain=Domain.MIXING, aspect=Aspect.SIDECHAIN, direction="up",
                       target="bass", text="more sidechain")
    rules = rule_patch(spec, request)
    api.reply_tool_use({"ops": [{"op": "set_sidechain", "track": "bass", "depth_db": 10,
                                 "release_ms": 150}], "rationale": "Deeper pump."},
                       name=TOOL_NAME)
    patch = await advise(make_advisor(), spec, rules, request=request)
    [effect] = patch.expected
    assert (effect.metric, effect.change, effect.direction) == ("ducking_depth_db", 4.0, "up")
    assert effect.text == "bass ducking depth 6 → 10 dB on kick hits"


def test_tool_schema_lists_only_the_domains_op_types(rules: SpecPatch) -> None:
    advisor = ClaudeChefAdvisor(api_key=API_KEY, model="m", base_url="http://127.0.0.1:9")
    allowed = advisor.allowed_ops(MIXING, rules)
    assert allowed == DOMAIN_OPS[Domain.MIXING]
    assert "set_master" not in allowed and "set_tempo" not in allowed
    assert advisor.allowed_ops(MasteringChef(), SpecPatch(chef="MasteringChef")) == {"set_master"}


async def test_tool_schema_sent_lists_only_the_allowed_op_types(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, spec: ProductionSpec, rules: SpecPatch
) -> None:
    api.reply_tool_use(CLAUDE_BASS, name=TOOL_NAME)
    await advise(make_advisor(), spec, rules)
    [tool] = api.requests[0].body["tools"]
    assert tool["name"] == TOOL_NAME
    variants = tool["input_schema"]["properties"]["ops"]["items"]["anyOf"]
    sent = {v["properties"]["op"]["const"] for v in variants}
    assert sent == {"adjust_gain", "set_eq_band", "set_highpass", "set_compression",
                    "set_sidechain", "set_send", "add_automation"}
    automation = next(v for v in variants if v["properties"]["op"]["const"] == "add_automation")
    assert automation["properties"]["automation"]["properties"]["parameter"]["enum"] == ["gain_db"]
    gain = next(v for v in variants if v["properties"]["op"]["const"] == "adjust_gain")
    assert gain["properties"]["delta_db"]["maximum"] == 12  # the model's bounds, sent as schema


@pytest.mark.parametrize("tool_input", [
    pytest.param({"ops": [{"op": "adjust_gain", "track": "bass", "delta_db": 40}],
                  "rationale": "louder"}, id="gain-out-of-bounds"),
    pytest.param({"ops": [{"op": "set_master", "target_lufs": -8}], "rationale": "x"},
                 id="other-domain"),
    pytest.param({"ops": [{"op": "adjust_gain", "track": "sub808", "delta_db": -4}],
                  "rationale": "x"}, id="missing-track"),
    pytest.param({"ops": [], "rationale": "nothing to do"}, id="empty-ops"),
    pytest.param({"ops": [{"op": "add_automation", "track": "music", "automation": {
        "parameter": "filter_cutoff_hz", "start_bar": 1, "end_bar": 8, "start_value": 200,
        "end_value": 20000}}], "rationale": "x"}, id="automation-parameter-of-another-domain"),
    pytest.param({"ops": [{"op": "add_automation", "track": "music", "automation": {
        "parameter": "gain_db", "start_bar": 60, "end_bar": 90, "start_value": 0,
        "end_value": -6}}], "rationale": "x"}, id="bars-past-the-end"),
    pytest.param({"ops": "adjust_gain bass -4"}, id="ops-not-a-list"),
    pytest.param({"ops": [{"op": "rm -rf", "track": "bass"}], "rationale": "x"},
                 id="unknown-op"),
])  # fmt: skip
async def test_bad_tool_input_falls_back_to_the_rule_patch(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, caplog: pytest.LogCaptureFixture,
    spec: ProductionSpec, rules: SpecPatch, tool_input: dict[str, Any],
) -> None:
    caplog.set_level(logging.INFO)
    api.reply_tool_use(tool_input, name=TOOL_NAME)
    assert await advise(make_advisor(), spec, rules) is rules
    assert any("chef advice from rules" in m for m in _infos(caplog))


@pytest.mark.parametrize("script", ["invalid_json", "http_500", "overloaded", "text_only",
                                    "wrong_tool"])
async def test_api_failures_fall_back_to_the_rule_patch(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, caplog: pytest.LogCaptureFixture,
    spec: ProductionSpec, rules: SpecPatch, script: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if script == "invalid_json":
        api.reply_invalid_json()
    elif script == "http_500":
        api.reply_error(500)
    elif script == "overloaded":
        api.reply_error(529, kind="overloaded_error")
    elif script == "text_only":
        api.reply_text("Sure! Turn the bass down.")
    else:
        api.reply_tool_use(CLAUDE_BASS, name="record_understanding")
    assert await advise(make_advisor(), spec, rules) is rules
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("fell back to the rules" in w for w in warnings)
    assert all(API_KEY not in r.getMessage() and API_KEY not in str(r.args)
               for r in caplog.records)
    headers = api.requests[0].headers  # the key goes to the API only
    assert API_KEY in (headers.get("x-api-key"), headers.get("authorization", "")[7:])


async def test_timeout_falls_back_to_the_rule_patch(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, caplog: pytest.LogCaptureFixture,
    spec: ProductionSpec, rules: SpecPatch,
) -> None:
    caplog.set_level(logging.WARNING)
    api.reply_slow(10.0, CLAUDE_BASS)
    assert await advise(make_advisor(timeout_s=0.3), spec, rules) is rules
    assert any("timeout" in r.getMessage() for r in caplog.records)


async def test_api_key_never_logged(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, caplog: pytest.LogCaptureFixture,
    spec: ProductionSpec,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.reply_tool_use(CLAUDE_BASS, name=TOOL_NAME)
    api.reply_error(401, kind="authentication_error", message="invalid x-api-key")
    advisor = make_advisor()
    await advise(advisor, spec, rule_patch(spec))
    await advise(advisor, spec, rule_patch(spec))
    assert caplog.records
    assert API_KEY not in caplog.text
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


async def test_sound_design_keeps_direction_only_effects(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, spec: ProductionSpec
) -> None:
    chef = SoundDesignChef()
    request = Feedback(domain=Domain.SOUND_DESIGN, aspect=Aspect.FILTER_SWEEP, direction="add",
                       section="build", text="filter sweep on the build")
    rules = chef.consult(spec=spec, request=request, measurements=Measurements(), genre=GENRE)
    api.reply_tool_use({"ops": [{"op": "add_automation", "track": "music", "automation": {
        "parameter": "filter_cutoff_hz", "start_bar": 17, "end_bar": 32, "start_value": 300,
        "end_value": 16000}}], "rationale": "A slightly shorter sweep."}, name=TOOL_NAME)
    patch = await advise(make_advisor(), spec, rules, chef=chef, request=request)
    assert patch is not rules and patch.offer == rules.offer
    [effect] = patch.expected
    assert effect.direction == "rises_across_bars"
    assert "300 Hz → 16 kHz" in effect.text


async def test_maestro_feedback_turn_uses_claudes_tuned_change(
    tmp_path: Path, api: FakeAnthropicAPI, make_advisor: MakeAdvisor
) -> None:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    maestro = rule_maestro(store, NoJobsQueue(), tmp_path,
                           advisor=make_advisor())
    try:
        for text in SEED[:3]:
            await say(maestro, text, song=text == SEED[0])
        p = await production(maestro)
        assert p.state is MaestroState.REVIEWING
        v1 = p.versions[0].spec
        bass = v1.track("bass")
        assert bass is not None and bass.sidechain is not None
        api.reply_tool_use(CLAUDE_BASS, name=TOOL_NAME)  # "bass too loud"
        api.reply_tool_use({"ops": [{"op": "set_sidechain", "track": "bass",
                                     "depth_db": bass.sidechain.depth_db + 4}],
                            "rationale": "Four dB deeper ducking."}, name=TOOL_NAME)
        await say(maestro, SEED[3])
        p = await production(maestro)
        assert p.state is MaestroState.REVIEWING
        assert len(api.requests) == 2
        v2 = p.versions[1].spec
        bass2 = v2.track("bass")
        assert bass2 is not None and bass2.sidechain is not None
        assert bass2.gain_db == pytest.approx(bass.gain_db - 4)  # Claude's −4, not the rules' −3
        assert bass2.sidechain.depth_db == pytest.approx(bass.sidechain.depth_db + 4)
        assert p.versions[1].patch is not None
        assert "bass -4.0 dB" in p.versions[1].patch.describe()
    finally:
        await store.close()


async def test_a_send_change_is_recomputed_from_claudes_send(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, spec: ProductionSpec
) -> None:
    """The card promises the return Claude's send gives, not the rule Chef's +5 dB."""
    music = spec.track("music")
    assert music is not None
    music.sends_db["reverb"] = -18.0
    request = Feedback(domain=Domain.MIXING, aspect=Aspect.REVERB, direction="up",
                       target="music", text="more reverb on the chords")
    rules = rule_patch(spec, request)
    assert [e.change for e in rules.expected if e.metric == "reverb_wet_db"] == [5.0]
    api.reply_tool_use({"ops": [{"op": "set_send", "track": "music", "bus": "reverb",
                                 "level_db": -16}], "rationale": "A touch more room."},
                       name=TOOL_NAME)
    patch = await advise(make_advisor(), spec, rules, request=request)
    [effect] = [e for e in patch.expected if e.metric == "reverb_wet_db"]
    assert (effect.track, effect.change, effect.direction) == ("music", 2.0, "up")
    assert effect.text == "music reverb send -18 → -16 dB"


async def test_where_the_vocal_sings_stays_the_rules(
    api: FakeAnthropicAPI, make_advisor: MakeAdvisor, spec: ProductionSpec
) -> None:
    """A placement of the vocal by section is the rules' own (see core.claude_chef): Claude is
    not asked, and the rule patch with its per-section promises answers as it is."""
    from chefs.vocal import VocalChef
    from core.spec import TrackRole, VocalProcessing

    sung = spec.model_copy(update={
        "vocal": VocalProcessing(),
        "tracks": [*spec.tracks, TrackSpec(name="vocals", role=TrackRole.VOCALS, source="stem",
                                           stem="vocals")],
        "sections": [s.model_copy(update={"layers": ["vocals"]}) for s in spec.sections]})
    request = Feedback(domain=Domain.VOCAL, aspect=Aspect.VOCAL_ONLY, direction="add",
                       target="vocals", section="drop", text="vocal only in the drops")
    rules = VocalChef().consult(spec=sung, request=request, measurements=Measurements(),
                                genre=GENRE)
    assert rules.ops and rules.expected
    assert await advise(make_advisor(), sung, rules, chef=VocalChef(), request=request) is rules
    assert api.requests == []
