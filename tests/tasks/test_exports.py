"""Exports of runs and steps: exactly the user's own, for the chosen period, CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from agentcore.backends.base import BackendInfo
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.exports import STEP_HEADER, _cell
from tasks.models import AgentRun, RunStep
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)


async def _ignore(event) -> None:
    return None


def run_turn(user, route: str, text: str = "add buy milk"):
    conversation = conversation_create(user=user, route=route)
    return async_to_sync(execute_run)(conversation, text, publish=_ignore)


@pytest.fixture
def traffic(alice, bob, scripted_route):
    """Two recent runs and one 10-day-old run for alice, one run for bob."""

    def backend():
        call = ToolCall(id="c1", name="create_task", arguments={"title": "Buy milk"})
        return scripted_route(
            ScriptedBackend(
                [call, "Added."], info=BackendInfo(name="exp", kind="scripted", model="m")
            )
        )

    recent = [run_turn(alice, backend()).pk for _ in range(2)]
    old = run_turn(alice, backend()).pk
    AgentRun.objects.filter(pk=old).update(started_at=timezone.now() - dt.timedelta(days=10))
    bobs = run_turn(bob, backend()).pk
    return {"recent": recent, "old": old, "bob": bobs}


def download(client, path):
    response = client.get(path)
    assert response.status_code == 200
    if response.streaming:
        return response, b"".join(response.streaming_content).decode()
    return response, response.content.decode()


def test_runs_csv_holds_exactly_the_users_runs_of_the_period(alice, client, traffic):
    client.force_login(alice)
    response, body = download(client, "/export/runs.csv?period=7d")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(int(r["id"]) for r in rows) == sorted(traffic["recent"])
    assert {r["owner"] for r in rows} == {"alice"}
    assert {r["status"] for r in rows} == {"completed"}
    _, body = download(client, "/export/runs.csv?period=30d")
    ids = {int(r["id"]) for r in csv.DictReader(io.StringIO(body))}
    assert ids == {*traffic["recent"], traffic["old"]}


def test_steps_json_holds_every_step_of_exactly_those_runs(alice, client, traffic):
    client.force_login(alice)
    _, body = download(client, "/export/steps.json?period=7d")
    data = json.loads(body)
    assert data["period"] == "7d"
    stored = RunStep.objects.filter(run_id__in=traffic["recent"])
    assert sorted(s["id"] for s in data["steps"]) == sorted(stored.values_list("id", flat=True))
    response = next(s for s in data["steps"] if s["type"] == "model_response")
    assert {"duration_ms", "ttft_ms", "input_tokens", "output_tokens", "cost"} <= set(response)
    assert isinstance(response["payload"], dict)


def test_steps_csv_and_runs_json_agree_with_the_other_formats(alice, client, traffic):
    client.force_login(alice)
    _, steps_csv = download(client, "/export/steps.csv?period=all")
    rows = list(csv.DictReader(io.StringIO(steps_csv)))
    runs_of_alice = {*traffic["recent"], traffic["old"]}
    assert {int(r["run_id"]) for r in rows} == runs_of_alice
    assert len(rows) == RunStep.objects.filter(run_id__in=runs_of_alice).count()
    assert json.loads(rows[0]["payload"]) is not None
    _, runs_json = download(client, "/export/runs.json?period=all")
    assert {r["id"] for r in json.loads(runs_json)["runs"]} == runs_of_alice


def test_bob_exports_only_his_run_and_staff_export_everyones(
    bob, client, traffic, django_user_model
):
    client.force_login(bob)
    _, body = download(client, "/export/runs.json?period=all")
    assert [r["id"] for r in json.loads(body)["runs"]] == [traffic["bob"]]
    staff = django_user_model.objects.create_user("carol", password="pw-123456!", is_staff=True)
    client.force_login(staff)
    _, body = download(client, "/export/runs.json?period=all")
    assert len(json.loads(body)["runs"]) == 4
    _, body = download(client, "/export/runs.json?period=all&scope=mine")
    assert json.loads(body)["runs"] == []


def test_an_empty_period_exports_no_rows(bob, client):
    client.force_login(bob)
    _, body = download(client, "/export/steps.csv?period=24h")
    assert body.splitlines() == [",".join(f'"{name}"' for name in STEP_HEADER)]
    _, body = download(client, "/export/steps.json?period=24h")
    assert json.loads(body)["steps"] == []


def test_unknown_exports_are_not_found_and_anonymous_users_are_sent_to_login(alice, client):
    assert client.get("/export/runs.csv")["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    assert client.get("/export/tasks.csv").status_code == 404
    assert client.get("/export/runs.xml").status_code == 404


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_defused():
    assert _cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("plain") == "plain"
    assert _cell(-3) == -3
