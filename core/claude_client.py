"""One way to ask Claude for a typed answer: a forced tool call, with one error ladder.

The brain (what a message means) and the Chef advisor (values for a Chef's operations) both
send one Messages API request that must call one tool, and both fall back to rules on any
failure. This module holds what they share: the HTTP client (one per installation, closed
on shutdown), the call itself, the inlining of a pydantic schema for ``input_schema``, and
the sentence a failure is logged with (which never quotes the director's words or the key).
"""

from __future__ import annotations

import logging
from typing import Any

import anthropic
from anthropic.types import MessageParam, ToolParam
from pydantic import ValidationError

__all__ = ["ClaudeTools", "ClaudeUser", "NoToolCall", "failure_reason", "inline_refs"]

logger = logging.getLogger(__name__)


class NoToolCall(Exception):
    """Claude answered, but not with the tool it was made to call."""


class ClaudeTools:
    """Asks Claude to call one tool and returns the tool's input.

    Parameters
    ----------
    api_key : str
        The Anthropic API key. Sent only to the API, never logged.
    model : str
        The Claude model id.
    base_url : str or None
        The API's address; ``None`` for Anthropic's. Tests point it at a loopback fake.
    timeout_s : float > 0
        Longest wait for one answer, in seconds. There are no retries: after a failure the
        rules answer at once, so a director never waits for two timeouts.
    """

    def __init__(self, *, api_key: str, model: str, base_url: str | None = None,
                 timeout_s: float = 20.0) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
        self.model = model
        self.timeout_s = timeout_s
        self._client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url,
                                                timeout=timeout_s, max_retries=0)

    async def aclose(self) -> None:
        """Close the HTTP connections (the bot does on shutdown)."""
        await self._client.close()

    async def call(self, *, system: str, user: str, tool: ToolParam, max_tokens: int) -> Any:
        """One Messages API request forced to use ``tool``; returns the tool's input.

        Raises the SDK's errors as they come, and :class:`NoToolCall` when the reply holds
        no call of the tool; :func:`failure_reason` names any of them for the log.
        """
        messages: list[MessageParam] = [{"role": "user", "content": user}]
        message = await self._client.messages.create(
            model=self.model, max_tokens=max_tokens, system=system, messages=messages,
            tools=[tool], tool_choice={"type": "tool", "name": tool["name"]})
        content = message.content if isinstance(message.content, list) else []
        for block in content:
            if block.type == "tool_use" and block.name == tool["name"]:
                return block.input
        kinds = ", ".join(str(getattr(block, "type", "?")) for block in content) or "nothing"
        raise NoToolCall(f"reply had no {tool['name']} call (got {kinds})")

    def failure_reason(self, error: BaseException) -> str:
        """The log's words for why a call failed (see :func:`failure_reason`)."""
        return failure_reason(error, timeout_s=self.timeout_s)


class ClaudeUser:
    """Something that asks Claude through one :class:`ClaudeTools`: its own or a shared one.

    ``api_key``, ``model``, ``base_url`` and ``timeout_s`` are :class:`ClaudeTools`'; given a
    ``client`` (the bot gives the brain and the Chef advisor one), they are the client's own
    and its owner closes it.
    """

    def __init__(self, *, api_key: str = "", model: str = "", base_url: str | None = None,
                 timeout_s: float = 20.0, client: ClaudeTools | None = None) -> None:
        self._claude = client or ClaudeTools(api_key=api_key, model=model, base_url=base_url,
                                             timeout_s=timeout_s)
        self._owns_client = client is None

    async def aclose(self) -> None:
        """Close the HTTP connections, unless the client is shared (its owner closes it)."""
        if self._owns_client:
            await self._claude.aclose()


def failure_reason(error: BaseException, *, timeout_s: float) -> str:
    """Why a Claude call failed, in words safe to log: no input, no key, no director's text."""
    if isinstance(error, TimeoutError | anthropic.APITimeoutError):
        return f"no answer within {timeout_s:g} s (timeout)"
    if isinstance(error, anthropic.APIStatusError):
        return f"HTTP {error.status_code} ({type(error).__name__})"
    if isinstance(error, anthropic.APIConnectionError):
        return f"connection failed ({type(error).__name__})"
    if isinstance(error, ValidationError):
        # the message would quote the input, which may quote the director: locations only
        where = sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in error.errors()})
        return (f"tool input did not validate ({error.error_count()} errors at "
                f"{', '.join(where[:5])})")
    if isinstance(error, NoToolCall):
        return str(error)
    if isinstance(error, ValueError):  # json.JSONDecodeError: the body was cut or was not JSON
        return f"reply body was not JSON ({type(error).__name__})"
    return f"unexpected {type(error).__name__}"  # a bad body, an SDK change


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``$ref`` inlined and titles and definitions' descriptions dropped.

    A self-contained schema is what a tool's ``input_schema`` handles best; titles only add
    tokens.
    """
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = dict(definitions[ref.removeprefix("#/$defs/")])
                target.pop("description", None)  # docstrings with doctests confuse more than help
                return inline(target)
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result
