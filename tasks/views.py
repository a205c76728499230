"""Pages: the chat (conversation list, transcript, trace, tasks) and its small forms."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agentcore.errors import ConfigError

from . import disclosure, rendering, selectors, services
from .backend_routes import check_route, circuit_states, default_route
from .chat_context import chat_extras
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
    context.update(chat_extras(request))
    if conv is not None:
        last = RunStep.objects.filter(run__conversation=conv).aggregate(m=Max("pk"))["m"]
        runs = selectors.runs_with_steps(conversation=conv)
        circuits = circuit_states(conv.route or default_route())
        if not disclosure.sees_detail(user):
            for run in runs:
                disclosure.redact_steps(run.steps.all(), user=user)
            circuits = [disclosure.public_breaker(c) for c in circuits]
        context.update(
            transcript=selectors.transcript(conversation=conv),
            runs=runs,
            last_step_id=last or 0,
            route_text=conv.route or default_route(),
            circuits=circuits,
            **rendering.live_state(conv),
        )
    return context


def _refused(request: HttpRequest, status: int, code: str, title: str, text: str) -> HttpResponse:
    back = request.headers.get("referer") or reverse("chat")
    if not back.startswith(request.build_absolute_uri("/")):
        back = reverse("chat")  # only ever a link back into this site
    context = {"code": code, "title": title, "text": text, "back": back}
    return render(request, "tasks/refused.html", context, status=status)


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponse:
    try:
        route = check_route(request.POST.get("route", ""), user=request.user)
    except ConfigError as exc:
        return _refused(request, 400, "bad_route", "That route cannot be used", str(exc))
    cap = settings.TASKWEB_MAX_NEW_CONVERSATIONS_PER_MINUTE
    if selectors.conversations_started_recently(user=request.user, seconds=60) >= cap:  # type: ignore[arg-type]
        text = (
            f"You started {cap} conversations in the last minute; wait a moment, "
            "or continue one of them."
        )
        return _refused(request, 429, "too_many_conversations", "Slow down", text)
    conv = services.conversation_create(
        user=request.user,  # type: ignore[arg-type]
        route=route,
        local_only=request.POST.get("local_only") == "1",
    )
    return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))


@login_required
@require_POST
def conversation_route(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conv = selectors.conversation_get_or_404(user=request.user, conversation_id=conversation_id)  # type: ignore[arg-type]
    try:
        conv.route = check_route(request.POST.get("route", ""), user=request.user)
    except ConfigError as exc:
        return _refused(request, 400, "bad_route", "That route cannot be used", str(exc))
    conv.local_only = request.POST.get("local_only") == "1"
    conv.save(update_fields=["route", "local_only", "updated_at"])
    return HttpResponseRedirect(reverse("conversation", args=[conv.pk]))


@login_required
def task_panel(request: HttpRequest) -> HttpResponse:
    tasks = selectors.task_list(user=request.user, status="all")  # type: ignore[arg-type]
    return render(request, "tasks/partials/task_panel.html", {"tasks": tasks})
