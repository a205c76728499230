"""What an approval card is about: the task a call would change, read for the card.

The approval step only records the call (`{"task_id": 1}`); a person deciding needs the task's
title and due date, and afterwards a sentence ("Deleted “Buy milk” — approved by you"). The
task is looked up through the run's conversation owner, so a model naming another user's task
id learns nothing from the card. Once deleted, the title comes from the call's tool result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .models import RunStep, Task
from .steps import payload_dict

_VERBS = {
    "delete_task": ("Delete", "Deleted", "deleting"),
}
"""Tools that ask for approval: (imperative, past, gerund) for the card's sentences."""


@dataclass(frozen=True, kw_only=True)
class ApprovalSubject:
    tool: str
    """The tool waiting for approval."""
    task_id: int | None
    """The task it names, if it names one."""
    title: str = ""
    """The task's title, or its title when it was deleted; empty when unknown."""
    due_date: dt.date | None = None
    exists: bool = False
    """False for an id no task of the owner has (the call will fail either way)."""

    @property
    def task_words(self) -> str:
        if self.title:
            return f"“{self.title}”"
        return f"task #{self.task_id}" if self.task_id is not None else "this call"

    @property
    def question(self) -> str:
        verb = _VERBS.get(self.tool, (self.tool.replace("_", " ").capitalize(),))[0]
        due = f" (due {self.due_date:%a %d %b %Y})" if self.due_date else ""
        missing = "" if self.exists or self.task_id is None else " — no such task exists"
        return f"{verb} {self.task_words}{due}{missing}?"

    def decided(self, decision: str) -> str:
        verbs = _VERBS.get(self.tool)
        if verbs is None:
            word = "approved" if decision == "approve" else "rejected"
            return f"{self.tool.replace('_', ' ').capitalize()} {word} by you"
        if decision == "approve":
            return f"{verbs[1]} {self.task_words} — approved by you"
        return f"Kept {self.task_words} — you rejected {verbs[2]} it"

    def button_label(self, decision: str) -> str:
        verb = _VERBS.get(self.tool, ("", "", self.tool.replace("_", " ")))[2]
        action = "Approve" if decision == "approve" else "Reject"
        return f"{action} {verb} {self.task_words}"


def _run_pk(step: Any) -> int:
    return int(step.run_id)


def _payload(step: Any) -> dict[str, Any]:
    return payload_dict(step.payload)


def _call(step: Any) -> tuple[str, dict[str, Any]]:
    """(tool name, arguments) of the call a card is about, from either approval step."""
    p = _payload(step)
    if step.type == "approval_required":
        return str(p.get("name") or ""), dict(p.get("arguments") or {})
    asked = (
        RunStep.objects.filter(
            run_id=_run_pk(step), type="approval_required", payload__call_id=p.get("call_id")
        )
        .only("payload")
        .first()
    )
    if asked is None:
        return "", {}
    return str(asked.payload.get("name") or ""), dict(asked.payload.get("arguments") or {})


def approval_subject_for(step: Any) -> ApprovalSubject:
    """The card's subject for an approval_required or approval_decision step (or event)."""
    tool, arguments = _call(step)
    raw_id = arguments.get("task_id")
    task_id = raw_id if isinstance(raw_id, int) else None
    if task_id is None:
        return ApprovalSubject(tool=tool, task_id=None)
    task = (
        Task.objects.filter(pk=task_id, owner__conversations__runs__pk=_run_pk(step))
        .only("title", "due_date")
        .first()
    )
    if task is not None:
        return ApprovalSubject(
            tool=tool, task_id=task_id, title=task.title, due_date=task.due_date, exists=True
        )
    result = (
        RunStep.objects.filter(
            run_id=_run_pk(step),
            type="tool_result",
            payload__call_id=_payload(step).get("call_id"),
        )
        .only("payload")
        .first()
    )
    value = (result.payload.get("value") if result else None) or {}
    title = str(value.get("title") or "") if isinstance(value, dict) else ""
    title = title or _title_seen_before(step, task_id)
    return ApprovalSubject(tool=tool, task_id=task_id, title=title, exists=bool(title))


def _title_seen_before(step: Any, task_id: int) -> str:
    """The task's title from the newest tool result of the run's conversation that showed it.

    A delete's decided card may render after the task is gone but before the call's own
    result is stored; the conversation showed the task earlier (it is the owner's).
    """
    results = (
        RunStep.objects.filter(run__conversation__runs__pk=_run_pk(step), type="tool_result")
        .order_by("-pk")
        .values_list("payload", flat=True)[:50]
    )
    for payload in results:
        value = payload.get("value") if isinstance(payload, dict) else None
        shown = value.get("tasks") if isinstance(value, dict) else None
        for item in shown if isinstance(shown, list) else [value]:
            if isinstance(item, dict) and item.get("id") == task_id and item.get("title"):
                return str(item["title"])
    return ""
