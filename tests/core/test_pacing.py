"""The progress pacer: a job's first report is posted, later ones are edits no more often than
the platform's tier allows, and the final state always lands."""

from __future__ import annotations

from core.pacing import ProgressPacer


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
