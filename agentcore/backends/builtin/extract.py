"""Pieces of a task cut out of free text: priority, tags, description, due date, title.

Each finder returns what it found and the text with that part removed, so what is left at
the end is the title. The order matters: the description is cut first (it may contain date
or tag words that belong to the note, not to the task), then tags, priority and the date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from .dates import find_dates

Priority = Literal["low", "medium", "high"]

_PRIORITY_WORDS: dict[str, Priority] = {
    "high": "high",
    "top": "high",
    "urgent": "high",
    "important": "high",
    "critical": "high",
    "low": "low",
    "medium": "medium",
    "normal": "medium",
    "mid": "medium",
}
_PRIORITY_PATTERNS = [
    # negated or relaxed: "not urgent", "it's not important", "no rush", "whenever"
    re.compile(
        r"[,;(-]?\s*(?:(?:it'?s|it\s+is|this\s+is|that'?s)\s+)?(?:not|n't|isn'?t|no\s+longer)\s+"
        r"(?:that\s+|very\s+|really\s+|super\s+)?(?P<l>urgent|important|critical|pressing|"
        r"a\s+priority|high\s+priority)\b\)?",
        re.I,
    ),
    re.compile(
        r"[,;(-]?\s*\b(?P<l>no\s+rush|no\s+hurry|not\s+a\s+priority|low[\s-]key|whenever(?:\s+i\s+can)?|"
        r"some\s*day|(?:it\s+)?can\s+wait)\b\)?[\s.!]*$",
        re.I,
    ),
    re.compile(
        r"[,;(-]?\s*\b(?:(?:it'?s|it\s+is|this\s+is)\s+)?(?:super|very|really|extremely|top)\s+"
        r"(?P<w>urgent|important|critical)\b|\b(?P<h>top\s+priority)\b",
        re.I,
    ),
    # "high priority", "high-priority", "priority: low", "priority high"
    re.compile(
        r"(?:\b(?:with|at|as)\s+(?:a\s+)?)?\b(?P<w>high|top|low|medium|normal|mid)[\s-]*"
        r"(?:priority|prio|pri)\b",
        re.I,
    ),
    re.compile(r"\bpriority\s*(?:of\s+|to\s+|:|=)?\s*(?P<w>high|low|medium|normal)\b", re.I),
    # "urgent task", "it's urgent", "urgent:" — but not "reply to the urgent email"
    re.compile(
        r"(?:^|\b(?:it'?s|it\s+is|this\s+is|very|mark(?:ed)?\s+(?:it\s+)?as|make\s+it)\s+|[,!;]\s*)"
        r"(?P<w>urgent|important|critical)\b(?:\s*[:!])?",
        re.I,
    ),
    re.compile(r"\b(?P<w>urgent|important|critical)(?=\s+(?:task|todo|to-do|reminder)\b)", re.I),
    re.compile(r",?\s*\b(?P<w>asap|urgently)\b", re.I),
]
# "to high", "as low" after an update verb: only used when the caller knows it is an update.
_BARE_LEVEL = re.compile(r"\b(?:to|as)\s+(?P<w>high|low|medium|normal|urgent)\b", re.I)

_HASHTAG = re.compile(r"(?<![\w&])#(?P<tag>[A-Za-z][\w-]*)")
_TAG_PHRASE = re.compile(
    r"[,;]?\s*\b(?:and\s+)?(?:tag(?:ged)?|label(?:led)?)\s+(?:it\s+|them\s+)?(?:with\s+|as\s+)?"
    r"(?:the\s+)?(?:tags?\s+|labels?\s+)?(?P<tags>[\w-]+(?:\s*(?:,|and|&)\s*[\w-]+)*)",
    re.I,
)
_WITH_TAGS = re.compile(
    r"[,;]?\s*\bwith\s+(?:the\s+)?(?:tags?|labels?)\s*:?\s*(?P<tags>[\w-]+(?:\s*(?:,|and|&)\s*[\w-]+)*)",
    re.I,
)
_NOTE = r"(?:the\s+|a\s+)?(?:description|notes?|details)\s*(?::|-|saying|that\s+says)?\s*"
_DESCRIPTION = re.compile(
    rf"(?:[,;.]\s*(?:and\s+)?(?:with\s+)?{_NOTE}|\s+(?:and\s+)?with\s+{_NOTE}"
    r"|\s+(?:description|notes?|details)\s*:\s*)(?P<desc>\S.*)$",
    re.I,
)


@dataclass(kw_only=True)
class Pieces:
    """What was found in a piece of text; `rest` is the text with those parts cut out."""

    rest: str
    priority: Priority | None = None
    tags: list[str] = field(default_factory=list)
    description: str = ""
    due: date | None = None


def _cut(text: str, start: int, end: int) -> str:
    return (text[:start] + " " + text[end:]).strip()


def find_priority(text: str, *, bare_levels: bool = False) -> tuple[Priority | None, str]:
    patterns = [*_PRIORITY_PATTERNS, _BARE_LEVEL] if bare_levels else _PRIORITY_PATTERNS
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            groups = match.groupdict()
            if groups.get("l"):
                level: Priority = "low"
            elif groups.get("h"):
                level = "high"
            else:
                level = _PRIORITY_WORDS.get(match.group("w").lower(), "high")
            return level, _cut(text, match.start(), match.end())
    return None, text


def split_words(text: str) -> list[str]:
    """ "a, b and c" → ["a", "b", "c"], lowercased, as tags are stored."""
    parts = re.split(r"\s*(?:,|\band\b|&)\s*", text.strip())
    return [p.lower().strip("#").strip() for p in parts if p.strip("# ")]


def find_tags(text: str) -> tuple[list[str], str]:
    tags: list[str] = []
    for pattern in (_WITH_TAGS, _TAG_PHRASE):
        match = pattern.search(text)
        if match:
            tags.extend(split_words(match.group("tags")))
            text = _cut(text, match.start(), match.end())
    for match in reversed(list(_HASHTAG.finditer(text))):
        tags.insert(0, match.group("tag").lower())
        text = _cut(text, match.start(), match.end())
    unique: list[str] = []
    for tag in tags:
        if tag not in unique:
            unique.append(tag)
    return unique, text


def find_description(text: str) -> tuple[str, str]:
    match = _DESCRIPTION.search(text)
    if not match:
        return "", text
    return match.group("desc").strip().strip("\"'“”"), text[: match.start()].strip()


_AFTER_DATE = re.compile(
    r"\s*(?:$|[,.;:!?#(]|(?:and|with|tagged|tag|high|low|medium|normal|top|urgent|important|"
    r"priority|please|also|at|description|note|notes|details)\b)",
    re.I,
)


def find_due(text: str, now: datetime) -> tuple[date | None, str]:
    """The last date phrase wins ("on Monday, no, Tuesday").

    A phrase leaves the title when it ends a clause ("call mom tomorrow", "pay rent by
    Friday, high priority"); one in the middle of the words stays in it ("prepare slides
    for Monday meeting" keeps its title and is still due on Monday).
    """
    found = find_dates(text, now)
    if not found:
        return None, text
    for match in reversed(found):
        if not text[: match.start].strip() or _AFTER_DATE.match(text, match.end):
            text = _cut(text, match.start, match.end)
    return found[-1].day, text


def extract(text: str, now: datetime, *, bare_levels: bool = False) -> Pieces:
    description, text = find_description(text)
    due, text = find_due(text, now)
    priority, text = find_priority(text, bare_levels=bare_levels)
    tags, text = find_tags(text)
    return Pieces(rest=text, priority=priority, tags=tags, description=description, due=due)


_LEADING = re.compile(
    r"^(?:(?:to|for|about|called|named|titled|that|:|-|,)\s*)+|^(?:i\s+(?:need|have|must)\s+to\s+)",
    re.I,
)
_TRAILING = re.compile(
    r"(?:\s*\b(?:to|on|onto|in|from)\s+(?:my|the)\s+(?:task\s+|todo\s+|to-do\s+)?(?:list|tasks)|"
    r"\s+(?:please|pls|thanks|thank you)|\s+(?:and|with|due|by|on|for|at|to|,)|[\s,.;:!?-])+$",
    re.I,
)


_OPEN_QUOTES = "\"'\u201c\u2018"
_CLOSE_QUOTES = "\"'\u201d\u2019"


def clean_title(text: str) -> str:
    """Tidy what is left after cutting: strip glue words and quotes, capitalise the start."""
    title = re.sub(r"\s+", " ", text).strip()
    for _ in range(3):
        title = _LEADING.sub("", title).strip()
        title = _TRAILING.sub("", title).strip()
    if len(title) >= 2 and title[0] in _OPEN_QUOTES and title[-1] in _CLOSE_QUOTES:
        title = title[1:-1].strip()
    title = re.sub(r"\s+([,.;:!?])", r"\1", title)
    return title[:1].upper() + title[1:]
