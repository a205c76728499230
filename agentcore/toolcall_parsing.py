"""Recover tool calls that a model wrote as text instead of sending natively.

Small and fine-tuned models often answer with `{"tool": "create_task", "arguments": {...}}`,
`{"name": ..., "parameters": ...}`, a fenced ```json block or `<tool_call>...</tool_call>`
tags. These pure functions find such calls; arguments may be an object or a JSON string.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from .messages import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.DOTALL)
_NAME_KEYS = ("tool", "name", "function", "tool_name")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_decoder = json.JSONDecoder()
_OPENER = re.compile(r"[{\[]")
_MAX_FAILED_DECODES = 1000


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
    head = text.lstrip()[:12]
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
        except json.JSONDecodeError:
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
    would crash the loop), and the failed attempts are capped because each costs O(len(text)).
    """
    index = 0
    failures = 0
    while (found := _OPENER.search(text, index)) is not None:
        start = found.start()
        try:
            value, end = _decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            failures += 1
            if failures > _MAX_FAILED_DECODES:
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


def parse_tool_calls(text: str, known_tools: set[str] | None = None) -> list[ToolCall]:
    """All tool calls written in `text`: tagged or fenced blocks, else an answer that is JSON.

    With `known_tools`, only calls to those names count, so JSON that merely mentions a
    `name` key (a task the model is describing) is not mistaken for a call.
    """
    calls: list[ToolCall] = []
    for pattern in (_TAGGED, _FENCED):
        for block in pattern.findall(text):
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
