"""Fixtures of the reliability suite: a real generated song for the jobs to analyse."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 6-second song (C major, 118 BPM): real audio for the real jobs."""
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=6.0)
