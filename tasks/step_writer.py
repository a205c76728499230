"""Store the waiting events of every run of the process in one trip to the database.

Each run stores its events before publishing them (`runner.EventWriter`). With one trip per
run, 50 concurrent runs made 50 trips, each a transaction and a row-by-row insert per step,
all on Django's one sync thread: that thread was the bottleneck of 50 concurrent
conversations (py-spy on daphne: 37% of it in single-step inserts). Here the runs' batches
that queue up while a trip is under way go together in the next one: one transaction with a
savepoint per run, so that one run's failure stays its own, and each run's steps in one bulk
insert instead of one insert each.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence

from channels.db import database_sync_to_async
from django.db import transaction

from agentcore.events import Event
from agentcore.messages import Message as CoreMessage

from . import services
from .models import AgentRun, RunStep

Items = Sequence[tuple[Event, list[CoreMessage]]]


def _store_run(run: AgentRun, items: Items, steps: list[RunStep]) -> None:
    """A run's events, in order: new messages, abandoned text, step rows, run updates."""
    for event, new_messages in items:
        if new_messages:
            services.messages_append(run=run, messages=new_messages)
        if event.type == "fallback" and event.payload.get("notice") == "abandon":
            text = str(event.payload.get("abandoned_text") or "")
            if text:
                services.abandoned_text_record(run=run, text=text)
        if event.type != "token":  # not stored: the model_response step has the whole text
            steps.append(services.step_row(run=run, event=event))
            services.step_effects(run=run, event=event)


@database_sync_to_async
def _store_many(batches: Sequence[tuple[AgentRun, Items]]) -> list[BaseException | None]:
    """One transaction for all waiting runs; the error of each run, or None."""
    errors: list[BaseException | None] = []
    with transaction.atomic():
        for run, items in batches:
            steps: list[RunStep] = []
            try:
                with transaction.atomic():  # a savepoint: a failing run rolls back alone
                    _store_run(run, items, steps)
                    RunStep.objects.bulk_create(steps)
            except Exception as exc:  # reported to that run's writer alone
                errors.append(exc)
            else:
                errors.append(None)
    return errors


class StepWriter:
    """Collects runs' batches while a trip is under way; each caller waits for its own."""

    def __init__(self) -> None:
        self._waiting: list[tuple[AgentRun, Items, asyncio.Future[None]]] = []
        self._busy = False

    async def store(self, run: AgentRun, items: Items) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((run, items, future))
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._trips())
        await future

    async def _trips(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    errors = await _store_many([(run, items) for run, items, _ in batch])
                except Exception as exc:  # the whole trip failed: every waiting run hears it
                    errors = [exc] * len(batch)
                for (_, _, future), error in zip(batch, errors, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
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
