"""Wiring: with an Anthropic key, the brain and the Chef advisor share one client, closed at exit."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bot.app import build_app
from bot.settings import Settings
from core.claude_brain import ClaudeBrain
from core.claude_chef import ClaudeChefAdvisor


async def test_brain_and_advisor_share_one_claude_client_closed_on_shutdown(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, anthropic_api_key=SecretStr("sk-test-not-real"),
                        anthropic_base_url="http://127.0.0.1:9")
    async with build_app(settings) as app:
        brain, advisor = app.maestro.brain, app.maestro.parts.advisor
        assert isinstance(brain, ClaudeBrain) and isinstance(advisor, ClaudeChefAdvisor)
        assert brain._claude is advisor._claude
        client = brain._claude._client
        assert not client.is_closed()
    assert client.is_closed()
