"""Ratings and saved eval cases: the owner rates and saves a run from the trace, the rating is
shown, counted and filterable, and a saved case replays the conversation from the tasks as they
were before it, on several backends side by side, with the latest result per backend listed."""

from __future__ import annotations

import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, RunRating, SavedCase, SavedCaseResult, Task
from tasks.runner import execute_run
from tasks.services import conversation_create
from tests.security.hostile_strings import assert_no_live_markup

pytestmark = pytest.mark.django_db(transaction=True)
HX = {"HTTP_HX_REQUEST": "true"}


async def _ignore(event) -> None:
    return None


async def _yes(call) -> bool:
    return True


def turn(conversation, text):
    return async_to_sync(execute_run)(conversation, text, publish=_ignore, approve=_yes)


@pytest.fixture
def conversation(alice):
    """Pay invoices exists; run 1 creates a task, run 2 completes Pay invoices, run 3 deletes it."""
    Task.objects.create(owner=alice, title="Pay invoices", priority="high", tags=["home"])
    conv = conversation_create(user=alice, route="builtin")
    turn(conv, "Create a task to review the marketing proposal by Friday")
    turn(conv, "Mark the task Pay invoices as done")
    turn(conv, "Delete the task Pay invoices")
    return conv


def runs(conv):
    return list(AgentRun.objects.filter(conversation=conv).order_by("id"))


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_the_owner_rates_a_run_and_the_trace_shows_it(alice, conversation):
    run = runs(conversation)[0]
    client = logged_in(alice)
    url = f"/runs/{run.pk}/rate/"
    response = client.post(url, {"verdict": "up", "comment": "exactly right"}, **HX)
    assert response.status_code == 200
    assert "Rated 👍: exactly right" in response.content.decode()
    client.post(url, {"verdict": "down", "comment": "wrong date"}, **HX)
    rating = RunRating.objects.get(run=run)
    assert (rating.verdict, rating.comment, rating.user) == ("down", "wrong date", alice)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert "Rated 👎: wrong date" in page
    assert f'hx-post="/runs/{run.pk}/rate/"' in page
    assert f'hx-post="/runs/{run.pk}/save-case/"' in page


def test_only_the_owner_may_rate_and_only_by_post_with_csrf(alice, bob, conversation):
    run = runs(conversation)[0]
    url = f"/runs/{run.pk}/rate/"
    assert logged_in(bob).post(url, {"verdict": "up"}, **HX).status_code == 404
    assert logged_in(alice).get(url).status_code == 405
    assert logged_in(alice).post(url, {"verdict": "meh"}, **HX).status_code == 400
    strict = logged_in(alice, enforce_csrf_checks=True)
    assert strict.post(url, {"verdict": "up"}, **HX).status_code == 403
    assert not RunRating.objects.exists()


def test_ratings_are_counted_on_stats_and_filterable_in_the_admin(
    alice, admin_client, conversation
):
    first, second, _ = runs(conversation)
    RunRating.objects.create(run=first, user=alice, verdict="up")
    RunRating.objects.create(run=second, user=alice, verdict="down", comment="slow")
    page = logged_in(alice).get("/stats/?period=7d").content.decode()
    assert "👍 1 · 👎 1" in page
    assert "dataset.jsonl" not in page  # the download is staff-only
    down = admin_client.get("/admin/tasks/runrating/?verdict__exact=down").content.decode()
    assert "slow" in down and f"run {first.pk}:" not in down
    assert "dataset.jsonl" in admin_client.get("/stats/?period=7d&scope=all").content.decode()


def test_the_dataset_download_is_for_staff(alice, admin_client, conversation):
    assert logged_in(alice).get("/stats/dataset.jsonl").status_code == 403
    response = admin_client.get("/stats/dataset.jsonl?format=openai&period=7d")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert len(lines) == 3 and "wrote 3 lines" in response["X-Dataset-Summary"]
    assert "alice" not in response.content.decode().lower()


def test_a_saved_case_starts_from_the_tasks_before_the_conversation(alice, conversation):
    first, second, _ = runs(conversation)
    response = logged_in(alice).post(f"/runs/{second.pk}/save-case/", **HX)
    assert f'Saved as <a href="/cases/#case-run-{second.pk}">' in response.content.decode()
    case = SavedCase.objects.get().case
    # Pay invoices is deleted by now; the case knows it as it was: open, high, tagged home.
    assert case["setup"] == [
        {"title": "Pay invoices", "priority": "high", "tags": ["home"], "status": "open"}
    ]
    assert case["turns"] == [
        "Create a task to review the marketing proposal by Friday",
        "Mark the task Pay invoices as done",
    ]
    assert case["expect"]["tools"] == ["create_task", "complete_task"]
    assert case["expect"]["forbid_tools"] == ["delete_task"]
    assert {"title": "Pay invoices", "status": "done"}.items() <= case["expect"]["tasks"][1].items()
    assert case["expect"]["task_count"] == 2
    clock = timezone.localtime(first.started_at).replace(tzinfo=None, microsecond=0)
    assert case["now"] == clock.isoformat()


def test_saved_cases_replay_side_by_side_and_the_page_lists_the_latest_results(
    alice, bob, conversation, scripted_route
):
    second, third = runs(conversation)[1:]
    client = logged_in(alice)
    client.post(f"/runs/{second.pk}/save-case/", **HX)
    client.post(f"/runs/{third.pk}/save-case/", **HX)
    chatty = scripted_route(ScriptedBackend(lambda request, info: "Sure, noted."))
    out = io.StringIO()
    call_command(
        "agent_eval", "--saved", "--backend", "builtin", "--backend", chatty, "--no-progress",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert "recorded 4 results of saved cases" in out.getvalue()
    results = {(r.case.case_id, r.backend): r.passed for r in SavedCaseResult.objects.all()}
    assert results == {
        (f"run-{second.pk}", "builtin"): True,
        (f"run-{third.pk}", "builtin"): True,
        (f"run-{second.pk}", chatty): False,
        (f"run-{third.pk}", chatty): False,
    }
    assert Task.objects.filter(owner=alice).count() == 1  # the replay touched a throw-away DB
    page = client.get("/cases/").content.decode()
    assert page.count(">pass<") == 2 and page.count(">fail<") == 2
    assert logged_in(bob).get("/cases/").content.decode().count(">pass<") == 0
    suite = client.get("/cases/suite.jsonl").content.decode().splitlines()
    assert [json.loads(x)["id"] for x in suite] == [f"run-{second.pk}", f"run-{third.pk}"]


def test_agent_eval_wants_a_suite_or_saved_but_not_both(tmp_path):
    with pytest.raises(CommandError, match="one of the two"):
        call_command("agent_eval", "--no-progress")


def test_a_hostile_comment_is_shown_as_text(alice, conversation):
    run = runs(conversation)[0]
    client = logged_in(alice)
    hostile = '<img src=x onerror=alert(1)>" hx-get="/pwn'
    response = client.post(f"/runs/{run.pk}/rate/", {"verdict": "down", "comment": hostile}, **HX)
    assert_no_live_markup(response.content.decode(), "rating answer")
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert_no_live_markup(page, "chat page")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
