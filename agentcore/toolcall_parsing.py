"""Recover tool calls that a model wrote as text instead of sending natively.

Small and fine-tuned models often answer with `{"tool": "create_task", "arguments": {...}}`,
`{"name": ..., "parameters": ...}`, a fenced ```json block or `<tool_call>...</tool_call>`
tags. These pure functions find such calls; arguments may be an object or a JSON string.

Model text is hostile, so every scan here is linear in the text's length: blocks are found
with `str.find` from a position that only moves forward (the earlier regular expressions
backtracked quadratically on a fence followed by whitespace: 40k characters took 14.7 s),
and failed JSON decodes share a budget proportional to the text.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from .messages import ToolCall

_TAG_OPEN, _TAG_CLOSE = "<tool_call>", "</tool_call>"
_FENCE = "```"
_FENCE_LANGUAGES = ("json", "tool_call", "tool")
_NAME_KEYS = ("tool", "name", "function", "tool_name")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_decoder = json.JSONDecoder()
_OPENER = re.compile(r"[{\[]")
_MAX_FAILED_DECODES = 1000
_DECODE_BUDGET_PER_CHAR = 4
"""Characters failed decodes may read, per character of text: keeps the scan linear."""
_HEAD_CHARS = 1024
MAX_BLOCKS = 256
"""Tagged or fenced blocks read per answer: far past any real answer's calls (the loop caps
those lower), and a text of 300k empty fences is not worth 300k decodes."""


_MARKUP = (("<tool_call>", "[tool_call]"), ("</tool_call>", "[/tool_call]"), ("```", "'''"))


def defuse_call_markup(text: str) -> str:
    """Tool results with call syntax made inert, before the model reads them.

    A task titled `<tool_call>{"name": "complete_task", ...}</tool_call>` is data; a model
    that echoes it in its answer must not have the echo run as a call. The model still
    reads the title, with brackets it cannot mistake for (or reproduce as) call markup.
    """
    for marker, inert in _MARKUP:
        text = text.replace(marker, inert)
    return text


def looks_like_tool_call(text: str) -> bool:
    """Cheap check the loop uses to hold back streamed tokens that may become a call."""
    head = text[:_HEAD_CHARS].lstrip()[:12]  # called per token: never strip the whole text
    return head.startswith(("{", "[", "```", "<tool_call"))


def parse_arguments(raw: Any) -> dict[str, Any] | None:
    """Arguments as a dict, whether sent as an object or as a JSON string."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            return None
        return value if isinstance(value, dict) else None
    return None


def _call_from_object(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    if "function" in obj and isinstance(obj["function"], dict):  # OpenAI's own shape
        return _call_from_object(obj["function"])
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if not name:
        return None
    raw_args: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    arguments = parse_arguments(raw_args)
    if arguments is None:
        return None
    call_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    return ToolCall(id=call_id or f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)


def _json_values(text: str) -> Iterator[Any]:
    """Every top-level JSON object or array embedded in `text`.

    Model text is hostile: brackets nested past Python's recursion limit are not a call (they
    would crash the loop), and failed attempts are capped in number and in the characters
    they read together (each may read to the end of the text).
    """
    index = 0
    failures = 0
    budget = _DECODE_BUDGET_PER_CHAR * len(text) + 4096
    while (found := _OPENER.search(text, index)) is not None:
        start = found.start()
        try:
            value, end = _decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            failures += 1
            budget -= max(exc.pos - start, 1)
            if failures > _MAX_FAILED_DECODES or budget < 0:
                return
            index = start + 1
            continue
        except RecursionError:
            return  # nested past any real call: data, and scanning on would be quadratic
        yield value
        index = end


def _calls_in(text: str) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for value in _json_values(text):
        items = value if isinstance(value, list) else [value]
        for item in items:
            call = _call_from_object(item)
            if call is not None:
                calls.append(call)
    return calls


def tagged_blocks(text: str) -> Iterator[str]:
    """The insides of `<tool_call>...</tool_call>`; an unclosed tag runs to the end."""
    index = 0
    while (start := text.find(_TAG_OPEN, index)) >= 0:
        start += len(_TAG_OPEN)
        end = text.find(_TAG_CLOSE, start)
        if end < 0:
            yield text[start:].strip()
            return
        yield text[start:end].strip()
        index = end + len(_TAG_CLOSE)


def fenced_blocks(text: str) -> Iterator[str]:
    """The insides of closed ``` fences, without a `json`/`tool_call`/`tool` language tag."""
    index = 0
    while (start := text.find(_FENCE, index)) >= 0:
        start += len(_FENCE)
        end = text.find(_FENCE, start)
        if end < 0:
            return  # no closing fence after this one, so none after any later one either
        block = text[start:end]
        for language in _FENCE_LANGUAGES:
            if block.startswith(language):
                block = block[len(language) :]
                break
        yield block.strip()
        index = end + len(_FENCE)


def parse_tool_calls(text: str, known_tools: set[str] | None = None) -> list[ToolCall]:
    """All tool calls written in `text`: tagged or fenced blocks, else an answer that is JSON.

    With `known_tools`, only calls to those names count, so JSON that merely mentions a
    `name` key (a task the model is describing) is not mistaken for a call. Linear time in
    `len(text)` (see the module docstring); still, a long answer is best parsed off the
    event loop.
    """
    calls: list[ToolCall] = []
    for blocks in (tagged_blocks, fenced_blocks):
        for block in itertools.islice(blocks(text), MAX_BLOCKS):
            calls.extend(_calls_in(block))
        if calls:
            break
    if not calls and text.lstrip().startswith(("{", "[")):
        # Bare JSON only when the whole answer is the call: JSON quoted inside prose (a task
        # title echoed back, say) is data and must never become an action.
        calls = _calls_in(text)
    if known_tools is not None:
        calls = [c for c in calls if c.name in known_tools]
    return calls


OFF_LOOP_CHARS = 4096
"""Texts longer than this are parsed in a worker thread (a 64 KiB answer takes milliseconds)."""


async def parse_tool_calls_off_loop(
    text: str, known_tools: set[str] | None = None
) -> list[ToolCall]:
    """`parse_tool_calls`, in a worker thread when `text` is long, so other sockets and runs
    of the process are not held up while a long answer is scanned."""
    if len(text) <= OFF_LOOP_CHARS:
        return parse_tool_calls(text, known_tools)
    return await asyncio.to_thread(parse_tool_calls, text, known_tools)
