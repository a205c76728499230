"""Process heartbeats, and closing the runs of a process that stopped (sync ORM code).

Every server process beats (`Worker.seen_at`) while it lives. A run whose process is gone —
its pid dead on this host, or its heartbeat silent for `TASKWEB_WORKER_STALE_S` on any host —
is closed as `interrupted` by whichever process notices first: its open tool calls answered,
a note in the conversation, and `error` + `run_finished` steps that a page catching up on
reconnect renders, so an open page learns of it without a reload.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import replace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from agentcore.events import Event, EventFactory, Failed, RunFinished
from agentcore.messages import Message as CoreMessage

from . import rows, services
from .models import AgentRun, RunStatus, RunStep, Worker

INTERRUPTED_NOTE = "This run was interrupted because the server stopped. Please send it again."


def beat(name: str, control_channel: str = "") -> None:
    """Record that process `name` is alive (and where its run controls reach it)."""
    now = timezone.now()
    updated = Worker.objects.filter(name=name).update(seen_at=now, control_channel=control_channel)
    if not updated:
        Worker.objects.update_or_create(
            name=name, defaults={"seen_at": now, "control_channel": control_channel}
        )


def forget(name: str) -> None:
    Worker.objects.filter(name=name).delete()


def control_channel_of(worker: str) -> str:
    return (
        Worker.objects.filter(name=worker).values_list("control_channel", flat=True).first() or ""
    )


def _pid_gone(worker: str) -> bool | None:
    """True/False for a worker of this host (its pid dead or alive); None for another host."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_gone(worker: str, *, me: str, any_host: bool = False) -> bool:
    """Whether the process that runs a run no longer owns it."""
    if worker == me:
        return False
    if any_host:
        return True
    gone = _pid_gone(worker)
    if gone:
        return True
    stale = timezone.now() - dt.timedelta(seconds=settings.TASKWEB_WORKER_STALE_S)
    seen = Worker.objects.filter(name=worker).values_list("seen_at", flat=True).first()
    if seen is None:
        # A process of this host with a live pid that never beat (a command, a test): alive.
        return gone is None
    return seen < stale


@transaction.atomic
def run_interrupt(run: AgentRun, *, reason: str, note: str = INTERRUPTED_NOTE) -> list[Event]:
    """Close a running run as interrupted, with steps; the stored events (to announce)."""
    locked = AgentRun.objects.select_for_update().filter(pk=run.pk, status=RunStatus.RUNNING)
    if not locked.exists():
        return []  # closed meanwhile by its owner or another process
    services.unanswered_calls_close(run=run, reason=reason)
    last = RunStep.objects.filter(run=run).aggregate(m=Max("seq"))["m"] or 0
    event = EventFactory(str(run.pk), start=last)
    events = [
        event(Failed(kind="interrupted", message=reason)),
        event(RunFinished(status="interrupted")),
    ]
    note_message = CoreMessage(role="assistant", content=note)
    with connection.cursor() as cursor:
        ids = rows.store_events(cursor, run, [(events[0], [note_message]), (events[1], [])])
    return [replace(e, step_id=step_id) for e, step_id in zip(events, ids, strict=True)]


def runs_interrupt_stale(
    *, me: str | None = None, any_host: bool = False
) -> list[tuple[AgentRun, list[Event]]]:
    """Close every running run whose process is gone; each with the events it stored."""
    me = me or services.WORKER
    closed = []
    for run in AgentRun.objects.filter(status=RunStatus.RUNNING):
        if not is_gone(run.worker, me=me, any_host=any_host):
            continue
        why = "the server stopped during this run"
        events = run_interrupt(run, reason=why)
        if events:
            closed.append((run, events))
    return closed
