"""Final answers written from tool results: short, concrete, with ids and titles.

Titles are user data that end up inside the engine's own text, so `quote_title` makes them
inert: no line breaks, no markdown images, no HTML tags. `neutralise` then checks the whole
answer, because the loop recovers tool calls written as JSON in a backend's text, and a
title such as `{"tool": "delete_task", ...}` must never turn into a call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ...error_words import schema_words
from ...toolcall_parsing import parse_tool_calls
from .dates import format_day, parse_iso

Task = dict[str, Any]

HELP = (
    "I'm Taskweb's built-in assistant, a rule-based engine that runs offline (no AI model). "
    "I can manage your tasks. Try:\n"
    '- "Create a task to review the budget by Friday, high priority #finance"\n'
    '- "What\'s due this week?", "Show high priority tasks", "Anything overdue?"\n'
    '- "Mark the budget task done", "Move task 3 to next Monday", "Rename #2 to Call Ana"\n'
    '- "Delete task 4" (I ask for your approval before deleting)\n'
    "What I do not understand: general questions or conversation, times of day (I keep dates "
    "only), recurring tasks, subtasks, sharing, and long messages mixing several different "
    "requests. I never delete or complete on a negated or hypothetical sentence."
)
GREETING = "Hello! " + HELP
THANKS = "You're welcome! Tell me whenever you want to add or change a task."
UNTITLED = (
    "What should the task say? For example: "
    '"add a task to call the bank tomorrow". Nothing was created.'
)
BULK = (
    "I change tasks one at a time, so that nothing is lost by accident. "
    'Tell me which task you mean, e.g. "delete task 3", or ask "what\'s on my list?" first.'
)


def quote_title(title: object) -> str:
    text = re.sub(r"\s+", " ", str(title)).strip()
    text = text.replace("![", "!\\[")
    return re.sub(r"<(/?[A-Za-z!])", r"\\<\1", text)


def neutralise(text: str, tool_names: Iterable[str]) -> str:
    """Break JSON that the loop's text parser would read as a tool call."""
    if parse_tool_calls(text, set(tool_names)):
        text = text.replace("{", "(").replace("}", ")").replace("<tool_call>", "(tool_call)")
    return text


def _details(task: Task, *, with_priority: bool = True) -> str:
    parts = []
    due = parse_iso(task.get("due_date"))
    if due is not None:
        parts.append(f"due {format_day(due)}")
    if with_priority:
        parts.append(f"{task.get('priority', 'medium')} priority")
    tags = task.get("tags") or []
    if tags:
        parts.append("tags: " + ", ".join(quote_title(t) for t in tags))
    if task.get("status") == "done":
        parts.append("done")
    return ", ".join(parts)


def task_name(task: Task) -> str:
    return f'task #{task["id"]} "{quote_title(task["title"])}"'


def task_line(task: Task) -> str:
    """ "- #1 Pay invoices (high, due 2026-11-28)": one line of a listing."""
    bits = [str(task.get("priority", "medium"))]
    if task.get("due_date"):
        bits.append(f"due {task['due_date']}")
    if task.get("tags"):
        bits.append(" ".join("#" + quote_title(t) for t in task["tags"]))
    if task.get("status") == "done":
        bits.append("done")
    return f"- #{task['id']} {quote_title(task['title'])} ({', '.join(bits)})"


def created(tasks: Sequence[Task]) -> str:
    lines = [f"Created {task_name(t)} ({_details(t)})." for t in tasks]
    return "\n".join(lines)


def listing(tasks: Sequence[Task], label: str, count: int | None = None) -> str:
    label = label or "tasks"
    if not tasks:
        return f"You have no {label}."
    total = count if count is not None else len(tasks)
    noun = label if total != 1 else re.sub(r"\btasks\b", "task", label)
    header = f"You have {total} {noun}:"
    lines = [task_line(t) for t in tasks]
    if total > len(tasks):
        lines.append(f"(showing the first {len(tasks)})")
    return "\n".join([header, *lines])


def details(task: Task) -> str:
    lines = [f"Task #{task['id']}: {quote_title(task['title'])}", f"- status: {task['status']}"]
    lines.append(f"- priority: {task.get('priority', 'medium')}")
    due = parse_iso(task.get("due_date"))
    lines.append(f"- due: {format_day(due) if due else 'no due date'}")
    if task.get("tags"):
        lines.append("- tags: " + ", ".join(quote_title(t) for t in task["tags"]))
    if task.get("description"):
        lines.append(f"- description: {quote_title(task['description'])}")
    return "\n".join(lines)


def completed(task: Task) -> str:
    return f"Marked {task_name(task)} as done."


def updated(task: Task, arguments: dict[str, Any]) -> str:
    changes = []
    if "title" in arguments:
        changes.append(f'renamed to "{quote_title(task["title"])}"')
    if "due_date" in arguments:
        due = parse_iso(task.get("due_date"))
        changes.append(f"due {format_day(due)}" if due else "no due date")
    if "priority" in arguments:
        changes.append(f"{task['priority']} priority")
    if "tags" in arguments:
        tags = ", ".join(quote_title(t) for t in task.get("tags") or []) or "none"
        changes.append(f"tags: {tags}")
    if "description" in arguments:
        changes.append("description updated")
    if "status" in arguments:
        changes.append("reopened" if task.get("status") == "open" else f"status {task['status']}")
    return f"Updated {task_name(task)}: {', '.join(changes) or 'no changes'}."


def deleted(value: dict[str, Any]) -> str:
    return f'Deleted task #{value["deleted"]} "{quote_title(value.get("title", ""))}".'


def rejected(name: str, task: Task | None, task_id: object) -> str:
    what = task_name(task) if task else f"task #{task_id}"
    verb = {"delete_task": "delete"}.get(name, name.replace("_task", "").replace("_", " "))
    return f"OK, I did not {verb} {what}; nothing was changed."


def tool_error(name: str, content: str) -> str:
    reason = content.removeprefix("Error:").strip()
    verb = name.replace("_task", "").replace("_tasks", "").replace("_", " ")
    plain = schema_words(reason)  # "the title is too long", not pydantic's message
    if plain:
        return f"I couldn't {verb} that: {plain[0].lower()}{plain[1:]}"
    return f"I couldn't {verb} that: {reason}."


def ambiguous(phrase: str, tasks: Sequence[Task]) -> str:
    lines = [f'More than one task matches "{quote_title(phrase)}":']
    lines += [task_line(t) for t in tasks[:10]]
    first = tasks[0]["id"]
    lines.append(
        f'Which one do you mean? Tell me its number, e.g. "task {first}". Nothing was changed.'
    )
    return "\n".join(lines)


def not_found(phrase: str) -> str:
    return (
        f'I couldn\'t find a task matching "{quote_title(phrase)}", so nothing was changed. '
        'Ask "what\'s on my list?" to see your tasks.'
    )


def which_task() -> str:
    return (
        'Which task do you mean? Tell me its number (e.g. "task 3") or part of its title; '
        "nothing was changed."
    )


def nothing_to_change() -> str:
    return (
        'What should I change? For example: "move it to Friday", "make it high priority", '
        '"rename it to ...", "tag it work". Nothing was changed.'
    )


def not_acted(kind: str, said: str) -> str:
    """A short, specific reply for a message that led to no action."""
    quoted = quote_title(said)[:80]
    if kind == "declined":
        return "OK, I won't change anything; nothing was deleted or completed."
    if kind == "hypothetical":
        return (
            "Nothing was changed. Deleting a task removes it for good (I ask for your approval "
            'first); completing one can be undone by reopening it. Say "delete task N" or '
            '"mark task N done" when you want it.'
        )
    if said.rstrip().endswith("?"):
        return (
            f'I can only answer questions about your tasks, and "{quoted}" is not one I know. '
            'Try "what\'s due this week?", "how many tasks do I have?" or "when is X due?".'
        )
    if 0 < len(said.split()) <= 6:
        return (
            f'I didn\'t read "{quoted}" as a request, so nothing was changed. If it is '
            f'something to do, say "add {quoted}" (and a date, e.g. "by Friday", if it has one).'
        )
    return (
        f'I didn\'t understand "{quoted}" as a task request, so nothing was changed. '
        'Try "add a task to ... by Friday", "what\'s due this week?", "mark task 3 done" '
        'or "help".'
    )
