"""The next step of a turn, derived from the conversation alone (the engine keeps no state).

Everything after the last user message is this turn's work so far: the calls the engine made
and their results. From the intent of that user message and those results, `plan` decides
the next calls, or writes the final answer. Results are read only as structured JSON for
ids and titles; nothing inside a tool result is ever read as a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...messages import Message
from . import answers
from .dates import parse_iso
from .intents import Intent
from .readings import parse_intent
from .references import Reference, Task, best_matches, focus, load, query_for, tasks_in
from .updates import apply_changes

Call = tuple[str, dict[str, Any]]
REJECTED = "The user rejected this call"


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One call made during this turn and what came back."""

    name: str
    arguments: dict[str, Any]
    content: str

    @property
    def value(self) -> Any:
        return load(self.content)

    @property
    def failed(self) -> bool:
        return self.content.startswith("Error") or self.content.startswith(REJECTED)


def exchanges_since(messages: Sequence[Message], start: int) -> list[Exchange]:
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    done: list[Exchange] = []
    for message in messages[start:]:
        for call in message.tool_calls:
            calls[call.id] = (call.name, call.arguments)
        if message.role == "tool" and message.tool_call_id in calls:
            name, args = calls[message.tool_call_id]
            done.append(Exchange(name=name, arguments=args, content=message.content))
    return done


def plan(messages: Sequence[Message], now: datetime) -> list[Call] | str:
    """The calls to make next, or the final answer text."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        return answers.GREETING
    intent = parse_intent(messages[last].content, now)
    turn = exchanges_since(messages, last + 1)
    fixed = {
        "greet": answers.GREETING,
        "help": answers.HELP,
        "thanks": answers.THANKS,
        "bulk_refused": answers.BULK,
        "untitled": answers.UNTITLED,
    }
    if intent.kind in fixed:
        return fixed[intent.kind]
    if intent.kind in {"declined", "hypothetical", "unknown"}:
        return answers.not_acted(intent.kind, intent.said)
    if intent.kind == "bulk":
        return _batch(intent, turn)
    if intent.kind == "create":
        if not turn:
            return [("create_task", t.arguments()) for t in intent.creates]
        return _after_create(turn)
    if intent.kind == "list":
        if not turn:
            return [("list_tasks", intent.filters.arguments())]
        result = turn[-1]
        if result.failed:
            return answers.tool_error(result.name, result.content)
        value = result.value
        return answers.listing(tasks_in(value) or [], intent.filters.label, value.get("count"))
    return _targeted(intent, messages[:last], turn, now)


def _batch(intent: Intent, turn: list[Exchange]) -> list[Call] | str:
    """One list_tasks with the filters, then the action on every task it found."""
    if not turn:
        return [("list_tasks", {**intent.filters.arguments(), "limit": 100})]
    acted = [e for e in turn if e.name == intent.action]
    if acted:
        return _report(intent.action, acted, [])
    found = tasks_in(turn[-1].value) or []
    if turn[-1].failed:
        return answers.tool_error(turn[-1].name, turn[-1].content)
    if not found:
        return answers.listing([], intent.filters.label) + " Nothing was changed."
    return [(intent.action, {"task_id": t["id"]}) for t in found]


def _after_create(turn: list[Exchange]) -> str:
    made = [e.value for e in turn if e.name == "create_task" and not e.failed]
    errors = [answers.tool_error(e.name, e.content) for e in turn if e.failed]
    return "\n".join([answers.created(made)] * bool(made) + errors)


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """Where finding the target stands: found tasks, a search to run, or a question."""

    targets: list[int | Task] | None = None
    search: Call | None = None
    question: str | None = None


def _targeted(
    intent: Intent, history: Sequence[Message], turn: list[Exchange], now: datetime
) -> list[Call] | str:
    """get/complete/update/delete: find the task(s), then act, then report."""
    assert intent.target is not None
    if intent.kind == "update" and intent.changes.empty:
        return answers.nothing_to_change()
    targets: list[int | Task] = []
    for ref in (intent.target, *intent.more):
        found = _resolve(ref, history, turn, kind=intent.kind, many=bool(intent.more))
        if found.question is not None:
            return found.question
        if found.search is not None:
            return [found.search]
        targets += [t for t in found.targets or [] if t not in targets]
    action = {"get": "get_task", "complete": "complete_task", "delete": "delete_task"}.get(
        intent.kind, "update_task"
    )
    acted = [e for e in turn if e.name == action]
    if acted:
        return _report(action, acted, targets)
    failed_get = [e for e in turn if e.name == "get_task" and e.failed]
    if failed_get:
        return answers.tool_error("find", failed_get[-1].content)
    fetched = {e.value["id"]: e.value for e in turn if e.name == "get_task"}
    calls: list[Call] = []
    for target in targets:
        task_id = target["id"] if isinstance(target, dict) else target
        if action != "update_task":
            calls.append((action, {"task_id": task_id}))
            continue
        current = target if isinstance(target, dict) else fetched.get(task_id)
        if intent.changes.needs_current and current is None:
            calls.append(("get_task", {"task_id": task_id}))
            continue
        tags = list(current.get("tags") or []) if current else []
        due = parse_iso(current.get("due_date")) if current else None
        args = apply_changes(intent.changes, tags, due, now.date())
        calls.append((action, {"task_id": task_id, **args}))
    return calls


def _resolve(
    ref: Reference, history: Sequence[Message], turn: list[Exchange], *, kind: str, many: bool
) -> Resolution:
    """The target tasks, or the list_tasks call that will find them, or a question."""
    if ref.ids:
        return Resolution(targets=list(ref.ids))
    shown = focus(history)
    if ref.every:
        # "both" means exactly two; "them" / "all of them", however many were shown.
        wanted = 2 if "both" in ref.phrase.lower() else len(shown)
        if len(shown) < 2 or len(shown) != wanted:
            if shown:
                return Resolution(question=answers.ambiguous(ref.phrase, shown))
            return Resolution(question=answers.which_task())
        return Resolution(targets=list(shown))
    if ref.ordinal is not None:
        if not shown or ref.ordinal >= len(shown):
            return Resolution(question=answers.which_task())
        return Resolution(targets=[shown[ref.ordinal]])
    if ref.pronoun and len(shown) == 1:
        return Resolution(targets=[shown[0]])
    if ref.pronoun and len(shown) > 1:
        return Resolution(question=answers.ambiguous(ref.phrase or "it", shown))
    if not ref.words:
        return Resolution(question=answers.which_task())
    # Completing looks among open tasks; renaming or deleting may concern a done one too.
    status = "open" if kind == "complete" else "all"
    searches = [e for e in turn if e.name == "list_tasks"]
    if not searches and many:
        return Resolution(search=("list_tasks", {"status": status, "limit": 100}))
    if not searches:
        return Resolution(search=("list_tasks", {"status": status, "query": query_for(ref)}))
    best = best_matches(ref, tasks_in(searches[-1].value) or [], prefer_open=kind != "delete")
    if len(best) == 1:
        return Resolution(targets=[best[0]])
    phrase = " ".join(ref.words) if ref.pronoun else ref.phrase
    if len(best) > 1:
        return Resolution(question=answers.ambiguous(phrase, best))
    if len(searches) == 1 and "query" in searches[-1].arguments:
        # The query word may not occur as such (a typo, another word form): look at all.
        return Resolution(search=("list_tasks", {"status": status, "limit": 100}))
    return Resolution(question=answers.not_found(phrase))


def _report(action: str, acted: list[Exchange], targets: list[int | Task]) -> str:
    known = {t["id"]: t for t in targets if isinstance(t, dict)}
    lines = []
    for exchange in acted:
        task_id = exchange.arguments.get("task_id")
        if exchange.content.startswith(REJECTED):
            lines.append(answers.rejected(action, known.get(task_id), task_id))
        elif exchange.failed:
            lines.append(answers.tool_error(action, exchange.content))
        elif action == "get_task":
            lines.append(answers.details(exchange.value))
        elif action == "complete_task":
            lines.append(answers.completed(exchange.value))
        elif action == "delete_task":
            lines.append(answers.deleted(exchange.value))
        else:
            lines.append(answers.updated(exchange.value, exchange.arguments))
    return "\n".join(lines)
