"""The loopback fakes are as strict as the platforms: each enforced limit refuses a request
that breaks it, rate tiers answer 429 with Retry-After, and faults come on demand.

These drive the fakes with plain HTTP (what any client would send) and, for the retries, with
the real discord.py and slack_sdk clients, so a bot test that passes against the fakes
could not have sent a request the platform would refuse.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.faults import Fault
from tests.fakes.slack_api import FakeSlackAPI

pytestmark = pytest.mark.asyncio(loop_scope="function")


def _button(custom_id: str, label: str = "Yes") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


# --- Discord ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def discord_api() -> AsyncIterator[FakeDiscordAPI]:
    async with FakeDiscordAPI() as api:
        yield api


async def _discord_post(api: FakeDiscordAPI, path: str, body: dict[str, Any], *,
                        method: str = "POST") -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{api.base_url}/api/v10{path}", json=body) as response:
        return response.status, await response.json()


DISCORD_BROKEN: dict[str, dict[str, Any]] = {
    "content over 2000": {"content": "x" * 2001},
    "embed description over 4096": {"embeds": [{"description": "x" * 4097}]},
    "embed title over 256": {"embeds": [{"title": "x" * 257}]},
    "eleven embeds": {"embeds": [{"description": "x"}] * 11},
    "embeds over 6000 in all": {"embeds": [{"description": "x" * 4000}] * 2},
    "six action rows": {"components": [_row(_button(f"b{i}")) for i in range(6)]},
    "six buttons in a row": {"components": [_row(*(_button(f"b{i}") for i in range(6)))]},
    "label over 80": {"components": [_row(_button("b", label="x" * 81))]},
    "custom_id over 100": {"components": [_row(_button("x" * 101))]},
    "duplicate custom_id": {"components": [_row(_button("same"), _button("same"))]},
}


@pytest.mark.parametrize("case", list(DISCORD_BROKEN))
async def test_discord_refuses_a_message_that_breaks_a_limit(discord_api: FakeDiscordAPI,
                                                             case: str) -> None:
    status, answer = await _discord_post(
        discord_api, f"/channels/{discord_api.channel_id}/messages", DISCORD_BROKEN[case])
    assert (status, answer["code"]) == (400, 50035)
    assert discord_api.violations and not discord_api.messages_in(discord_api.channel_id)


async def test_discord_refuses_an_edit_that_breaks_a_limit(discord_api: FakeDiscordAPI) -> None:
    status, posted = await _discord_post(
        discord_api, f"/channels/{discord_api.channel_id}/messages", {"content": "fine"})
    assert status == 200 and not discord_api.violations
    status, _ = await _discord_post(
        discord_api, f"/channels/{discord_api.channel_id}/messages/{posted['id']}",
        {"content": "x" * 2001}, method="PATCH")
    assert status == 400
    assert discord_api.messages_in(discord_api.channel_id)[0].content == "fine"


async def test_discord_refuses_eleven_files(discord_api: FakeDiscordAPI) -> None:
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "files"}))
    for i in range(11):
        form.add_field(f"files[{i}]", b"x", filename=f"f{i}.txt")
    async with aiohttp.ClientSession() as session, session.post(
            f"{discord_api.base_url}/api/v10/channels/{discord_api.channel_id}/messages",
            data=form) as response:
        assert response.status == 400
    assert "11 files (max 10)" in discord_api.violations


async def test_discord_threads_need_a_name_of_at_most_100_and_the_permission(
        discord_api: FakeDiscordAPI) -> None:
    path = f"/channels/{discord_api.channel_id}/threads"
    assert (await _discord_post(discord_api, path, {"name": "x" * 101, "type": 11}))[0] == 400
    assert (await _discord_post(discord_api, path, {"name": "ok", "type": 11}))[0] == 201
    discord_api.threads_allowed = False
    status, answer = await _discord_post(discord_api, path, {"name": "ok", "type": 11})
    assert (status, answer["code"]) == (403, 50013)


async def test_discord_a_channel_bucket_answers_429_with_retry_after(
        discord_api: FakeDiscordAPI) -> None:
    path = f"/channels/{discord_api.channel_id}/messages"
    statuses = [(await _discord_post(discord_api, path, {"content": str(i)}))[0] for i in range(6)]
    assert statuses == [200] * 5 + [429]
    async with aiohttp.ClientSession() as session, session.post(
            f"{discord_api.base_url}/api/v10{path}", json={"content": "again"}) as response:
        assert response.status == 429
        assert float(response.headers["Retry-After"]) > 0
        assert (await response.json())["retry_after"] > 0
    assert len(discord_api.messages_in(discord_api.channel_id)) == 5


async def _discord_client(api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch
                          ) -> discord.Client:
    api.point(monkeypatch)
    client = discord.Client(intents=discord.Intents.default())
    await client.login("fake-token")
    api.connect(client)
    return client


async def test_discord_py_waits_out_a_429_and_a_500_and_posts_once(
        discord_api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await _discord_client(discord_api, monkeypatch)
    try:
        channel = client.get_partial_messageable(discord_api.channel_id)
        discord_api.faults.next("POST /channels/*/messages", Fault("status", 429, seconds=0.05))
        discord_api.faults.next("POST /channels/*/messages", Fault("status", 500))
        await channel.send("hello")
        assert [m.content for m in discord_api.messages_in(discord_api.channel_id)] == ["hello"]
        assert [r.status for r in discord_api.requests
                if r.path.endswith("/messages")] == [429, 500, 200]
    finally:
        await client.close()


async def test_discord_a_dropped_connection_is_an_error_and_posts_nothing(
        discord_api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await _discord_client(discord_api, monkeypatch)
    try:
        channel = client.get_partial_messageable(discord_api.channel_id)
        discord_api.faults.next("POST /channels/*/messages", Fault("drop"))
        with pytest.raises(aiohttp.ClientError):
            await channel.send("lost")
        assert not discord_api.messages_in(discord_api.channel_id)
        await channel.send("found")  # the next one goes through
        assert [m.content for m in discord_api.messages_in(discord_api.channel_id)] == ["found"]
    finally:
        await client.close()


async def test_every_third_request_fails_when_asked(discord_api: FakeDiscordAPI) -> None:
    discord_api.faults.fail_every(3, statuses=(429, 500), retry_after_s=0.01)
    path = f"/channels/{discord_api.channel_id}/messages"
    statuses = [(await _discord_post(discord_api, path, {"content": str(i)}))[0] for i in range(6)]
    assert statuses == [200, 200, 429, 200, 200, 500]


# --- Slack -----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as api:
        yield api


def _client(slack: FakeSlackAPI, *, retry_429: bool = False) -> AsyncWebClient:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    if retry_429:
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack_button(action_id: str, text: str = "Yes", value: str = "v") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value,
            "text": {"type": "plain_text", "text": text}}


SLACK_BROKEN: dict[str, dict[str, Any]] = {
    "text over 40000": {"text": "x" * 40_001},
    "51 blocks": {"blocks": [_section("x")] * 51},
    "section text over 3000": {"blocks": [_section("x" * 3001)]},
    "eleven section fields": {"blocks": [{"type": "section", "fields": [
        {"type": "mrkdwn", "text": "x"}] * 11}]},
    "header over 150": {"blocks": [{"type": "header",
                                    "text": {"type": "plain_text", "text": "x" * 151}}]},
    "context of eleven": {"blocks": [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": "x"}] * 11}]},
    "26 actions": {"blocks": [{"type": "actions", "elements": [
        _slack_button(f"a{i}") for i in range(26)]}]},
    "button text over 75": {"blocks": [{"type": "actions", "elements": [
        _slack_button("a", text="x" * 76)]}]},
    "action_id over 255": {"blocks": [{"type": "actions", "elements": [
        _slack_button("x" * 256)]}]},
    "value over 2000": {"blocks": [{"type": "actions", "elements": [
        _slack_button("a", value="x" * 2001)]}]},
    "duplicate action_id": {"blocks": [{"type": "actions", "elements": [
        _slack_button("same"), _slack_button("same")]}]},
    "duplicate block_id": {"blocks": [{**_section("a"), "block_id": "b"},
                                      {**_section("b"), "block_id": "b"}]},
}


@pytest.mark.parametrize("case", list(SLACK_BROKEN))
async def test_slack_refuses_a_message_that_breaks_a_limit(slack: FakeSlackAPI, case: str) -> None:
    client = _client(slack)
    args = {"text": "fallback", **SLACK_BROKEN[case]}
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C1", **args)
    assert refused.value.response["error"] in ("msg_too_long", "invalid_blocks")
    assert slack.violations and not slack.roots("C1")


async def test_slack_refuses_an_update_that_breaks_a_limit(slack: FakeSlackAPI) -> None:
    client = _client(slack)
    posted = await client.chat_postMessage(channel="C1", text="fine")
    with pytest.raises(SlackApiError):
        await client.chat_update(channel="C1", ts=posted["ts"], text="x",
                                 blocks=[_section("x" * 3001)])
    assert slack.message(posted["ts"]).text == "fine"


async def test_slack_posting_faster_than_a_message_a_second_gets_429_with_retry_after(
        slack: FakeSlackAPI) -> None:
    client = _client(slack)
    for i in range(4):  # the burst Slack tolerates
        await client.chat_postMessage(channel="C1", text=str(i))
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="one too many")
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"]) >= 1
    await client.chat_postMessage(channel="C2", text="another channel has its own budget")
    assert len(slack.roots("C1")) == 4


async def test_slack_sdk_waits_out_a_429_and_posts_once(slack: FakeSlackAPI) -> None:
    client = _client(slack, retry_429=True)
    slack.faults.next("chat.postMessage", Fault("status", 429, seconds=0.0))
    await client.chat_postMessage(channel="C1", text="hello")
    assert [m.text for m in slack.roots("C1")] == ["hello"]
    assert slack.calls("chat.postMessage") == 2


async def test_slack_a_500_is_an_error_and_posts_nothing(slack: FakeSlackAPI) -> None:
    client = _client(slack)
    slack.faults.next("chat.postMessage", Fault("status", 500))
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C1", text="lost")
    assert failed.value.response.status_code == 500
    assert not slack.roots("C1")


async def test_slack_an_upload_that_times_out_is_retried_once_then_not_shared(
        slack: FakeSlackAPI, tmp_path: Any) -> None:
    client = _client(slack)
    path = tmp_path / "preview.mp3"
    path.write_bytes(b"\xff\xfb" * 1000)
    slack.add_message(channel="C1", text="root", user="U1")
    root = slack.roots("C1")[0].ts
    slack.faults.next("upload", Fault("timeout", seconds=0.05))  # slack_sdk tries again once
    await client.files_upload_v2(channel="C1", thread_ts=root, file=str(path), filename=path.name)
    assert len(slack.uploads_in("C1", root)) == 1 and slack.calls("upload") == 2
    slack.faults.next("upload", Fault("timeout", seconds=0.05), times=2)
    with pytest.raises(aiohttp.ClientError):
        await client.files_upload_v2(channel="C1", thread_ts=root, file=str(path),
                                     filename=path.name)
    assert len(slack.uploads_in("C1", root)) == 1


async def test_slack_a_slow_upload_still_lands(slack: FakeSlackAPI, tmp_path: Any) -> None:
    client = _client(slack)
    path = tmp_path / "preview.mp3"
    path.write_bytes(b"\xff\xfb" * 1000)
    slack.faults.next("upload", Fault("slow", seconds=0.2))
    await client.files_upload_v2(channel="C1", file=str(path), filename=path.name)
    assert slack.faults.count("slow") == 1
    assert any(f.complete and f.data for f in slack.files.values())
