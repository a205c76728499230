"""Fit a conversation into a model's context budget (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Message
from .pricing import estimate_tokens


def message_tokens(message: Message) -> int:
    calls = sum(estimate_tokens(str(c.arguments)) + 4 for c in message.tool_calls)
    return estimate_tokens(message.content) + calls + 4


def fit_history(messages: Sequence[Message], budget: int) -> list[Message]:
    """Keep the newest messages that fit `budget` tokens, never splitting a tool exchange.

    The newest message always stays. A tool message is never kept without the assistant
    message that asked for it, since APIs reject orphaned tool results.
    """
    kept: list[Message] = []
    used = 0
    for message in reversed(messages):
        cost = message_tokens(message)
        if kept and used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0].role == "tool" and len(kept) > 1:
        kept.pop(0)
    return kept


def whole_tool_exchanges(messages: Sequence[Message]) -> list[Message]:
    """`messages` with every tool exchange whole, or gone: never one half of it.

    A window cut out of a longer history can start inside an exchange: tool results whose
    assistant message fell outside it, or an assistant message whose calls lost some of
    their results. APIs reject both (an orphaned tool result; a call left unanswered), so the
    tool results without their call are dropped, and an assistant message whose calls are
    not all answered is dropped with the results it has.
    """
    asked: set[str] = set()
    answered = {m.tool_call_id for m in messages if m.role == "tool" and m.tool_call_id}
    broken: set[str] = set()
    for message in messages:
        ids = {c.id for c in message.tool_calls}
        if ids and not ids <= answered:
            broken |= ids
        asked |= ids
    kept: list[Message] = []
    for message in messages:
        if message.role == "tool" and (
            message.tool_call_id not in asked or message.tool_call_id in broken
        ):
            continue
        if message.tool_calls and {c.id for c in message.tool_calls} & broken:
            continue
        kept.append(message)
    return kept
