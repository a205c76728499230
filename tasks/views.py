"""Pages: the chat (conversation list, transcript, trace, tasks) and its small forms."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import rendering, selectors, services
from .backend_routes import circuit_states, default_route
from .models import BackendProfile, RunStep


def route_options() -> list[dict[str, str]]:
    """Routes a user can pick: the default, each enabled profile, and profile → builtin."""
    options = [{"value": "", "label": f"Default ({default_route()})"}]
    for profile in BackendProfile.objects.filter(enabled=True).order_by("name"):
        options.append({"value": profile.name, "label": f"{profile.name} ({profile.kind})"})
        if profile.kind != "builtin":
            chain = f"{profile.name},builtin"
            options.append({"value": chain, "label": f"{profile.name} → builtin"})
    if not any(o["value"] == "builtin" for o in options):
        options.append({"value": "builtin", "label": "builtin (offline engine)"})
    return options


@login_required
def chat(request: HttpRequest) -> HttpResponse:
    latest = selectors.conversation_list(user=request.user).first()  # type: ignore[arg-type]
    if latest is not None:
        return redirect("conversation", conversation_id=latest.pk)
    return render(request, "tasks/chat.html", _context(request, None))


@login_required
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conv = selectors.conversation_get_or_404(user=request.user, conversation_id=conversation_id)  # type: ignore[arg-type]
    return render(request, "tasks/chat.html", _context(request, conv))


def _context(request: HttpRequest, conv: Any) -> dict[str, Any]:
    user = request.user
    context: dict[str, Any] = {
        "conversation": conv,
        "conversations": selectors.conversation_list(user=user)[:50],  # type: ignore[arg-type]
        "tasks": selectors.task_list(user=user, status="all"),  # type: ignore[arg-type]
        "routes": route_options(),
    }
    if conv is not None:
        last = RunStep.objects.filter(run__conversation=conv).aggregate(m=Max("pk"))["m"]
        context.update(
            transcript=selectors.transcript(conversation=conv),
            runs=selectors.runs_with_steps(conversation=conv),
            last_step_id=last or 0,
            route_text=conv.route or default_route(),
            circuits=circuit_states(conv.route or default_route()),
            **rendering.live_state(conv),
        )
    return context


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponseRedirect:
    conv = services.conversation_create(
        user=request.user,  # type: ignore[arg-type]
        route=request.POST.get("route", "")[:500],
        local_only=request.POST.get("local_only") == "1",
    )
    return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))


@login_required
@require_POST
def conversation_route(request: HttpRequest, conversation_id: int) -> HttpResponseRedirect:
    conv = selectors.conversation_get_or_404(user=request.user, conversation_id=conversation_id)  # type: ignore[arg-type]
    conv.route = request.POST.get("route", "")[:500]
    conv.local_only = request.POST.get("local_only") == "1"
    conv.save(update_fields=["route", "local_only", "updated_at"])
    return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))


@login_required
def task_panel(request: HttpRequest) -> HttpResponse:
    tasks = selectors.task_list(user=request.user, status="all")  # type: ignore[arg-type]
    return render(request, "tasks/partials/task_panel.html", {"tasks": tasks})
