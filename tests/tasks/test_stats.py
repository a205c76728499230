"""Accounting from each protocol's usage, the per-profile figures, and the stats pages.

Runs are real turns through `tasks.runner.execute_run`: the figures come from the same
accounting path the trace uses, against the loopback ScriptedServer where a protocol matters.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from agentcore.backends.base import BackendInfo, UsageChunk
from agentcore.backends.ollama import OllamaBackend
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.errors import BackendUnavailable
from agentcore.messages import ToolCall
from agentcore.specs import Timeouts, parse_spec
from agentcore.testing import ScriptedBackend
from agentcore.testing.server import ScriptedServer
from tasks.models import BackendProfile, RunStep, Task
from tasks.runner import execute_run
from tasks.services import conversation_create
from tasks.stats import percentile, period_stats

pytestmark = pytest.mark.django_db(transaction=True)
QUICK = Timeouts(connect=1.0, first_token=2.0, total=5.0)


async def _ignore(event) -> None:
    return None


def run_turn(user, route: str, text: str = "add buy milk"):
    conversation = conversation_create(user=user, route=route)
    return async_to_sync(execute_run)(conversation, text, publish=_ignore)


def wire_backend(cls, spec: str, name: str, price_in="0", price_out="0"):
    config = replace(
        parse_spec(spec),
        name=name,
        timeouts=QUICK,
        price_in_per_mtok=Decimal(price_in),
        price_out_per_mtok=Decimal(price_out),
    )
    return cls.from_config(config)


def seed_profiles():
    """The seeded profiles (transactional tests flush the data migration's rows)."""
    BackendProfile.objects.update_or_create(
        name="openai-cloud",
        defaults={"kind": "openai_compat", "model": "gpt-4o-mini", "locality": "cloud",
                  "price_in_per_mtok": Decimal("0.15"), "price_out_per_mtok": Decimal("0.60")},
    )  # fmt: skip
    BackendProfile.objects.update_or_create(
        name="ollama-local", defaults={"kind": "ollama", "model": "task-api-model"}
    )


def model_steps(run):
    return list(RunStep.objects.filter(run=run, type="model_response").order_by("seq"))


def test_ollama_counts_and_durations_are_recorded_per_call_and_summed_per_run(
    alice, scripted_route
):
    durations = {"total_duration": 2_000_000_000, "eval_duration": 500_000_000}
    script = [["Hello there", UsageChunk(20, 5, details=durations)]]
    with ScriptedServer(script) as server:
        backend = wire_backend(
            OllamaBackend, f"ollama:task-api-model@{server.url}", "ollama-test", "1", "2"
        )
        run = run_turn(alice, scripted_route(backend))
    [step] = model_steps(run)
    assert (step.input_tokens, step.output_tokens) == (20, 5)
    assert step.payload["tokens_estimated"] is False
    assert step.payload["usage_details"]["total_s"] == 2.0
    assert step.payload["usage_details"]["eval_s"] == 0.5
    assert step.cost == Decimal("0.00003")  # (20 x $1 + 5 x $2) / 1M
    assert step.duration_ms is not None and step.ttft_ms is not None
    run.refresh_from_db()
    assert (run.input_tokens, run.output_tokens, run.cost) == (20, 5, Decimal("0.00003"))
    figures = period_stats(user=alice, period="24h")
    row = figures.profiles["ollama-test"]
    assert (row.requests, row.input_tokens, row.output_tokens) == (1, 20, 5)
    assert row.cost == Decimal("0.00003") and row.estimated_requests == 0
    assert row.latency_ms == [step.duration_ms] and row.ttft_ms == [step.ttft_ms]


def test_openai_usage_block_is_recorded_and_priced(alice, scripted_route):
    call = ToolCall(id="call_1", name="create_task", arguments={"title": "Buy milk"})
    script = [[call, UsageChunk(30, 7)], ["Added.", UsageChunk(50, 3)]]
    with ScriptedServer(script) as server:
        backend = wire_backend(
            OpenAICompatBackend, f"openai_compat:gpt-4o-mini@{server.url}/v1", "openai-test",
            "0.15", "0.60",
        )  # fmt: skip
        run = run_turn(alice, scripted_route(backend))
    assert server.chat_requests[0].body["stream_options"] == {"include_usage": True}
    first, second = model_steps(run)
    assert (first.input_tokens, first.output_tokens, first.cost) == (30, 7, Decimal("0.0000087"))
    assert (second.input_tokens, second.output_tokens) == (50, 3)
    assert not first.payload["tokens_estimated"] and not second.payload["tokens_estimated"]
    row = period_stats(user=alice, period="24h").profiles["openai-test"]
    assert (row.requests, row.input_tokens, row.output_tokens) == (2, 80, 10)
    assert row.cost == first.cost + second.cost
    assert (row.tool_calls, row.tool_errors) == (1, 0)


def test_a_server_that_reports_no_usage_gets_estimated_tokens_marked_as_such(
    alice, client, scripted_route
):
    with ScriptedServer(["Here is a fairly long answer."], report_usage=False) as server:
        backend = wire_backend(
            OpenAICompatBackend, f"openai_compat:m@{server.url}/v1", "silent-server", "1", "1"
        )
        run = run_turn(alice, scripted_route(backend))
    [step] = model_steps(run)
    assert step.payload["tokens_estimated"] is True
    assert step.input_tokens > 0 and step.output_tokens > 0
    row = period_stats(user=alice, period="24h").profiles["silent-server"]
    assert row.estimated_requests == row.requests == 1
    client.force_login(alice)
    page = client.get("/stats/?period=24h").content.decode()
    assert "(est.)" in page


def test_fallback_rate_counts_runs_in_which_a_profile_fell_back_over_runs_that_tried_it(
    alice, scripted_route
):
    down = ScriptedBackend(
        lambda request, info: BackendUnavailable("refused", backend="flaky"),
        info=BackendInfo(name="flaky", kind="scripted", model="m"),
    )
    good = ScriptedBackend(
        lambda request, info: "ok", info=BackendInfo(name="steady", kind="scripted", model="m")
    )
    route = f"{scripted_route(down)},{scripted_route(good)}"
    for _ in range(2):
        run_turn(alice, route)
    only_good = ScriptedBackend(
        lambda request, info: "ok", info=BackendInfo(name="steady", kind="scripted", model="m")
    )
    run_turn(alice, scripted_route(only_good))
    figures = period_stats(user=alice, period="24h")
    flaky, steady = figures.profiles["flaky"], figures.profiles["steady"]
    assert (len(flaky.runs_fell_back), len(flaky.runs_attempted)) == (2, 2)
    assert flaky.fallback_rate == 1.0 and flaky.requests == 0
    assert steady.fallback_rate == 0.0 and steady.requests == 3
    assert figures.series["fallback"]["flaky"][-1] == 1.0


def test_tool_call_error_rate_is_invalid_calls_over_all_calls_and_rejections_do_not_count(
    alice, scripted_route
):
    invalid = ToolCall(id="c1", name="create_task", arguments={"priority": "urgent"})
    valid = ToolCall(id="c2", name="create_task", arguments={"title": "Buy milk"})
    old = Task.objects.create(owner=alice, title="Old")  # a card is asked only for a real task
    rejected = ToolCall(id="c3", name="delete_task", arguments={"task_id": old.pk})
    backend = ScriptedBackend(
        [[invalid, valid], [rejected], "Done."],
        info=BackendInfo(name="clumsy", kind="scripted", model="m"),
        usage=(10, 2),
    )
    run = run_turn(alice, scripted_route(backend))
    results = RunStep.objects.filter(run=run, type="tool_result").order_by("seq")
    assert [bool(s.payload["error"]) for s in results] == [True, False, True]
    row = period_stats(user=alice, period="24h").profiles["clumsy"]
    assert (row.tool_errors, row.tool_calls) == (1, 3)
    assert row.tool_error_rate == pytest.approx(1 / 3)


def test_percentiles_interpolate_between_closest_ranks():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_stats_figures_match_the_stored_steps_of_the_period(alice, scripted_route):
    backend = ScriptedBackend(
        lambda request, info: "ok",
        info=BackendInfo(
            name="priced",
            kind="scripted",
            model="m",
            price_in_per_mtok=Decimal("0.15"),
            price_out_per_mtok=Decimal("0.60"),
        ),
        usage=(500, 200),
    )
    route = scripted_route(backend)
    for _ in range(3):
        run_turn(alice, route)
    steps = RunStep.objects.filter(type="model_response", backend="priced")
    figures = period_stats(user=alice, period="7d")
    row = figures.profiles["priced"]
    assert row.requests == steps.count() == 3
    assert row.cost == sum(s.cost for s in steps) == Decimal("0.000585")
    assert sorted(row.latency_ms) == sorted(s.duration_ms for s in steps)
    assert figures.statuses == {"completed": 3}
    assert row.status_counts == [("completed", 3)]
    assert sum(figures.histogram["counts"]["priced"]) == 3
    assert sum(figures.series["cost"]["priced"]) == pytest.approx(0.000585)


def test_the_stats_page_renders_figures_plots_and_a_projection_for_a_user_with_data(
    alice, client, scripted_route
):
    backend = ScriptedBackend(
        lambda request, info: "ok",
        info=BackendInfo(name="local-model", kind="scripted", model="m"),
        usage=(400, 100),
    )
    run_turn(alice, scripted_route(backend))
    client.force_login(alice)
    response = client.get("/stats/?period=24h")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-profile="local-model"' in page
    plots = json.loads(
        page.split('id="stats-data" type="application/json">')[1].split("</script>")[0]
    )
    assert plots["histogram"]["counts"]["local-model"]
    for canvas in ("plot-latency", "plot-cost", "plot-fallback"):
        assert f'id="{canvas}"' in page
    assert 'id="projection-results"' in page
    assert response.context["form"]["avg_in"].value() == "400.0"
    assert response.context["form"]["requests"].value() == "30"  # one run in 24 h, x 30
    assert "<script>" not in page.split("</head>")[1].replace(
        '<script id="stats-data" type="application/json">', ""
    )


def test_the_stats_page_renders_for_a_user_with_no_runs_and_projects_the_example(bob, client):
    seed_profiles()
    client.force_login(bob)
    response = client.get("/stats/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "No runs in this period yet" in page
    assert 'id="stats-data"' not in page
    openai = response.context["projection"]["costs"]
    by_name = {c.price.name: c.total for c in openai}
    assert by_name["openai-cloud"] == Decimal("9.75")  # the seeded gpt-4o-mini profile
    assert response.context["projection"]["hybrid"].total == Decimal("0.975")


def test_a_submitted_projection_is_computed_on_the_server_with_hardware(bob, client):
    seed_profiles()
    client.force_login(bob)
    query = {
        "requests": "50000", "avg_in": "500", "avg_out": "200", "compare": ["openai-cloud"],
        "custom": "ollama-local", "foundation": "openai-cloud", "fallback_pct": "10",
        "hardware": "120",
    }  # fmt: skip
    response = client.get("/stats/", query)
    projection = response.context["projection"]
    assert [c.total for c in projection["costs"]] == [Decimal("9.75")]
    assert projection["hybrid"].total == Decimal("120.975")
    page = response.content.decode()
    assert "$9.75" in page and "$120.975" in page


def test_an_invalid_projection_shows_errors_instead_of_figures(bob, client):
    client.force_login(bob)
    response = client.get("/stats/", {"requests": "-5", "avg_in": "x", "avg_out": "1"})
    assert response.status_code == 200
    assert response.context["projection"] is None
    assert response.context["form"].errors


def test_bob_sees_none_of_alices_figures_and_staff_sees_all(
    alice, bob, client, scripted_route, django_user_model
):
    backend = ScriptedBackend(
        lambda request, info: "ok",
        info=BackendInfo(name="alices-model", kind="scripted", model="m"),
    )
    run = run_turn(alice, scripted_route(backend))
    client.force_login(bob)
    page = client.get("/stats/?period=all").content.decode()
    assert "alices-model" not in page
    assert period_stats(user=bob, period="all", all_users=True).runs == 0  # not staff
    assert client.get(f"/runs/{run.pk}/").status_code == 404
    staff = django_user_model.objects.create_user("carol", password="pw-123456!", is_staff=True)
    client.force_login(staff)
    assert 'data-profile="alices-model"' in client.get("/stats/?period=all").content.decode()
    mine = client.get("/stats/?period=all&scope=mine").content.decode()
    assert 'data-profile="alices-model"' not in mine
    assert client.get(f"/runs/{run.pk}/").status_code == 200


def test_the_stats_page_needs_a_login(client):
    response = client.get("/stats/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_run_timeline_draws_model_calls_tool_calls_and_fallbacks_with_hostile_text_escaped(
    alice, client, scripted_route
):
    hostile = "<img src=x onerror=alert(1)>"
    down = ScriptedBackend(
        lambda request, info: BackendUnavailable(hostile, backend="flaky"),
        info=BackendInfo(name="flaky", kind="scripted", model="m"),
    )
    call = ToolCall(id="c1", name="create_task", arguments={"title": hostile})
    good = ScriptedBackend(
        [call, "Added."], info=BackendInfo(name="steady", kind="scripted", model="m"), usage=(9, 4)
    )
    run = run_turn(alice, f"{scripted_route(down)},{scripted_route(good)}")
    client.force_login(alice)
    response = client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    kinds = [bar.kind for bar in response.context["bars"]]
    assert kinds[0] == "run"
    answers = [bar for bar in response.context["bars"] if bar.kind == "model" and not bar.failed]
    attempts = [bar for bar in response.context["bars"] if bar.kind == "model" and bar.failed]
    assert len(answers) == 2 and kinds.count("tool") == 1
    assert attempts and {bar.backend for bar in attempts} == {"flaky"}  # its own time, its bar
    assert kinds.count("fallback") == 2  # a fallback, then a skip once the breaker opened
    model = answers[0]
    assert model.end_ms - model.start_ms == pytest.approx(
        RunStep.objects.get(run=run, seq=model.seq).duration_ms
    )
    assert (model.input_tokens, model.output_tokens) == (9, 4)
    page = response.content.decode()
    assert 'id="plot-waterfall"' in page and 'id="timeline-data"' in page
    assert hostile not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_staff_reach_a_runs_timeline_from_the_admin(
    alice, client, scripted_route, django_user_model
):
    run = run_turn(alice, scripted_route(ScriptedBackend(["ok"])))
    admin = django_user_model.objects.create_superuser("root", password="pw-123456!")
    client.force_login(admin)
    page = client.get("/admin/tasks/agentrun/").content.decode()
    assert f'href="/runs/{run.pk}/"' in page
