"""Short conversation titles from a first message, as chat apps name a new conversation."""

from __future__ import annotations

import re

_FILLER = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+|would you\s+|hey[,!]?\s+|hi[,!]?\s+|hello[,!]?\s+)+",
    re.IGNORECASE,
)
MAX_WORDS = 6
MAX_CHARS = 48


def short_title(text: str) -> str:
    """A few words of the first line, politeness trimmed: "Please create a task to review the
    marketing proposal by Friday" becomes "Create a task to review the…"."""
    first = " ".join((text or "").strip().splitlines()[:1]).strip()
    first = _FILLER.sub("", first).strip(" .!?,;:") or first.strip()
    words = first.split()
    if not words:
        return "New conversation"
    title = " ".join(words[:MAX_WORDS])
    cut = len(words) > MAX_WORDS
    if len(title) > MAX_CHARS:
        title, cut = title[:MAX_CHARS].rstrip(), True
    title = title[0].upper() + title[1:]
    return title + ("…" if cut else "")
