"""Events → HTML fragments for HTMX's websocket extension (out-of-band swaps by element id).

The page and the live updates share the same partials, so a reloaded page looks exactly like
one that watched the run happen.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.template.loader import render_to_string

from agentcore.events import EVENT_TYPES, Event
from agentcore.task_contract import MUTATING_TOOLS

from . import selectors
from .models import AgentRun, Conversation, Message

STEP_TYPES = EVENT_TYPES - {"run_started", "token", "run_finished"}
"""Events shown as a step of the trace (the run's start and end are its header)."""


def _render(template: str, **context: Any) -> str:
    return render_to_string(f"tasks/partials/{template}", context)


def task_panel_html(conversation: Conversation) -> str:
    tasks = selectors.task_list(user=conversation.owner, status="all")
    return _render("task_panel.html", tasks=tasks, oob=True)


def changes_tasks(event: Event) -> bool:
    """A tool result that changed the task list (so the task panel is redrawn)."""
    p = event.payload
    return event.type == "tool_result" and p.get("name") in MUTATING_TOOLS and not p.get("error")


def needs_database(event: Event) -> bool:
    """Whether rendering must leave the event loop (for Django's thread): it reads the
    database (approval cards name their task), or it renders a whole answer as markdown
    (linear, but milliseconds for a long one, and the event loop serves every socket)."""
    database_types = {
        "run_started",
        "run_finished",
        "final",
        "approval_required",
        "approval_decision",
    }
    return event.type in database_types or changes_tasks(event)


_html_cache: OrderedDict[tuple[int, str, int, float], str] = OrderedDict()
_CACHE_SIZE = 2048


def cached_html(conversation_id: int, event: Event) -> str | None:
    """Fragments already rendered in this process: several tabs share one rendering."""
    return _html_cache.get((conversation_id, event.run_id, event.seq, event.ts))


def cache_html(conversation_id: int, event: Event, html: str) -> None:
    _html_cache[(conversation_id, event.run_id, event.seq, event.ts)] = html
    while len(_html_cache) > _CACHE_SIZE:
        _html_cache.popitem(last=False)


def event_html(event: Event, conversation: Conversation) -> str:
    """All fragments one event changes on the chat page (may touch the DB for the task panel)."""
    run_id = event.run_id
    p = event.payload
    parts: list[str] = []
    if event.type == "run_started":
        run = AgentRun.objects.select_related("user_message", "conversation").get(pk=int(run_id))
        parts.append(
            _render(
                "run_started.html",
                run=run,
                message=run.user_message,
                conversation=run.conversation,
            )
        )
    elif event.type == "token":
        parts.append(_render("token.html", run_id=run_id, text=p.get("text", "")))
    if event.type in STEP_TYPES:
        parts.append(_render("trace_step_oob.html", step=event, run_id=run_id))
    if event.type == "fallback" and p.get("notice") == "abandon":
        parts.append(_render("abandoned.html", run_id=run_id, text=p.get("abandoned_text", "")))
    if event.type == "approval_required":
        parts.append(_render("approval_card.html", step=event, oob=True, decided=None))
    if event.type == "approval_decision":
        parts.append(_render("approval_card.html", step=event, oob=True, decided=p.get("decision")))
    if event.type == "final":
        message = Message(role="assistant", content=str(p.get("text", "")))
        parts.append(
            _render("message.html", message=message, answer_run_id=run_id, oob=True, final=True)
        )
    if event.type == "run_finished":
        run = AgentRun.objects.get(pk=int(run_id))
        parts.append(_render("run_summary.html", run=run, oob=True))
    if changes_tasks(event):
        parts.append(task_panel_html(conversation))
    return "".join(parts)
