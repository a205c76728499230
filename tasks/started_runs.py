"""Runs this process started, as their header and summary fragments need them.

The run service knows a run's row, its user message and the conversation's title when it
starts the run; rendering its run_started and run_finished fragments used to read all of
that back from the database, once per run per process, on the one thread Django gives the
database. `remember` keeps it here instead (in memory, bounded); `rendering` reads it, and
falls back to the database for runs it does not know: another process's, or any run after a
restart or once it has been evicted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

from .models import AgentRun, Message

MAX_REMEMBERED = 1024
"""More than the runs one process runs at once: an evicted run only costs a query. A run is
forgotten once its run_finished is rendered; runs no HTML tab watches stay until evicted
(each holds one user message, at most TASKWEB_MAX_MESSAGE_CHARS: a few MB at worst)."""


@dataclass(frozen=True)
class RunHeader:
    """A copy, not the live row: the runner updates its own `AgentRun` as the run goes."""

    pk: int
    started_at: dt.datetime
    message: Message | None
    conversation_pk: int
    title: str


_started: OrderedDict[int, RunHeader] = OrderedDict()


def remember(run: AgentRun) -> None:
    """Called by the run service once the run and its message are saved (no query: the
    message and conversation are the objects the run was created with)."""
    conversation = run.conversation
    _started[run.pk] = RunHeader(
        pk=run.pk,
        started_at=run.started_at,
        message=run.user_message,
        conversation_pk=conversation.pk,
        title=conversation.title,
    )
    while len(_started) > MAX_REMEMBERED:
        _started.popitem(last=False)


def recall(run_id: str, conversation_pk: int) -> RunHeader | None:
    """The run if this process started it in that conversation (ids of a recreated database
    repeat; a run is never another conversation's)."""
    try:
        started = _started.get(int(run_id))
    except ValueError:
        return None
    return started if started is not None and started.conversation_pk == conversation_pk else None


def forget(run_id: str) -> None:
    """Once its run_finished is rendered nothing else needs it (a later rendering of the
    same run, e.g. a reconnecting tab's catch-up, reads the database)."""
    with contextlib.suppress(ValueError):
        _started.pop(int(run_id), None)
