"""``VYKE_MAX_BARS``: a host's cap on arrangement length scales the genre's form, says so,
and leaves the form alone when it fits or when no cap is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from chefs.genre import genre_by_id
from core.brief import Brief
from core.conversation import Author, Turn, replies_text
from core.jobs import JobKind, RenderRequest
from core.planner import base_spec, fit_sections
from core.spec import Section
from core.store import SqliteStore
from tests.fakes.rule_maestro import RecordingQueue, rule_maestro


def test_sections_shrink_in_whole_phrases_and_keep_their_shape() -> None:
    form = _afro_sections()
    assert [s.bars for s in form] == [16, 8, 32, 16, 32, 32]
    fitted = fit_sections(form, 64)
    assert [s.kind for s in fitted] == [s.kind for s in form]
    assert all(s.bars % 4 == 0 and s.bars >= 4 for s in fitted)
    assert 60 <= sum(s.bars for s in fitted) <= 72  # about the cap, in whole phrases
    # the drops stay the longest sections, the build the shortest
    assert [s.bars for s in fitted] == [8, 4, 16, 8, 16, 16]


@pytest.mark.parametrize("cap", [0, 136, 500])
def test_a_form_within_the_cap_is_untouched(cap: int) -> None:
    form = _afro_sections()
    assert fit_sections(form, cap) == form


@pytest.mark.parametrize(("cap", "expected_bars"), [(0, 136), (64, 68)])
async def test_the_plan_renders_the_capped_form_and_says_why(tmp_path: Path, cap: int,
                                                             expected_bars: int) -> None:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = RecordingQueue(JobKind.RENDER)
    maestro = rule_maestro(store, queue, tmp_path)
    maestro.parts.limits.max_bars = cap
    author = Author(id="u-dee", name="Dee")
    try:
        said = replies_text(await maestro.handle(Turn(
            conversation_id="local:cap", author=author,
            text="an afro house track in F minor at 126 BPM")))
        production = await store.get("local:cap")
        while production is not None and production.pending_question is not None:
            said += replies_text(await maestro.handle(Turn(
                conversation_id="local:cap", author=author, text="yes")))
            production = await store.get("local:cap")
    finally:
        await store.close()
    render = next(r.payload for r in queue.requests if r.kind is JobKind.RENDER)
    assert isinstance(render, RenderRequest)
    assert render.spec.total_bars == expected_bars
    assert ("keeps arrangements to about 64 bars" in said) is bool(cap)
    # the Chefs planned on the short form: every transition lands inside it
    assert render.spec.transitions
    assert all(t.start_bar + t.bars - 1 <= render.spec.total_bars
               for t in render.spec.transitions)


def _afro_sections() -> list[Section]:

    spec = base_spec(production_id="t", brief=Brief(), genre=genre_by_id("afro_house"),
                     source_key=None, source_tempo_bpm=None, stems={})
    return spec.sections
