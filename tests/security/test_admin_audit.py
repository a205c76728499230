"""Admin changes to tasks land in Django's audit trail (LogEntry) with the user who made them."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from tasks.models import Task

pytestmark = pytest.mark.django_db


def entries_for(task_pk: int):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Task), object_id=str(task_pk)
    ).order_by("action_time", "pk")


@pytest.mark.parametrize(
    ("action", "before", "after"), [("complete", "open", "done"), ("reopen", "done", "open")]
)
def test_a_task_action_is_logged_with_the_admin_who_ran_it(
    admin_client, admin_user, alice, action, before, after
):
    tasks = [Task.objects.create(owner=alice, title=f"Task {n}", status=before) for n in range(2)]
    untouched = Task.objects.create(owner=alice, title="Not selected", status=before)
    response = admin_client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": action, "_selected_action": [t.pk for t in tasks]},
        follow=True,
    )
    assert response.status_code == 200
    for task in tasks:
        task.refresh_from_db()
        assert task.status == after
        [entry] = entries_for(task.pk)
        assert entry.user == admin_user
        assert entry.action_flag == CHANGE
        assert f"Set status to {after}" in entry.get_change_message()
    assert not entries_for(untouched.pk).exists()


def test_an_action_on_tasks_already_in_that_state_logs_nothing(admin_client, alice):
    task = Task.objects.create(owner=alice, title="Done already", status="done")
    admin_client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": "complete", "_selected_action": [task.pk]},
    )
    assert not entries_for(task.pk).exists()


def test_edits_through_the_change_form_are_logged_with_the_user(admin_client, admin_user, alice):
    task = Task.objects.create(owner=alice, title="Draft", priority="low")
    url = reverse("admin:tasks_task_change", args=[task.pk])
    form = {
        "owner": alice.pk,
        "title": "Final",
        "description": "",
        "priority": "high",
        "status": "open",
        "due_date": "",
        "tags": "[]",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    task.refresh_from_db()
    assert (task.title, task.priority) == ("Final", "high")
    [entry] = entries_for(task.pk)
    assert entry.user == admin_user and entry.action_flag == CHANGE
    assert "Title" in entry.get_change_message() and "Priority" in entry.get_change_message()


def test_adding_and_deleting_a_task_in_the_admin_are_logged(admin_client, admin_user, alice):
    admin_client.post(
        reverse("admin:tasks_task_add"),
        {"owner": alice.pk, "title": "Made in admin", "description": "", "priority": "medium",
         "status": "open", "due_date": "", "tags": "[]"},
    )  # fmt: skip
    task = Task.objects.get(title="Made in admin")
    admin_client.post(reverse("admin:tasks_task_delete", args=[task.pk]), {"post": "yes"})
    assert not Task.objects.filter(pk=task.pk).exists()
    flags = [(e.action_flag, e.user) for e in entries_for(task.pk)]
    assert flags == [(ADDITION, admin_user), (DELETION, admin_user)]
