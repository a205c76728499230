"""Reads, and the ownership gate: every query here is scoped to the requesting user."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, F, IntegerField, Max, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from .models import AgentRun, Conversation, Message, RunStep, Task


def conversation_list(*, user: AbstractBaseUser) -> QuerySet[Conversation]:
    return Conversation.objects.filter(owner_id=user.pk).order_by("-updated_at")


def conversations_started_recently(*, user: AbstractBaseUser, seconds: float) -> int:
    """How many conversations `user` started in the last `seconds`: a cap every process shares,
    since it is counted in the database."""
    since = timezone.now() - dt.timedelta(seconds=seconds)
    return Conversation.objects.filter(owner_id=user.pk, created_at__gte=since).count()


def conversation_for_user(
    *, user: AbstractBaseUser | AnonymousUser, conversation_id: int
) -> Conversation | None:
    """The conversation if `user` owns it; None for anyone else (no hint that it exists)."""
    if not user.is_authenticated:
        return None
    # The owner comes along: a socket's turns need it (rate key, tools) without a query each.
    return (
        Conversation.objects.select_related("owner")
        .filter(pk=conversation_id, owner_id=user.pk)
        .first()
    )


def conversation_get_or_404(*, user: AbstractBaseUser, conversation_id: int) -> Conversation:
    conversation = conversation_for_user(user=user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def transcript(*, conversation: Conversation) -> QuerySet[Message]:
    """Messages a person reads: user and assistant text, not tool plumbing."""
    return (
        conversation.messages.filter(role__in=["user", "assistant"])
        .exclude(role="assistant", content="", abandoned=False)
        .order_by("id")
    )


def runs_with_steps(*, conversation: Conversation) -> list[AgentRun]:
    runs = list(conversation.runs.order_by("started_at", "id").prefetch_related("steps"))
    return runs


def steps_after(*, conversation: Conversation, after_step_id: int) -> QuerySet[RunStep]:
    """Steps persisted after a client's last seen step: how a reconnecting page catches up."""
    return (
        RunStep.objects.filter(run__conversation=conversation, pk__gt=after_step_id)
        .select_related("run")
        .order_by("pk")
    )


def last_step_id(*, conversation: Conversation) -> int:
    """The id of the conversation's last stored step (0 without any)."""
    found = RunStep.objects.filter(run__conversation=conversation).aggregate(m=Max("pk"))["m"]
    return int(found or 0)


_PRIORITY_RANK = Case(
    When(priority="high", then=Value(0)),
    When(priority="medium", then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
_STATUS_RANK = Case(
    When(status="open", then=Value(0)), default=Value(1), output_field=IntegerField()
)


def task_list(*, user: AbstractBaseUser, status: str = "open") -> QuerySet[Task]:
    """The user's tasks as the panel lists them: open first, soonest due, highest priority."""
    tasks = Task.objects.filter(owner_id=user.pk)
    if status != "all":
        tasks = tasks.filter(status=status)
    return tasks.order_by(_STATUS_RANK, F("due_date").asc(nulls_last=True), _PRIORITY_RANK, "id")


def task_for_user(*, user: AbstractBaseUser, task_id: int) -> Task:
    task = Task.objects.filter(owner_id=user.pk, pk=task_id).first()
    if task is None:
        raise Http404("No such task")
    return task


def conversation_search(*, user: AbstractBaseUser, query: str) -> QuerySet[Conversation]:
    """The user's conversations whose title or messages contain `query`."""
    conversations = conversation_list(user=user)
    if not query:
        return conversations
    matching = Message.objects.filter(
        conversation__owner_id=user.pk, role__in=["user", "assistant"], content__icontains=query
    ).values("conversation_id")
    return conversations.filter(Q(title__icontains=query) | Q(pk__in=matching))


def empty_conversations(*, user: AbstractBaseUser) -> QuerySet[Conversation]:
    """Conversations nobody wrote in yet: a new one reuses them instead of piling up."""
    return conversation_list(user=user).filter(messages__isnull=True, runs__isnull=True)


def run_for_user(*, user: AbstractBaseUser, run_id: int) -> AgentRun:
    run = (
        AgentRun.objects.select_related("conversation")
        .filter(pk=run_id)
        .filter(conversation__owner_id=user.pk)
        .first()
    )
    if run is None and getattr(user, "is_staff", False):
        run = AgentRun.objects.select_related("conversation").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run")
    return run
