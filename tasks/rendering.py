"""Events → HTML fragments for HTMX's websocket extension (out-of-band swaps by element id).

The page and the live updates share the same partials, so a reloaded page looks exactly like
one that watched the run happen. Every fragment of a stored step also moves the page's
cursor (`#ws-cursor`), which the page sends back as `after_step` when it reconnects.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape

from agentcore.events import (
    EVENT_TYPES,
    FINAL_STATUSES,
    Answered,
    ApprovalDecided,
    ApprovalRequired,
    Event,
    FellBack,
    ModelResponded,
    RunFinished,
    RunStarted,
    Token,
    ToolResulted,
)

from . import started_runs
from .models import AgentRun, Conversation, Message, RunStatus, Task
from .runs import pending_approvals
from .steps import decimal, event_from_step, storable
from .templatetags.chat_html import message_html, run_summary_html, task_row_html
from .templatetags.taskweb import cursor_html
from .templatetags.trace_words import trace_step_html

log = logging.getLogger(__name__)

STEP_TYPES = EVENT_TYPES - {"run_started", "token", "run_finished"}
"""Events shown as a step of the trace (the run's start and end are its header)."""

ENDED_NOTES = {
    "failed": "This run failed; the trace says why.",
    "cancelled": "This run was cancelled.",
    "interrupted": "This run was interrupted because the server stopped. Please send it again.",
}


@dataclass(frozen=True)
class RunView:
    """What run.html and run_summary.html read of a run, for a run not read from the
    database: one this process started (run_started), or one whose run_finished event
    carries its totals. Field for field what `services.run_close` stores on the row, so the
    live header equals the reloaded page's."""

    pk: int
    started_at: dt.datetime
    status: str = "running"
    answered_by: str = ""
    duration_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    model_calls: int = 0


def _finished_view(event: Event, conversation: Conversation) -> RunView | None:
    """The run's summary from its run_finished totals; None when the row must be read: a
    run this process does not remember, or one closed without a duration (the row gets one
    computed when it is stored)."""
    p = event.payload
    started = started_runs.recall(event.run_id, conversation.pk)
    if (
        not isinstance(p, RunFinished)
        or started is None
        or not p.duration_ms
        or p.status not in FINAL_STATUSES
    ):
        return None
    return RunView(
        pk=started.pk,
        started_at=started.started_at,
        status=p.status,
        answered_by=storable(p.answered_by)[:200],
        duration_ms=p.duration_ms,
        input_tokens=p.input_tokens,
        output_tokens=p.output_tokens,
        cost=decimal(p.cost),
        model_calls=p.model_calls,
    )


ABANDONED = (
    '<div class="abandoned-text"><em>Abandoned attempt (a fallback answers below):</em> '
    "<s>{}</s></div>"
)


def answer_html(run_id: str, html: str, swap: str = "innerHTML") -> str:
    """The streaming answer's text (`#answer-N-text`): a token appended, or the stored text
    in its place. `html` is escaped already. The per-event fragments are built here, not
    by templates: they are the bulk of what the live path renders."""
    return f'<div id="answer-{escape(run_id)}-text" hx-swap-oob="{swap}">{html}</div>\n'


def _render(template: str, **context: Any) -> str:
    return render_to_string(f"tasks/partials/{template}", context)


ROW_TOOLS = frozenset({"create_task", "update_task", "complete_task"})
"""Task tools whose result is the task as it now is (`Task.to_tool_dict`)."""


def task_list_append(rows: str) -> str:
    """Rows appended to the panel's list; the page script then drops the rows they replace
    (same id) and the deleted ones (`task-gone`), and puts the list in data-order."""
    return f'<ul id="task-list" hx-swap-oob="beforeend">{rows}</ul>\n'


def task_change_html(p: ToolResulted) -> str:
    """The task panel's change from a task tool's result, with no query: the row as the
    tool returned it, or the removal of the row a delete named. (The whole panel used to be
    read and rendered again after every batch of tool results.)"""
    value = p.value
    if p.error or not isinstance(value, dict):
        return ""
    if p.name == "delete_task" and isinstance(value.get("deleted"), int):
        return task_list_append(
            f'<li id="task-{escape(value["deleted"])}" class="task-gone" hidden></li>'
        )
    if p.name not in ROW_TOOLS or not isinstance(value.get("id"), int):
        return ""
    try:
        due = value.get("due_date")
        task = Task(
            pk=value["id"],
            title=str(value.get("title", "")),
            priority=str(value.get("priority", "")),
            status=str(value.get("status", "")),
            due_date=dt.date.fromisoformat(due) if due else None,
            tags=list(value.get("tags") or []),
        )
    except (TypeError, ValueError):
        log.warning("a %s result is not a task; the panel shows it after a reload", p.name)
        return ""
    return task_list_append(task_row_html(task))


def needs_database(event: Event, conversation: Conversation) -> bool:
    """Whether rendering must leave the event loop (for Django's thread): it reads the
    database (a run's row it does not hold, approval cards naming their task), or it renders a
    whole answer as markdown (linear, but milliseconds for a long one, and the event loop
    serves every socket of the process)."""
    p = event.payload
    if isinstance(p, RunStarted) and started_runs.recall(event.run_id, conversation.pk) is None:
        return True  # the run's row is read
    if isinstance(p, RunFinished) and _finished_view(event, conversation) is None:
        return True
    return isinstance(p, (Answered, ApprovalRequired, ApprovalDecided))


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
    """All fragments one event changes on the chat page (reads the database only where
    `needs_database` says so)."""
    run_id = event.run_id
    p = event.payload
    parts: list[str] = []
    if isinstance(p, RunStarted):
        parts.append(_run_started_html(run_id, conversation))
    elif isinstance(p, Token):
        parts.append(answer_html(run_id, f"<span>{escape(p.text)}</span>", "beforeend"))
    if event.type in STEP_TYPES:
        step = trace_step_html(event, run_id)
        parts.append(f'<ol id="run-{escape(run_id)}-steps" hx-swap-oob="beforeend">{step}</ol>\n')
    if isinstance(p, ModelResponded) and not p.tool_calls:
        # The stored text replaces what streamed: a client that missed tokens sees it whole.
        parts.append(answer_html(run_id, escape(p.text)))
    if isinstance(p, FellBack) and p.notice == "abandon":
        parts.append(answer_html(run_id, ABANDONED.format(escape(p.abandoned_text))))
    if isinstance(p, ApprovalRequired):
        parts.append(_render("approval_card.html", step=event, oob=True, decided=None))
    if isinstance(p, ApprovalDecided):
        parts.append(_render("approval_card.html", step=event, oob=True, decided=p.decision))
    if isinstance(p, Answered):
        message = Message(role="assistant", content=p.text)
        parts.append(message_html(message, answer_run_id=run_id, oob=True, final=True))
    if isinstance(p, RunFinished):
        view = _finished_view(event, conversation)
        summary = view if view is not None else AgentRun.objects.get(pk=int(run_id))
        parts.append(run_summary_html(summary, oob=True))
        parts.append("\n")
        parts.append(_render("run_feedback.html", run=summary, oob=True))
        parts.append("\n")
        started_runs.forget(run_id)
        if p.status in ENDED_NOTES:
            note = Message(role="assistant", content=ENDED_NOTES[p.status])
            parts.append(message_html(note, answer_run_id=run_id, oob=True))
    if isinstance(p, ToolResulted):
        parts.append(task_change_html(p))
    if event.step_id is not None and event.type != "token":
        parts.append(cursor_html(event.step_id, oob=True))
    return "".join(parts)


def _run_started_html(run_id: str, conversation: Conversation) -> str:
    """The user's message, the working answer and the run's header: from what the run
    service remembered when it started the run, else from the run's row."""
    started = started_runs.recall(run_id, conversation.pk)
    if started is not None:
        return _render(
            "run_started.html",
            run=RunView(pk=started.pk, started_at=started.started_at),
            message=started.message,
            conversation={"pk": started.conversation_pk, "title": started.title},
        )
    run = AgentRun.objects.select_related("user_message", "conversation").get(pk=int(run_id))
    return _render(
        "run_started.html", run=run, message=run.user_message, conversation=run.conversation
    )


def live_state(conversation: Conversation) -> dict[str, Any]:
    """What a reloaded page shows of a run still going: its answer bubble and the approvals
    it waits for (answerable from this page, whichever process runs it)."""
    run = conversation.runs.filter(status=RunStatus.RUNNING).first()
    if run is None:
        return {"running": None, "pending": []}
    pending = [event_from_step(step) for step in pending_approvals(run)]
    return {"running": run, "pending": pending}
