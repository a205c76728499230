"""Requests about many tasks at once: "clear out everything I've finished".

There is no bulk tool (the tool contract has six single-task tools), so a batch is one
`list_tasks` with the request's filters, then one `delete_task` or `complete_task` per task
found, all in one answer: the app asks for approval of the deletes together, in one turn.

A batch must name *which* tasks (done ones, a tag, a priority, overdue ones): "delete all my
tasks" or "wipe everything" has no filter and is refused with a question back, because one
slip would otherwise empty the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from .listing import ListFilter, parse_list_filter

_QUANTIFIER = (
    r"(?:(?:all|every|everything|each|any)\b|(?:the|my)\s+(?=(?:completed|finished|done|overdue|"
    r"low[\s-]priority|high[\s-]priority)\s+(?:ones|tasks|items|todos)\b))"
)
_DELETE_VERB = (
    r"(?:delete|remove|clear|wipe|erase|drop|get\s+rid\s+of|trash|bin|purge|clean\s+out|"
    r"clean\s+up|scrap|discard)"
)
_COMPLETE_VERB = r"(?:complete|finish|close|tick\s+off|check\s+off|cross\s+off|mark|set)"
_BATCH = re.compile(
    rf"\b(?P<verb>{_DELETE_VERB}|{_COMPLETE_VERB})\s+(?:out\s+|off\s+|up\s+)?(?:of\s+)?"
    rf"(?:the\s+|my\s+)?{_QUANTIFIER}",
    re.I,
)
_BLANKET = re.compile(
    r"^\s*(?:clear|wipe|empty|reset)\s+(?:out\s+)?(?:my|the)\s+(?:task\s+)?list\b", re.I
)
_AS_DONE = re.compile(r"\s+(?:as\s+)?(?:done|complete[d]?|finished)\b", re.I)


@dataclass(frozen=True, kw_only=True)
class Batch:
    action: str
    """delete_task or complete_task."""
    filters: ListFilter | None
    """Which tasks; None when the request names none (then it is refused)."""


def _names_some(filters: ListFilter, action: str) -> bool:
    narrowed = filters.priority or filters.tag or filters.due_before or filters.due_after
    done_ones = action == "delete_task" and filters.status == "done"
    return bool(narrowed or filters.query or done_ones)


def parse_batch(text: str, now: datetime) -> Batch | None:
    """The batch a message asks for, or None when it is not about many tasks."""
    if _BLANKET.match(text):
        return Batch(action="delete_task", filters=None)
    match = _BATCH.search(text)
    if match is None:
        return None
    verb = match.group("verb").lower()
    is_delete = re.fullmatch(_DELETE_VERB, verb, re.I) is not None
    action = "delete_task" if is_delete else "complete_task"
    rest = text[match.end() :]
    if action == "complete_task":
        if verb in {"mark", "set"} and not _AS_DONE.search(rest):
            return None
        rest = _AS_DONE.sub(" ", rest)
    filters = parse_list_filter(rest, now)
    if filters.query:
        filters = replace(filters, query=None)
    if action == "complete_task":
        filters = replace(filters, status="open")
    if not _names_some(filters, action):
        return Batch(action=action, filters=None)
    return Batch(action=action, filters=filters)


__all__ = ["Batch", "parse_batch"]
