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
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence

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


@database_sync_to_async
def _store_many(batches: Sequence[tuple[AgentRun, Items]]) -> list[Outcome]:
    """One transaction for all waiting runs; per run its step ids or its own error."""
    outcomes: list[Outcome] = []
    with transaction.atomic():
        if len(batches) == 1:  # the transaction is the run's own: no savepoint to pay for
            run, items = batches[0]
            return [_store_run(run, items)]
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


class StepWriter:
    """Collects runs' batches while a trip is under way; each caller waits for its own."""

    def __init__(self) -> None:
        self._waiting: list[tuple[AgentRun, Items, asyncio.Future[list[int | None]]]] = []
        self._busy = False

    async def store(self, run: AgentRun, items: Items) -> list[int | None]:
        """Store a run's items; their step ids once committed, or the error that lost them."""
        future: asyncio.Future[list[int | None]] = asyncio.get_running_loop().create_future()
        self._waiting.append((run, items, future))
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._trips())
        return await future

    async def _trips(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                outcomes: list[Outcome]
                try:
                    outcomes = await _store_many([(run, items) for run, items, _ in batch])
                except Exception as exc:  # the whole trip failed: every run in it hears it
                    outcomes = [exc] * len(batch)
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._busy = False


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
