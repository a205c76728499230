"""The admin: task filters, search and actions; runs and steps read-only."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from tasks.models import AgentRun, RunStep, Task
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_task_changelist_filters_and_searches(staff, alice):
    Task.objects.create(owner=alice, title="Pay invoices", priority="high")
    Task.objects.create(owner=alice, title="Book flights", status="done")
    page = staff.get("/admin/tasks/task/?status__exact=open&q=invoices").content.decode()
    assert "Pay invoices" in page and "Book flights" not in page
    page = staff.get("/admin/tasks/task/?priority__exact=high").content.decode()
    assert "Pay invoices" in page
    assert staff.get("/admin/tasks/task/?due_date__gte=2026-01-01").status_code == 200


def test_complete_and_reopen_actions_change_tasks_and_are_audited(staff, alice, admin_user):
    task = Task.objects.create(owner=alice, title="Pay invoices")
    staff.post("/admin/tasks/task/", {"action": "complete", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == "done" and task.completed_at is not None
    staff.post("/admin/tasks/task/", {"action": "reopen", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == "open" and task.completed_at is None
    entries = LogEntry.objects.filter(object_id=str(task.pk)).order_by("action_time")
    assert [e.user_id for e in entries] == [admin_user.pk, admin_user.pk]
    assert "done" in entries[0].change_message and "open" in entries[1].change_message


def test_runs_and_steps_are_read_only(staff, alice):
    conv = conversation_create(user=alice, route="builtin")
    run = AgentRun.objects.create(conversation=conv, route="builtin", status="completed")
    step = RunStep.objects.create(run=run, seq=1, type="run_started", ts=run.started_at)
    page = staff.get(f"/admin/tasks/agentrun/{run.pk}/change/").content.decode()
    assert "run_started" in page
    assert 'name="_save"' not in page
    assert staff.post(f"/admin/tasks/runstep/{step.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RunStep.objects.filter(pk=step.pk).exists()
    assert staff.get("/admin/tasks/agentrun/add/").status_code == 403


def test_conversations_show_their_messages(staff, alice):
    from tasks.services import user_message_create

    conv = conversation_create(user=alice, route="builtin")
    user_message_create(conversation=conv, text="hello there")
    page = staff.get(f"/admin/tasks/conversation/{conv.pk}/change/").content.decode()
    assert "hello there" in page


def test_backend_profiles_are_seeded_and_keys_are_named_not_stored(staff):
    page = staff.get("/admin/tasks/backendprofile/").content.decode()
    for name in ("ollama-local", "litellm-proxy", "openai-cloud", "builtin"):
        assert name in page
    from tasks.models import BackendProfile

    cloud = BackendProfile.objects.get(name="openai-cloud")
    assert cloud.api_key_env == "OPENAI_API_KEY" and cloud.locality == "cloud"
    assert str(cloud.price_in_per_mtok) == "0.1500"


def profile_form(**changes) -> dict:
    form = {
        "name": "tiny", "kind": "openai_compat", "base_url": "http://127.0.0.1:4000/v1",
        "model": "task-api-model", "api_key_env": "OPENAI_API_KEY", "connect_timeout": "3",
        "first_token_timeout": "30", "total_timeout": "300", "idle_timeout": "30", "locality": "local",
        "price_in_per_mtok": "0", "price_out_per_mtok": "0", "tool_choice": "", "enabled": "on",
    }  # fmt: skip
    return {**form, **changes}


def test_a_profiles_tool_choice_is_checked_in_the_admin_and_reaches_its_backend(staff):
    from tasks.backend_routes import profile_config
    from tasks.models import BackendProfile

    refused = staff.post(
        "/admin/tasks/backendprofile/add/", profile_form(kind="ollama", tool_choice="create_task")
    )
    assert refused.status_code == 200
    assert "ollama backends take no tool_choice" in refused.content.decode()
    assert not BackendProfile.objects.filter(name="tiny").exists()

    saved = staff.post("/admin/tasks/backendprofile/add/", profile_form(tool_choice="create_task"))
    assert saved.status_code == 302
    config = profile_config(BackendProfile.objects.get(name="tiny"))
    assert config.tool_choice == "create_task"
    assert config.spec().endswith("#tool_choice=create_task")
