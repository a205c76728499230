"""The feedback loop's pages: rate a run, save it as an eval case, the saved cases, the dataset.

Rating and saving are the run owner's (staff may look at any run, but a verdict or a case is
the word of the person who had the conversation). The dataset download is staff-only: it holds
every user's conversations, scrubbed of their names.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import dataset, saved_cases, stats
from .models import AgentRun
from .models_feedback import RunRating, SavedCase, Verdict


def _own_run(request: HttpRequest, run_id: int) -> AgentRun:
    run = AgentRun.objects.select_related("conversation").filter(pk=run_id).first()
    if run is None or run.conversation.owner_id != request.user.pk:
        raise Http404("No such run")
    return run


def _feedback(request: HttpRequest, run: AgentRun, **extra: object) -> HttpResponse:
    if not request.headers.get("HX-Request"):
        return redirect("conversation", conversation_id=run.conversation_id)
    return render(request, "tasks/partials/run_feedback.html", {"run": run, **extra})


@login_required
@require_POST
def run_rate(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _own_run(request, run_id)
    verdict = request.POST.get("verdict", "")
    if verdict not in Verdict.values:
        return HttpResponseBadRequest("verdict must be up or down")
    RunRating.objects.update_or_create(
        run=run,
        user_id=request.user.pk,
        defaults={"verdict": verdict, "comment": request.POST.get("comment", "").strip()[:2000]},
    )
    return _feedback(request, run)


@login_required
@require_POST
def run_save_case(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _own_run(request, run_id)
    if run.status == "running":
        return HttpResponseBadRequest("the run has not finished")
    case = saved_cases.save_run(run=run, owner=request.user)  # type: ignore[arg-type]
    return _feedback(request, run, saved=case)


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = SavedCase.objects.filter(owner_id=request.user.pk).prefetch_related("results")
    table = saved_cases.results_table(list(cases))
    return render(request, "tasks/saved_cases.html", {"table": table})


@login_required
def case_suite(request: HttpRequest) -> HttpResponse:
    """The user's saved cases as a suite file for `agent_eval`."""
    cases = SavedCase.objects.filter(owner_id=request.user.pk).order_by("created_at", "id")
    response = HttpResponse(saved_cases.suite_text(cases), content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="taskweb-saved-cases.jsonl"'
    return response


@login_required
def dataset_download(request: HttpRequest) -> HttpResponse:
    """`export_dataset` from /stats/: the period's runs of every user, staff only."""
    if not getattr(request.user, "is_staff", False):
        raise PermissionDenied("The dataset holds every user's conversations: staff only.")
    fmt = request.GET.get("format", "openai")
    if fmt not in dataset.FORMATS:
        raise Http404("No such format")
    period = stats.parse_period(request.GET.get("period"))
    options = dataset.Options(
        format=fmt,
        since=stats.period_start(period, timezone.now()),
        profile=request.GET.get("profile") or None,
        rated_only=request.GET.get("rated_only") == "1",
        exclude_errors=request.GET.get("exclude_errors") == "1",
    )
    summary = dataset.Summary()
    body = "".join(dataset.export_lines(dataset.runs_for(options), options, summary))
    response = HttpResponse(body, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="taskweb-{fmt}-{period}.jsonl"'
    response["X-Dataset-Summary"] = summary.describe().encode("ascii", "replace").decode()
    return response
