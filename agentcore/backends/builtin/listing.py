"""Questions about the list ("what's due this week", "anything overdue") → list_tasks filters.

Each filter also leaves a few words in `label`, so the answer can say what was asked
("No open tasks due this week.") instead of a bare "nothing found".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .dates import DATE_PHRASE, end_of_month, resolve, week_bounds
from .extract import Priority, find_priority
from .references import content_words

_DONE = re.compile(
    r"\b(?:done|completed|finished|closed|checked\s+off|did\s+i\s+(?:finish|complete|do))\b",
    re.I,
)
_ALL = re.compile(
    r"\b(?:all\s+(?:my\s+|of\s+my\s+)?tasks|everything|including\s+done|both)\b", re.I
)
_OVERDUE = re.compile(r"\b(?:overdue|late|past\s+due|missed|behind)\b", re.I)
_TAG = re.compile(
    r"(?<![\w&])#(?P<a>[A-Za-z][\w-]*)|\b(?:tagged|labell?ed|with\s+(?:the\s+)?(?:tag|label))\s+"
    r"(?:as\s+|with\s+)?[\"']?(?P<b>[\w-]+)",
    re.I,
)
_QUERY = re.compile(
    r"\b(?:about|matching|containing|mentioning|called|named|titled|with\s+the\s+word|"
    r"search\s+(?:for\s+)?|find\s+(?:tasks?\s+|my\s+)?(?:for\s+|about\s+|with\s+)?)\s*"
    r"[\"'“]?(?P<q>[^\"'”?!.]+)",
    re.I,
)
_LISTING_WORDS = re.compile(
    r"\b(?:tasks?|list|todos?|to-dos?|due|overdue|agenda|plate|left|pending|open|schedule|"
    r"remaining|priority|tagged|upcoming|outstanding|show|what)\b|\?\s*$",
    re.I,
)
_PRESSING = re.compile(r"\b(?:urgent|important|critical|pressing|top\s+priority)\b", re.I)
_SPAN = re.compile(r"\b(?:this|next)\s+(?:week|month)\b", re.I)
_BOUND = re.compile(r"\b(?P<kind>by|before|until|till|after|since|from)\s+$", re.I)


@dataclass(frozen=True, kw_only=True)
class ListFilter:
    status: str = "open"
    priority: Priority | None = None
    due_before: str | None = None
    due_after: str | None = None
    tag: str | None = None
    query: str | None = None
    label: str = ""
    """What the filters mean, in words, for the answer ("due this week")."""
    looks_like_listing: bool = True
    """False for text with no listing words, which then gets the help text instead."""

    @property
    def narrowed(self) -> bool:
        """Whether the words name a kind of task (a status, priority, tag or date)."""
        return bool(
            self.status != "open" or self.priority or self.tag or self.due_before or self.due_after
        )

    def arguments(self) -> dict[str, Any]:
        """list_tasks arguments: the status always, other filters only when set."""
        args: dict[str, Any] = {"status": self.status}
        for key in ("priority", "due_before", "due_after", "tag", "query"):
            value = getattr(self, key)
            if value is not None:
                args[key] = value
        return args


def _span(text: str, today: date) -> tuple[date, date, str] | None:
    match = _SPAN.search(text)
    if not match:
        if re.search(r"\bthis\s+weekend\b", text, re.I):
            saturday = week_bounds(today)[1] - timedelta(days=1)
            return max(saturday, today), week_bounds(today)[1], "this weekend"
        return None
    words = match.group(0).lower().split()
    if words[1] == "week":
        first, last = week_bounds(today, next_week=words[0] == "next")
    elif words[0] == "this":
        first, last = today, end_of_month(today)
    else:
        first = end_of_month(today) + timedelta(days=1)
        last = end_of_month(first)
    return first, last, " ".join(words)


def _dates(text: str, now: datetime) -> tuple[str | None, str | None, str]:
    """(due_after, due_before, label) from the date words of a question."""
    today = now.date()
    if _OVERDUE.search(text):
        return None, (today - timedelta(days=1)).isoformat(), "overdue"
    span = _span(text, today)
    if span:
        return span[0].isoformat(), span[1].isoformat(), f"due {span[2]}"
    for match in DATE_PHRASE.finditer(text):
        day = resolve(match.group("core"), now)
        if day is None:
            continue
        before = _BOUND.search(text[: match.start("core")])
        word = match.group(0).split()[0].lower()
        kind = before.group("kind").lower() if before else word
        if kind in {"by", "before", "until", "till"}:
            return None, day.isoformat(), f"due by {day.isoformat()}"
        if kind in {"after", "since", "from"}:
            return day.isoformat(), None, f"due after {day.isoformat()}"
        return day.isoformat(), day.isoformat(), f"due {match.group('core').lower()}"
    return None, None, ""


def parse_list_filter(text: str, now: datetime) -> ListFilter:
    status = "open"
    if _ALL.search(text):
        status = "all"
    elif _DONE.search(text):
        status = "done"
    priority, _ = find_priority(text)
    if priority is None:
        level = re.search(r"\b(high|low|medium)(?:est)?\b", text, re.I)
        priority = level.group(1).lower() if level else None  # type: ignore[assignment]
    if priority is None and _PRESSING.search(text):
        priority = "high"
    tag_match = _TAG.search(text)
    tag = (tag_match.group("a") or tag_match.group("b")).lower() if tag_match else None
    query_match = _QUERY.search(text)
    query = None
    if query_match:
        words = [w for w in content_words(query_match.group("q")) if w != tag]
        query = " ".join(words) or None
    due_after, due_before, date_label = _dates(text, now)
    label_parts = [
        {"open": "open", "done": "done", "all": ""}[status],
        f"{priority}-priority" if priority else "",
        "tasks",
        f"tagged {tag}" if tag else "",
        f'matching "{query}"' if query else "",
        date_label,
    ]
    return ListFilter(
        status=status,
        priority=priority,
        due_before=due_before,
        due_after=due_after,
        tag=tag,
        query=query,
        label=" ".join(p for p in label_parts if p),
        looks_like_listing=bool(_LISTING_WORDS.search(text)),
    )
