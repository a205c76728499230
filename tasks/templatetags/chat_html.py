"""The chat page's hot partials, built in Python: message bubbles, run summaries, task rows.

Each is rendered for the page (through the tags below) and for the live fragments of every
run (`tasks.rendering`), one way for both, so a reloaded page equals one that watched the run
happen. They were templates; on the live path the template engine's lookups, includes and
`{% url %}` cost more than the rest of a run's rendering together. Every text is escaped
here as the templates' autoescaping did; markdown is the `markdown` filter's sanitised HTML.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import time as time_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tasks.templatetags.taskweb import dollars, ms, render_markdown, task_order

register = template.Library()


def _time(value: Any, css: str) -> str:
    """`<time>` of a moment, as the templates wrote it with `date:'c'` and `time:"H:i"`."""
    aware = isinstance(value, dt.datetime) and timezone.is_aware(value)
    local = timezone.localtime(value) if aware else value  # as templates do (USE_TZ)
    stamp = escape(date_filter(local, "c"))
    return f'<time class="{css}" datetime="{stamp}">{escape(time_filter(local, "H:i"))}</time>'


def message_html(
    message: Any, *, answer_run_id: Any = None, oob: bool = False, final: bool = False
) -> SafeString:
    """A message bubble; as a run's answer (`answer_run_id`) it replaces the working one."""
    if answer_run_id:
        swap = ' hx-swap-oob="true"' if oob else ""
        ident = f'id="answer-{escape(answer_run_id)}"{swap}'
    else:
        ident = f'id="message-{escape(message.pk)}"'
    abandoned = bool(message.abandoned)
    classes = f"msg {escape(message.role)}"
    classes += " abandoned" if abandoned else ""
    classes += " just-finished" if final else ""
    role = "You" if message.role == "user" else "Agent"
    if abandoned:
        role += " · <em>abandoned attempt (a fallback answered instead)</em>"
    when = _time(message.created_at, "msg-time") if message.created_at else ""
    return mark_safe(
        f'<div {ident} class="{classes}">\n'
        f'  <div class="msg-head"><span class="msg-role">{role}</span>{when}'
        '<button type="button" class="copy-button" data-copy="message" '
        'aria-label="Copy this message">Copy</button></div>\n'
        f'  <div class="msg-body md" hx-disable>{render_markdown(message.content)}</div>\n'
        "</div>\n"
    )


def run_summary_html(run: Any, *, oob: bool = False) -> SafeString:
    """A run's header line: status, who answered, time, tokens, cost (a row or a `RunView`)."""
    pk = escape(run.pk)
    status = escape(run.status)
    swap = ' hx-swap-oob="true"' if oob else ""
    out = [
        f'<summary id="run-{pk}-summary" class="run-summary status-{status}"{swap}'
        f' data-status="{status}">\n'
        f'  <span class="run-name">Run {pk}</span>\n'
        f'  <span class="badge">{status}</span>\n  '
    ]
    if run.answered_by:
        out.append(f"<span>answered by <code>{escape(run.answered_by)}</code></span>")
    out.append("\n  ")
    if run.duration_ms is not None:
        out.append(f"<span>{escape(ms(run.duration_ms))}</span>")
    out.append("\n  ")
    if run.model_calls:
        tokens = f"{escape(run.input_tokens)}→{escape(run.output_tokens)} tok"
        out.append(f"<span>{tokens}</span><span>{escape(dollars(run.cost))}</span>")
    out.append("\n  ")
    if run.started_at:
        out.append(_time(run.started_at, "muted"))
    out.append("\n</summary>")
    return mark_safe("".join(out))


def task_row_html(task: Any) -> SafeString:
    """A task of the panel (a row or one built from a task tool's result)."""
    pk = escape(task.pk)
    meta: list[str] = [escape(task.get_priority_display())]
    if task.due_date:
        meta.append(f" · due {escape(date_filter(task.due_date, 'D Y-m-d'))}")
    meta.extend(f" · #{escape(tag)}" for tag in task.tags or ())
    if task.status == "done":
        meta.append(" · done")
    url = escape(reverse("task_detail", args=[task.pk]))
    return mark_safe(
        f'<li id="task-{pk}" class="task status-{escape(task.status)} '
        f'priority-{escape(task.priority)}" data-order="{escape(task_order(task))}">\n'
        f'  <span class="task-id">#{pk}</span>\n'
        f'  <a class="task-title" href="{url}">{escape(task.title)}</a>\n'
        f'  <span class="task-meta">{"".join(meta)}</span>\n'
        "</li>\n"
    )


@register.simple_tag
def message_bubble(message: Any) -> SafeString:
    return message_html(message)


@register.simple_tag
def run_summary(run: Any, oob: bool = False) -> SafeString:
    return run_summary_html(run, oob=oob)


@register.simple_tag
def task_row(task: Any) -> SafeString:
    return task_row_html(task)
