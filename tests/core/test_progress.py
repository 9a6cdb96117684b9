"""The time-left estimate every progress update carries (``core/progress.py``)."""

from __future__ import annotations

import pytest

from core.progress import ProgressClock, remaining_s


def test_the_typical_time_leads_early_and_the_jobs_own_pace_late() -> None:
    assert remaining_s(elapsed_s=0.0, fraction=0.0, typical_s=None) is None
    assert remaining_s(elapsed_s=5.0, fraction=0.0, typical_s=40.0) == 35.0
    assert remaining_s(elapsed_s=10.0, fraction=0.5, typical_s=None) == 10.0
    # half done after 10 s of a usually-40-s job: halfway between 10 s (pace) and 30 s (usual)
    assert remaining_s(elapsed_s=10.0, fraction=0.5, typical_s=40.0) == 20.0
    assert remaining_s(elapsed_s=99.0, fraction=1.0, typical_s=40.0) == 0.0


def test_a_slow_job_still_has_a_little_left_and_never_a_negative_time() -> None:
    late = remaining_s(elapsed_s=100.0, fraction=0.0, typical_s=40.0)
    assert late == pytest.approx(4.0)  # a tenth of the usual, not "-60 s"
    assert remaining_s(elapsed_s=1.0, fraction=0.01, typical_s=None) is None  # start-up noise


def test_the_clock_counts_from_its_start() -> None:
    now = [100.0]
    clock = ProgressClock(typical_s=None, now=lambda: now[0])
    now[0] = 130.0
    assert clock.elapsed_s == 30.0
    assert clock.eta_s(0.75) == 10.0
