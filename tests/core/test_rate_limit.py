"""Per-person and per-server message rates: a flood gets one sentence and changes nothing."""

from __future__ import annotations

from pathlib import Path

from chefs import all_chefs, load_genres
from core.conversation import Author, TextReply, Turn
from core.maestro import Maestro, MaestroLimits
from core.rate_limit import RateLimiter, server_of
from core.rule_brain import RuleBrain
from core.store import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_sliding_minute_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.allow("dee") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("sam")  # someone else is not held back
    clock.now = 59.9
    assert not limiter.allow("dee")
    clock.now = 60.0  # the first three fall out of the window together
    assert [limiter.allow("dee") for _ in range(4)] == [True, True, True, False]
    assert RateLimiter(0, clock=clock).allow("anyone")  # 0 = no limit


def test_the_server_of_a_conversation() -> None:
    assert server_of("discord:123:456") == "discord:123"
    assert server_of("slack:T1:C1:171.2") == "slack:T1"
    assert server_of("local:demo") == "local"


async def test_a_flood_is_answered_once_each_and_changes_nothing(tmp_path: Path) -> None:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    from tests.core.test_maestro import NoJobsQueue

    m = Maestro(brain=RuleBrain(genres=load_genres()), chefs=all_chefs(), genres=load_genres(),
                store=store, queue=NoJobsQueue(),
                limits=MaestroLimits(max_upload_bytes=1, max_song_s=1, data_dir=str(tmp_path),
                                     turns_per_minute=2, server_turns_per_minute=3))
    try:
        dee, sam, ann = (Author(id=n, name=n) for n in ("dee", "sam", "ann"))
        for author in (dee, dee):
            await m.handle(Turn(conversation_id="discord:g1:t1", author=author, text="help"))
        replies = await m.handle(Turn(conversation_id="discord:g1:t1", author=dee,
                                      text="start over"))
        assert isinstance(replies[0], TextReply) and "faster than I can" in replies[0].text
        p = await store.get("discord:g1:t1")
        assert p is not None and len(p.history) == 2  # the third message was not processed
        await m.handle(Turn(conversation_id="discord:g1:t2", author=sam, text="help"))
        replies = await m.handle(Turn(conversation_id="discord:g1:t3", author=ann, text="help"))
        assert "This server is sending me more messages" in replies[0].text
        replies = await m.handle(Turn(conversation_id="discord:g2:t1", author=ann, text="help"))
        assert "faster" not in replies[0].text  # another server is not held back
    finally:
        await store.close()
