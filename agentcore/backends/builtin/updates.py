"""Requests to change a task: rename, re-date, re-prioritise, tag, describe, reopen.

Renames, tag and note edits have fixed shapes ("rename X to Y", "remove tag a from X") and
are recognised before completes and deletes, because their words ("remove", "done") would
otherwise be read as those. The rest is read generically: an update verb, then whatever
date and priority the message holds, and the leftover words are the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .extract import Priority, find_due, find_priority, split_words
from .references import Reference, parse_reference

Status = str


@dataclass(frozen=True, kw_only=True)
class Changes:
    title: str | None = None
    description: str | None = None
    priority: Priority | None = None
    due_date: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    status: Status | None = None
    shift_days: int = 0
    """Move the current due date by this many days ("push it back a week")."""
    clear_tags: bool = False
    clear_due: bool = False
    """Asked to remove the due date: update_task with due_date null."""
    is_special: bool = False
    """A fixed-shape edit (rename, tags, note) that outranks complete and delete."""

    @property
    def needs_current(self) -> bool:
        """Tag edits send the whole new tag list, so the current one must be known first."""
        return bool(self.add_tags or self.remove_tags or self.shift_days)

    @property
    def empty(self) -> bool:
        return not (
            self.title
            or self.description
            or self.priority
            or self.due_date
            or self.add_tags
            or self.remove_tags
            or self.status
            or self.shift_days
            or self.clear_tags
            or self.clear_due
        )


_RENAME = [
    re.compile(r"^(?:rename|retitle)\s+(?P<ref>.+?)\s+(?:to|as|into)\s+(?P<new>.+)$", re.I),
    re.compile(
        r"^(?:change|update|set|edit)\s+the\s+(?:title|name)\s+(?:of\s+(?P<ref>.+?)\s+)?"
        r"to\s+(?P<new>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:call|name)\s+(?P<ref>it|that(?:\s+one)?|this(?:\s+one)?)\s+(?P<new>.+)$", re.I
    ),
]
_ADD_TAGS = [
    re.compile(
        r"^(?:add|put|attach)\s+(?:the\s+|a\s+)?(?:tags?|labels?)\s+(?P<tags>.+?)\s+"
        r"(?:to|on|onto)\s+(?P<ref>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:tag|label)\s+(?P<ref>.+?)\s+(?:with|as)\s+(?:the\s+)?(?:tags?\s+)?(?P<tags>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:tag|label)\s+(?P<ref>it|that(?:\s+one)?|this(?:\s+one)?|task\s*#?\d+|#\d+)\s+"
        r"(?P<tags>.+)$",
        re.I,
    ),
]
_REMOVE_TAGS = re.compile(
    r"^(?:remove|delete|drop|take\s+off|untag)\s+(?:the\s+)?(?:tags?|labels?)\s+(?P<tags>.+?)\s+"
    r"(?:from|off|on)\s+(?P<ref>.+)$",
    re.I,
)
_DESCRIBE = [
    re.compile(
        r"^(?:add|set|put|attach|write)\s+(?:a\s+|the\s+)?(?:note|description|details)\s+"
        r"(?:to|on|of|for)\s+(?P<ref>.+?)\s*(?::|\bsaying\b|\bthat\s+says\b|\s-\s|,)\s*"
        r"(?P<desc>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:change|update|set|edit)\s+the\s+(?:description|note|details)\s+(?:of|on|for)\s+"
        r"(?P<ref>.+?)\s+to\s+(?P<desc>.+)$",
        re.I,
    ),
]
_VERB = re.compile(
    r"^(?:make|set(?!\s+up\b)|change|move|push|reschedule|postpone|delay|shift|bump|raise|lower|update|"
    r"prioriti[sz]e|deprioriti[sz]e|switch|put|give|mark|turn|bring|pull|adjust|modify|edit)\b",
    re.I,
)
_LEVELS: dict[str, Priority] = {
    "urgent": "high", "critical": "high", "important": "high", "high": "high", "top": "high",
    "pressing": "high", "low": "low", "medium": "medium", "normal": "medium",
}  # fmt: skip
_LEVEL_AT_END = re.compile(
    r"\s+(?:a\s+|an\s+)?(?:(?:top|high|low)\s+)?(?P<w>urgent|critical|important|high|low|top|"
    r"pressing|medium|normal)(?:\s+(?:priority|prio|one|task))?\s*[.!]*$",
    re.I,
)
_BY_ID = re.compile(r"^(?:task\s*)?#?\d+\b", re.I)
_STATE = re.compile(
    r"\b(?:is|are|should\s+be)\s+(?:now\s+)?(?:due|high|low|medium|urgent)\b|\bdue\s+date\b|"
    r"\b(?:is|are|was|were|has\s+been|have\s+been)\s+(?:now\s+)?(?:moved|pushed|rescheduled|"
    r"postponed|delayed|shifted|brought\s+forward)\b",
    re.I,
)
_REF_NOISE = re.compile(
    r"\b(?:the\s+)?(?:priority|due\s+date|deadline|date|due|title)\s+(?:of|for|on)\b|"
    r"\b(?:its|the)\s+(?:priority|due\s+date|deadline|date)\b|\b(?:priority|due\s+date|deadline)\b|"
    r"\b(?:a|the)\s+(?:level|notch)\b",
    re.I,
)
_REF_EDGE = re.compile(
    r"(?:^|\s+)(?:to|as|until|till|for|back|up|down|out|due|is|are|now|be|should|should\s+be|"
    r"(?:is|are|was|has\s+been)\s+(?:moved|pushed|rescheduled|postponed|delayed|shifted)|"
    r"it\s+to|and|with|so\s+it'?s|the\s+same)$",
    re.I,
)


def _tags_of(text: str) -> tuple[str, ...]:
    return tuple(split_words(re.sub(r"^(?:the\s+)?(?:tags?|labels?)\s+", "", text, flags=re.I)))


def _special(text: str) -> tuple[Reference, Changes] | None:
    for pattern in _RENAME:
        m = pattern.match(text)
        if m:
            new = m.group("new").strip().strip("\"'“”.!")
            return _ref(m.group("ref"), text), Changes(title=new, is_special=True)
    m = _REMOVE_TAGS.match(text)
    if m:
        tags = _tags_of(m.group("tags"))
        return _ref(m.group("ref"), text), Changes(remove_tags=tags, is_special=True)
    for pattern in _ADD_TAGS:
        m = pattern.match(text)
        if m:
            tags = _tags_of(m.group("tags"))
            return _ref(m.group("ref"), text), Changes(add_tags=tags, is_special=True)
    for pattern in _DESCRIBE:
        m = pattern.match(text)
        if m:
            desc = m.group("desc").strip().strip("\"'“”")
            return _ref(m.group("ref"), text), Changes(description=desc, is_special=True)
    return None


def _ref(raw: str | None, context: str) -> Reference:
    del context  # the words around a rename are the new title, not the reference
    return parse_reference(raw or "it")


def parse_update(text: str, now: datetime) -> tuple[Reference, Changes] | None:
    """The target and the changes of an update request, or None when it is not one."""
    special = _special(text)
    if special is not None:
        return special
    verb = _VERB.match(text)
    if verb is None and not _STATE.search(text) and not _BY_ID.match(text):
        return None
    rest = text[verb.end() :] if verb else text
    due, rest = find_due(rest, now)
    priority, rest = find_priority(rest, bare_levels=True)
    word = verb.group(0).lower() if verb else ""
    if priority is None and word.startswith(("prioriti", "raise")):
        priority = "high"
    elif priority is None and (word.startswith("deprioriti") or word == "lower"):
        priority = "low"
    elif priority is None and verb is not None:
        # "make that one urgent", "set #3 critical": a bare level word after the target.
        level = _LEVEL_AT_END.search(rest)
        if level:
            priority = _LEVELS[level.group("w").lower()]
            rest = rest[: level.start()]
    changes = Changes(priority=priority, due_date=due.isoformat() if due else None)
    if changes.empty and verb is None:
        return None
    raw = _REF_NOISE.sub(" ", rest)
    raw = re.sub(r"\s+", " ", raw).strip(" ,.!?")
    for _ in range(3):
        raw = _REF_EDGE.sub("", raw).strip(" ,.!?")
    return parse_reference(raw or "it"), changes


def apply_changes(
    changes: Changes, current_tags: list[str], current_due: date | None, today: date
) -> dict[str, object]:
    """update_task arguments for these changes (only the fields that change).

    A relative move shifts the current due date; a task without one moves from today.
    """
    args: dict[str, object] = {}
    if changes.shift_days:
        base = current_due or today
        args["due_date"] = (base + timedelta(days=changes.shift_days)).isoformat()
    if changes.title:
        args["title"] = changes.title
    if changes.description:
        args["description"] = changes.description
    if changes.priority:
        args["priority"] = changes.priority
    if changes.due_date:
        args["due_date"] = changes.due_date
    elif changes.clear_due:
        args["due_date"] = None
    if changes.status:
        args["status"] = changes.status
    if changes.clear_tags:
        args["tags"] = []
    elif changes.add_tags or changes.remove_tags:
        tags = [t for t in current_tags if t not in changes.remove_tags]
        tags += [t for t in changes.add_tags if t not in tags]
        args["tags"] = tags
    return args


__all__ = ["Changes", "apply_changes", "parse_update"]
