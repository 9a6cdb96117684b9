"""A question offers answering by reaction only where the installation may read reactions.

Slack sends the scopes an installation was granted in the ``x-oauth-scopes`` header; one
installed from an older manifest lacks ``reactions:read`` and never receives
``reaction_added``, so its questions must not say "or react"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackAdapter
from core.conversation import Option, Question, QuestionReply
from core.store import SqliteStore
from tests.fakes.rule_maestro import IdleQueue, rule_maestro
from tests.fakes.slack_api import MANIFEST_SCOPES, FakeSlackAPI

ROOT = Path(__file__).resolve().parents[2]


def test_the_fake_grants_what_the_manifest_asks_for() -> None:
    text = (ROOT / "slack-manifest.yml").read_text(encoding="utf-8")
    bot = text.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    asked = [line.strip()[2:].split("#")[0].strip() for line in bot.splitlines()
             if line.strip().startswith("- ")]
    assert sorted(asked) == sorted(MANIFEST_SCOPES)


@pytest.mark.parametrize(("scopes", "offered"), [
    (MANIFEST_SCOPES, True),
    (tuple(s for s in MANIFEST_SCOPES if s != "reactions:read"), False),
])
async def test_or_react_only_with_reactions_read(tmp_path: Path, scopes: tuple[str, ...],
                                                 offered: bool) -> None:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    async with FakeSlackAPI(scopes=scopes) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        adapter = SlackAdapter(client=client, signing_secret="s",
                               maestro=rule_maestro(store, IdleQueue(), tmp_path), store=store,
                               data_dir=tmp_path, max_upload_bytes=50_000_000)
        await adapter.start()
        try:
            question = Question(id="q1", text="I suggest Fm at 128 BPM. Agree?", options=[
                Option(id="agree", label="Yes"), Option(id="keep", label="Keep")],
                topic="key_bpm")
            message = adapter.to_message(QuestionReply(question=question),
                                         conversation_id="slack:T0VYKE:C0Q:1.0")
        finally:
            await adapter.stop()
            await store.close()
    blocks = json.dumps(message["blocks"])
    assert ("or react :one:" in blocks) is offered
    assert '"type": "actions"' in blocks  # the buttons are always there
