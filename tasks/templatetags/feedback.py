"""`{% feedback_summary %}` on /stats/: ratings of the period's runs, and the dataset links.

A tag rather than view context so the stats view stays as it is: it reads the period and
scope the page already has, and counts through the same ownership gate (`runs_in_scope`).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Count, Q
from django.utils import timezone

from tasks import stats
from tasks.models_feedback import RunRating

register = template.Library()


@register.inclusion_tag("tasks/partials/stats_feedback.html", takes_context=True)
def feedback_summary(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    period = stats.parse_period(str(context.get("period") or ""))
    staff = bool(getattr(request.user, "is_staff", False))
    runs = stats.runs_in_scope(
        user=request.user,
        all_users=context.get("scope") == "all",
        since=stats.period_start(period, timezone.now()),
    )
    ratings = RunRating.objects.filter(run__in=runs)
    up, down = Count("id", filter=Q(verdict="up")), Count("id", filter=Q(verdict="down"))
    by = "run__answered_by"
    rows = ratings.values(by).annotate(up=up, down=down).order_by(by)
    return {
        "up": sum(r["up"] for r in rows),
        "down": sum(r["down"] for r in rows),
        "rows": list(rows),
        "staff": staff,
        "period": period,
    }
