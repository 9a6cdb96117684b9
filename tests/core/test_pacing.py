"""The progress pacer: a job's first report is posted, later ones are edits no more often than
the platform's tier allows, and the final state always lands."""

from __future__ import annotations

from core.pacing import Pace, ProgressPacer


def test_first_report_posts_then_edits_wait_their_turn_and_the_end_always_lands() -> None:
    now = [0.0]
    pacer: ProgressPacer[int] = ProgressPacer(min_interval_s=15.0, clock=lambda: now[0])
    assert pacer.plan("j", "10%", done=False) == "post"
    pacer.shown("j", "10%", ref=7, done=False)
    now[0] = 5.0
    assert pacer.plan("j", "20%", done=False) == "skip"  # too soon after the post
    assert pacer.plan("j", "10%", done=False) == "skip"  # nothing new
    now[0] = 15.0
    assert pacer.plan("j", "30%", done=False) == "edit"
    assert pacer.ref("j") == 7
    pacer.shown("j", "30%", done=False)
    now[0] = 16.0
    assert pacer.plan("j", "done", done=True) == "edit"  # the end does not wait
    pacer.shown("j", "done", done=True)
    assert pacer.plan("j", "again", done=False) == "post"  # a finished job is forgotten


def test_a_failed_edit_is_planned_again_and_an_unchanged_end_is_forgotten() -> None:
    now = [0.0]
    pacer: ProgressPacer[str] = ProgressPacer(min_interval_s=2.0, clock=lambda: now[0])
    assert pacer.plan("j", "a", done=False) == "post"  # the post failed: nothing remembered
    assert pacer.plan("j", "a", done=False) == "post"
    pacer.shown("j", "a", ref="1.0", done=False)
    assert pacer.plan("j", "b", done=True) == "edit"  # the edit failed: still an edit
    assert pacer.plan("j", "b", done=True) == "edit"
    pacer.shown("j", "b", done=False)
    assert pacer.plan("j", "b", done=True) == "skip"  # already says it all: forgotten
    assert pacer.plan("j", "b", done=False) == "post"


async def test_a_pace_lets_a_burst_through_then_spaces_requests_by_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = Pace(burst=2, per_s=1.0, clock=lambda: now[0], sleep=sleep)
    await pace.wait("C1")
    await pace.wait("C1")
    assert slept == []  # the burst
    await pace.wait("C2")
    assert slept == []  # another channel has its own budget
    await pace.wait("C1")
    assert slept == [1.0]  # then one a second
    assert not pace.ready("C1")  # an edit that may be skipped is, while the tier is spent
    now[0] += 1.0
    assert pace.ready("C1")
