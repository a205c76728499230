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
