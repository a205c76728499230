"""What the chat page shows besides the conversation: the searched list, the composer's limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from . import selectors

MAX_QUERY_CHARS = 100


def chat_extras(request: HttpRequest) -> dict[str, Any]:
    """The sidebar filtered by `?q=` (titles and messages) and the message length limit."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    conversations = selectors.conversation_search(user=request.user, query=query)  # type: ignore[arg-type]
    return {
        "query": query,
        "conversations": conversations[:50],
        "max_message_chars": settings.TASKWEB_MAX_MESSAGE_CHARS,
    }
