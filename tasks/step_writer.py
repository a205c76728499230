"""Store the waiting events of every run of the process in one trip to the database.

Each run stores its events before publishing them (`runner.EventWriter`). With one trip per
run, 50 concurrent runs made 50 trips, each a transaction and a row-by-row insert per step,
all on Django's one sync thread: that thread was the bottleneck of 50 concurrent
conversations (py-spy on daphne: 37% of it in single-step inserts). Here the runs' batches
that queue up while a trip is under way go together in the next one: one transaction with a
savepoint per run (none when the trip carries one run), so that one run's failure stays its
own, and each run's messages and steps in one multi-row INSERT each (`rows.store_events`).

A trip is all or nothing for the runs in it: when the connection dies (or a savepoint cannot
be rolled back), Django rolls the whole transaction back on leaving the block *without
raising*, so runs stored earlier in the trip would be told "stored" while their rows vanish.
The trip checks for that and fails every run in it; nobody announces a step the database lacks.

Tools' writes ride the same trips (`StepWriter.call`): a builtin turn went to the database
thread four times (its start, two batches of steps, its tool), each hop a thread handoff and
a `close_old_connections`; a tool now goes with the steps that wait beside it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.db import DataError, IntegrityError, connection, transaction

from agentcore.events import Event
from agentcore.messages import Message as CoreMessage

from . import rows
from .models import AgentRun

Items = Sequence[tuple[Event, list[CoreMessage]]]
Outcome = list[int | None] | BaseException
"""Per run of a trip: the stored step ids of its items (None for tokens), or its error."""


class TripRolledBack(Exception):
    """The database rolled back a whole trip: no run in it was stored."""


def _store_run(run: AgentRun, items: Items) -> list[int | None]:
    """A run's events, in order (`rows.store_events`); the steps' ids."""
    with connection.cursor() as cursor:
        return rows.store_events(cursor, run, items)


_RUN_ERRORS = (IntegrityError, DataError, ValueError)
"""Errors that are one run's own (its data); anything else is the connection's."""


def _store_many(batches: Sequence[tuple[AgentRun, Items]]) -> list[Outcome]:
    """One transaction for all waiting runs; per run its step ids or its own error."""
    if len(batches) == 1:  # the run's own transaction (none around PG's one statement)
        run, items = batches[0]
        with rows.atomic_unless_one_statement():
            return [_store_run(run, items)]
    outcomes: list[Outcome] = []
    with transaction.atomic():
        for run, items in batches:
            try:
                with transaction.atomic():  # a savepoint: a failing run rolls back alone
                    outcomes.append(_store_run(run, items))
            except _RUN_ERRORS as exc:  # reported to that run's writer alone
                outcomes.append(exc)
        conn = transaction.get_connection()
        if conn.needs_rollback or conn.closed_in_transaction:
            raise TripRolledBack("the database rolled back this write")
    return outcomes


Call = Callable[[], Any]
Result = tuple[bool, Any]
"""(True, value) or (False, the exception raised)."""


@database_sync_to_async
def _trip(
    batches: Sequence[tuple[AgentRun, Items]], calls: Sequence[Call]
) -> tuple[list[Outcome], list[Result]]:
    """The runs' waiting steps, committed; then the waiting calls, each on its own."""
    outcomes: list[Outcome] = []
    if batches:
        try:
            outcomes = _store_many(batches)
        except Exception as exc:  # the whole write failed: every run in it hears it
            outcomes = [exc] * len(batches)
            connection.close_if_unusable_or_obsolete()  # the calls below reconnect if need be
    results: list[Result] = []
    for call in calls:
        try:
            results.append((True, call()))
        except Exception as exc:  # the caller's own error, raised where it waits
            results.append((False, exc))
    return outcomes, results


class StepWriter:
    """Collects runs' batches (and calls) while a trip is under way; each caller waits for
    its own."""

    def __init__(self) -> None:
        self._waiting: list[tuple[AgentRun, Items, asyncio.Future[list[int | None]]]] = []
        self._calls: list[tuple[Call, asyncio.Future[Any]]] = []
        self._busy = False

    async def store(self, run: AgentRun, items: Items) -> list[int | None]:
        """Store a run's items; their step ids once committed, or the error that lost them."""
        future: asyncio.Future[list[int | None]] = asyncio.get_running_loop().create_future()
        self._waiting.append((run, items, future))
        self._start()
        return await future

    async def call(self, function: Call) -> Any:
        """`function()` on Django's database thread, in the next trip, after the steps stored
        in it are committed: a tool's write rides with the steps before it (one hop for both
        instead of two). It runs outside their transaction, in autocommit, as it would alone.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append((function, future))
        self._start()
        return await future

    def _start(self) -> None:
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._trips())

    async def _trips(self) -> None:
        try:
            # One turn of the loop first: the writers and tools woken by the same event
            # (several runs' steps, a run's steps and its tool) join this trip.
            await asyncio.sleep(0)
            while self._waiting or self._calls:
                batch, self._waiting = self._waiting, []
                calls, self._calls = self._calls, []
                outcomes: list[Outcome]
                results: list[Result]
                try:
                    outcomes, results = await _trip(
                        [(run, items) for run, items, _ in batch], [c for c, _ in calls]
                    )
                except Exception as exc:  # the trip never ran (e.g. the thread refused it)
                    outcomes, results = [exc] * len(batch), [(False, exc)] * len(calls)
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, not isinstance(outcome, BaseException), outcome)
                for (_, call_future), (ok, value) in zip(calls, results, strict=True):
                    _settle(call_future, ok, value)
        finally:
            self._busy = False


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StepWriter] = (
    weakref.WeakKeyDictionary()
)


def step_writer() -> StepWriter:
    """The writer of the running event loop (tests run several loops, one after another)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = StepWriter()
    return writer
