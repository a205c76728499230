"""Pages for cost and latency: /stats/ with its projection, the run timeline, the exports.

Every figure is read through `stats.runs_in_scope`/`steps_in_scope`, the one ownership gate
for numbers: a user sees only their own runs; staff see everyone's unless they ask for theirs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render

from . import disclosure, exports, projection, selectors, stats, timeline
from .models import BackendProfile

EXAMPLE = {"requests": 50_000, "avg_in": 500, "avg_out": 200}
"""Projection defaults for a user with no traffic yet (the figures of the brief)."""


class ProjectionForm(forms.Form):
    """A GET form: the projection is recomputed on the server for every submission."""

    period = forms.CharField(widget=forms.HiddenInput, required=False)
    scope = forms.CharField(widget=forms.HiddenInput, required=False)
    requests = forms.IntegerField(label="Requests per month", min_value=0, max_value=10**10)
    avg_in = forms.DecimalField(
        label="Avg input tokens / request", min_value=0, max_value=10**7, decimal_places=1
    )
    avg_out = forms.DecimalField(
        label="Avg output tokens / request", min_value=0, max_value=10**7, decimal_places=1
    )
    compare = forms.ModelMultipleChoiceField(
        label="Profiles to compare",
        queryset=BackendProfile.objects.order_by("name"),
        to_field_name="name",
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    custom = forms.ModelChoiceField(
        label="Custom model", queryset=BackendProfile.objects.order_by("name"),
        to_field_name="name", required=False,
    )  # fmt: skip
    foundation = forms.ModelChoiceField(
        label="Foundation fallback", queryset=BackendProfile.objects.order_by("name"),
        to_field_name="name", required=False,
    )  # fmt: skip
    fallback_pct = forms.DecimalField(
        label="Fallback rate (%)", min_value=0, max_value=100, decimal_places=2
    )
    hardware = forms.DecimalField(
        label="Hardware $ / month (local machine)", min_value=0, max_value=10**9, decimal_places=2
    )


def _price(profile: BackendProfile) -> projection.Price:
    return projection.Price(
        name=profile.name,
        model=profile.model,
        locality=profile.locality,
        price_in_per_mtok=profile.price_in_per_mtok,
        price_out_per_mtok=profile.price_out_per_mtok,
    )


def _initial(figures: stats.PeriodStats, profiles: list[BackendProfile]) -> dict[str, Any]:
    """Pre-fill the projection from the user's own traffic; the brief's example without any."""
    local = [p for p in profiles if p.locality == "local" and p.kind != "builtin"]
    by_traffic = sorted(
        local, key=lambda p: (-figures.profiles.get(p.name, _EMPTY).requests, p.kind != "ollama")
    )
    custom = by_traffic[0] if by_traffic else None
    foundation = next((p for p in profiles if p.locality == "cloud"), None)
    measured = figures.profiles.get(custom.name) if custom else None
    rate = measured.fallback_rate if measured else None
    initial: dict[str, Any] = {
        "period": figures.period,
        "compare": [p.name for p in profiles],
        "custom": custom.name if custom else None,
        "foundation": foundation.name if foundation else None,
        "fallback_pct": Decimal(str(round(rate * 100, 2))) if rate is not None else 10,
        "hardware": 0,
        **EXAMPLE,
    }
    if figures.runs:
        initial["requests"] = projection.per_month(figures.runs, figures.observed_days)
        initial["avg_in"] = round(Decimal(figures.input_tokens) / figures.runs, 1)
        initial["avg_out"] = round(Decimal(figures.output_tokens) / figures.runs, 1)
    return initial


_EMPTY = stats.ProfileStats(name="")


def _scope(request: HttpRequest) -> tuple[bool, str]:
    """(all_users, scope): staff see everyone's runs by default, others only their own."""
    staff = bool(getattr(request.user, "is_staff", False))
    scope = request.GET.get("scope") or ("all" if staff else "mine")
    return staff and scope == "all", scope if staff else "mine"


def _projection(form: ProjectionForm) -> dict[str, Any] | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    traffic = projection.Traffic(
        requests_per_month=data["requests"],
        avg_input_tokens=data["avg_in"],
        avg_output_tokens=data["avg_out"],
    )
    hardware = data["hardware"]
    result: dict[str, Any] = {
        "traffic": traffic,
        "costs": projection.profile_costs(
            [_price(p) for p in data["compare"]], traffic, hardware=hardware
        ),
        "hybrid": None,
    }
    if data["custom"] is not None and data["foundation"] is not None:
        result["hybrid"] = projection.hybrid_cost(
            custom=_price(data["custom"]),
            foundation=_price(data["foundation"]),
            traffic=traffic,
            fallback_rate=data["fallback_pct"] / 100,
            hardware=hardware,
        )
    return result


@login_required
def stats_page(request: HttpRequest) -> HttpResponse:
    period = stats.parse_period(request.GET.get("period"))
    all_users, scope = _scope(request)
    figures = stats.period_stats(user=request.user, period=period, all_users=all_users)  # type: ignore[arg-type]
    profiles = list(BackendProfile.objects.order_by("name"))
    initial = _initial(figures, profiles) | {"scope": scope}
    # Unsubmitted, the form is bound to its pre-filled values so the page shows a projection.
    data = request.GET.copy() if "requests" in request.GET else _as_data(initial)
    data["period"], data["scope"] = period, scope
    form = ProjectionForm(data=data)
    return render(
        request,
        "tasks/stats.html",
        {
            "figures": figures,
            "periods": list(stats.PERIODS),
            "period": period,
            "scope": scope,
            "form": form,
            "projection": _projection(form),
            "plots": {"histogram": figures.histogram, "series": figures.series},
            "max_runs": stats.MAX_RUNS,
        },
    )


def _as_data(initial: dict[str, Any]) -> QueryDict:
    """Initial values as form data, so the page shows the projection before any submit."""
    data = QueryDict(mutable=True)
    for key, value in initial.items():
        if value is None:
            continue
        if isinstance(value, list):
            data.setlist(key, [str(v) for v in value])
        else:
            data[key] = str(value)
    return data


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    steps = list(run.steps.order_by("seq"))
    if not disclosure.sees_detail(request.user):
        run.error = disclosure.public_run_error(run.error, steps)
        disclosure.redact_steps(steps, user=request.user)
    bars = timeline.run_timeline(run, steps)
    return render(
        request,
        "tasks/run_detail.html",
        {"run": run, "steps": steps, "bars": bars, "chart": timeline.chart_data(bars)},
    )


@login_required
def export(request: HttpRequest, what: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    """Runs or steps of a period as CSV or JSON: the same scope as the stats page."""
    period = stats.parse_period(request.GET.get("period"))
    all_users, _ = _scope(request)
    return exports.respond(
        user=request.user,  # type: ignore[arg-type]
        what=what,
        fmt=fmt,
        period=period,
        all_users=all_users,
    )
