"""Shared fixtures for the audio engine tests: generated audio only, written to tmp folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo song at its default length, written once per session."""
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("demo") / "demo.wav")
