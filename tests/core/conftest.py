"""Fixtures the core tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_api import FakeAnthropicAPI


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    """A running loopback Anthropic API (:class:`FakeAnthropicAPI`), closed after the test."""
    with FakeAnthropicAPI() as fake:
        yield fake
