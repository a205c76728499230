"""Run an eval suite through the app's own runner, on a throw-away database.

An eval should measure what users get, so each turn goes through `tasks.runner.execute_run`:
the same loop, ORM tools, persistence and approval path as the web app. It must also never
touch the user's data, so the suite runs on a database created for the run (a temporary SQLite
file, or a uniquely named test database on other engines) and destroyed after it, with a fresh
user per case. Judging and figures come from `agentcore.evals`, shared with the in-memory
runner of the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from agentcore.evals import Case, CaseResult, Report, ToolCallRecord, TurnRecord, evaluate
from agentcore.events import Answered, Event, Failed, RunFinished, ToolCalled
from agentcore.messages import ToolCall

from . import services
from .backend_routes import backend_for_route, operator_routes
from .models import Conversation, Task
from .runner import execute_run

OnCase = Callable[[str, Case], None]
OnResult = Callable[[CaseResult], None]


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """Point the default database at a fresh, migrated one for the block; drop it after.

    Uses Django's own test-database machinery with the test name overridden, so the real
    database (and, under pytest, the test session's database) is left as it was.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    test_settings: dict[str, Any] = connection.settings_dict.setdefault("TEST", {})
    had_name, old_test_name = "NAME" in test_settings, test_settings.get("NAME")
    old_name = connection.settings_dict["NAME"]
    folder = ""
    if connection.vendor == "sqlite":
        folder = tempfile.mkdtemp(prefix="taskweb-eval-")
        test_settings["NAME"] = os.path.join(folder, "eval.sqlite3")
    else:
        test_settings["NAME"] = f"taskweb_eval_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield name
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        connection.settings_dict["NAME"] = old_name
        if had_name:
            test_settings["NAME"] = old_test_name
        else:
            test_settings.pop("NAME", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def resolve_backends(routes: Sequence[str]) -> list[str]:
    """Build each route's backend now, from the real database's profiles (raises ConfigError).

    Backends are cached by route, so the runs inside the throw-away database (which holds only
    the seeded profiles) reuse these. Duplicates are dropped, order kept.
    """
    unique = list(dict.fromkeys(r.strip() for r in routes if r.strip()))
    for route in unique:
        backend_for_route(route)
    return unique


def run_suite(
    cases: Sequence[Case],
    routes: Sequence[str],
    *,
    suite: str,
    on_case: OnCase | None = None,
    on_result: OnResult | None = None,
    turn_timeout: float | None = None,
) -> Report:
    """Run every case on every backend (backend by backend) and return the judged report."""
    backends = resolve_backends(routes)
    report = Report(suite=suite, backends=backends, started_at=timezone.now().isoformat())
    started = time.perf_counter()
    with throwaway_database(), operator_routes():  # an operator's tool: ad-hoc specs allowed
        asyncio.run(_run_all(report, cases, on_case, on_result, turn_timeout))
    report.duration_s = time.perf_counter() - started
    return report


async def _run_all(
    report: Report,
    cases: Sequence[Case],
    on_case: OnCase | None,
    on_result: OnResult | None,
    turn_timeout: float | None,
) -> None:
    # The ORM thread may hold a connection opened before the switch; reopen it on the new DB.
    await sync_to_async(connections.close_all)()
    try:
        for backend in report.backends:
            results = report.results.setdefault(backend, [])
            for case in cases:
                if on_case is not None:
                    on_case(backend, case)
                result = await run_case(case, backend, turn_timeout=turn_timeout)
                results.append(result)
                if on_result is not None:
                    on_result(result)
    finally:
        await sync_to_async(connections.close_all)()


@database_sync_to_async
def _prepare(case: Case, route: str) -> tuple[Conversation, list[int]]:
    """A fresh user with the case's setup tasks, and a conversation on the route."""
    user = get_user_model().objects.create_user(username=f"eval-{uuid.uuid4().hex[:12]}")
    ids = []
    for spec in case.setup:
        task = Task.objects.create(
            owner=user,
            title=spec.title,
            description=spec.description,
            priority=spec.priority,
            due_date=date.fromisoformat(spec.due_date) if spec.due_date else None,
            tags=list(spec.tags),
            status=spec.status,
            completed_at=timezone.now() if spec.status == "done" else None,
        )
        ids.append(task.pk)
    conversation = services.conversation_create(user=user, route=route, title=f"eval {case.id}")
    return conversation, ids


@database_sync_to_async
def _tasks_after(conversation: Conversation) -> list[dict[str, Any]]:
    rows = Task.objects.filter(owner_id=conversation.owner_id).order_by("id")
    return [task.to_tool_dict() for task in rows]


def _collector(turn: TurnRecord) -> Callable[[Event], Any]:
    """A `publish` callback that records what the case needs from the run's events."""

    async def publish(event: Event) -> None:
        p = event.payload
        if isinstance(p, ToolCalled):
            turn.tool_calls.append(ToolCallRecord(name=p.name, arguments=dict(p.arguments)))
        elif isinstance(p, Answered):
            turn.reply = p.text
        elif isinstance(p, Failed):
            turn.error = p.message or p.kind or "error"
        elif isinstance(p, RunFinished):
            turn.status = p.status
            turn.input_tokens = p.input_tokens
            turn.output_tokens = p.output_tokens
            turn.cost = _decimal(p.cost)
            turn.answered_by = p.answered_by

    return publish


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


async def run_case(case: Case, route: str, *, turn_timeout: float | None = None) -> CaseResult:
    """One case on one backend; a crash or timeout becomes a failed case, never an exception."""
    turns: list[TurnRecord] = []
    conversation: Conversation | None = None
    harness_error = ""
    now = case.now
    clock: Callable[[], datetime] | None = (lambda: now) if now is not None else None

    async def approve(call: ToolCall) -> bool:
        return case.approve

    try:
        conversation, ids = await _prepare(case, route)
        for text in case.turns_for(ids):
            turn = TurnRecord(message=text)
            turns.append(turn)
            started = time.perf_counter()
            try:
                run = await asyncio.wait_for(
                    execute_run(
                        conversation, text, publish=_collector(turn), approve=approve, clock=clock
                    ),
                    timeout=turn_timeout,
                )
            except asyncio.TimeoutError:  # TimeoutError itself only from 3.11
                turn.status, turn.error = "timeout", f"no answer within {turn_timeout} s"
            else:
                turn.status = turn.status or str(run.status)
            turn.latency_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:
        harness_error = f"{type(exc).__name__}: {exc}"
    tasks: list[dict[str, Any]] = []
    if conversation is not None:
        try:
            tasks = await _tasks_after(conversation)
        except Exception as exc:
            harness_error = harness_error or f"reading tasks failed: {exc}"
    return evaluate(case, backend=route, turns=turns, tasks=tasks, harness_error=harness_error)
