"""Conversation housekeeping and the task page: rename, delete, search, reuse, task detail.

Kept apart from `views.py` (the chat page and its route forms): these are the list
management a chat app needs so the sidebar stays short and findable.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import selectors, views


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponse:
    """Reuse an empty conversation with the same settings instead of adding another.

    A new conversation with other settings goes through `views.conversation_new` (which checks
    the route), and then the user's older empty conversations are dropped: the list never
    shows a pile of empty "New conversation" entries.
    """
    user = request.user
    route = request.POST.get("route", "")
    local_only = request.POST.get("local_only") == "1"
    empty = selectors.empty_conversations(user=user)  # type: ignore[arg-type]
    same = empty.filter(route=route, local_only=local_only).first()
    if same is not None:
        return HttpResponseRedirect(reverse("conversation", args=[same.pk]))
    response = views.conversation_new(request)
    created = selectors.conversation_list(user=user).order_by("-pk").first()  # type: ignore[arg-type]
    if response.status_code == 302 and created is not None:
        empty.exclude(pk=created.pk).delete()
    return response


@login_required
@require_POST
def conversation_rename(request: HttpRequest, conversation_id: int) -> HttpResponseRedirect:
    conv = selectors.conversation_get_or_404(user=request.user, conversation_id=conversation_id)  # type: ignore[arg-type]
    title = " ".join(request.POST.get("title", "").split())[:200]
    if title:
        conv.title = title
        conv.save(update_fields=["title", "updated_at"])
    return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))


@login_required
@require_POST
def conversation_delete(request: HttpRequest, conversation_id: int) -> HttpResponseRedirect:
    """Delete a conversation with its messages, runs and steps (the foreign keys cascade)."""
    conv = selectors.conversation_get_or_404(user=request.user, conversation_id=conversation_id)  # type: ignore[arg-type]
    if conv.runs.filter(status="running").exists():  # cancel it first: a run writes to it
        return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))
    conv.delete()
    return HttpResponseRedirect(reverse("chat"))


@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(user=request.user, task_id=task_id)  # type: ignore[arg-type]
    return render(request, "tasks/task_detail.html", {"task": task})
