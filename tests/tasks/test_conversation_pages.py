"""Conversation housekeeping over HTTP: titles, rename, delete, search, reuse; task pages."""

from __future__ import annotations

import datetime as dt

import pytest

from tasks.models import AgentRun, Conversation, RunStep, Task
from tasks.services import conversation_create, user_message_create
from tasks.titles import short_title

pytestmark = pytest.mark.django_db


def test_a_first_message_names_the_conversation_in_a_few_words():
    assert short_title("hi") == "Hi"
    assert short_title("Please create a task to review the marketing proposal by Friday") == (
        "Create a task to review the…"
    )
    assert short_title("   \n") == "New conversation"
    assert len(short_title("x" * 500)) <= 49


def test_the_conversation_title_comes_from_its_first_message(alice):
    conv = conversation_create(user=alice)
    user_message_create(conversation=conv, text="Can you add a task to buy stamps tomorrow please")
    user_message_create(conversation=conv, text="And another one")
    conv.refresh_from_db()
    assert conv.title == "Add a task to buy stamps…"


def test_a_conversation_can_be_renamed_by_its_owner_only(client, alice, bob):
    conv = conversation_create(user=alice)
    client.force_login(bob)
    assert client.post(f"/c/{conv.pk}/rename/", {"title": "Mine now"}).status_code == 404
    client.force_login(alice)
    client.post(f"/c/{conv.pk}/rename/", {"title": "  Groceries   list "})
    conv.refresh_from_db()
    assert conv.title == "Groceries list"


def test_deleting_a_conversation_takes_its_runs_and_steps_with_it(client, alice, bob):
    conv = conversation_create(user=alice)
    message = user_message_create(conversation=conv, text="hello")
    run = AgentRun.objects.create(conversation=conv, user_message=message, route="builtin",
                                  status="completed")  # fmt: skip
    RunStep.objects.create(run=run, seq=1, type="run_started", ts=run.started_at)
    client.force_login(bob)
    assert client.post(f"/c/{conv.pk}/delete/").status_code == 404
    client.force_login(alice)
    response = client.post(f"/c/{conv.pk}/delete/")
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=conv.pk).exists()
    assert not AgentRun.objects.filter(pk=run.pk).exists()
    assert not RunStep.objects.filter(run_id=run.pk).exists()


def test_a_conversation_with_a_running_run_is_not_deleted(client, alice):
    conv = conversation_create(user=alice)
    message = user_message_create(conversation=conv, text="hello")
    AgentRun.objects.create(conversation=conv, user_message=message, route="builtin")
    client.force_login(alice)
    client.post(f"/c/{conv.pk}/delete/")
    assert Conversation.objects.filter(pk=conv.pk).exists()


def test_new_conversation_reuses_an_empty_one_instead_of_piling_up(client, alice):
    client.force_login(alice)
    first = client.post("/c/new/", {"route": "builtin"})["Location"]
    again = client.post("/c/new/", {"route": "builtin"})["Location"]
    assert first == again
    assert Conversation.objects.filter(owner=alice).count() == 1
    client.post("/c/new/", {"route": ""})  # other settings: a new one, the empty one goes
    assert Conversation.objects.filter(owner=alice).count() == 1
    used = Conversation.objects.get(owner=alice)
    user_message_create(conversation=used, text="keep me")
    client.post("/c/new/", {"route": ""})
    assert Conversation.objects.filter(owner=alice).count() == 2


def test_search_finds_conversations_by_title_and_by_what_was_said(client, alice, bob):
    plants = conversation_create(user=alice, title="Garden")
    user_message_create(conversation=plants, text="water the ficus on Monday")
    other = conversation_create(user=alice, title="Work")
    bobs = conversation_create(user=bob, title="ficus too")
    client.force_login(alice)
    page = client.get(f"/c/{other.pk}/", {"q": "ficus"}).content.decode()
    listed = page.split('id="conversation-list"', 1)[1].split("</ul>", 1)[0]
    assert f'id="conversation-{plants.pk}"' in listed
    assert f'id="conversation-{other.pk}"' not in listed
    assert f'id="conversation-{bobs.pk}"' not in listed


def test_the_task_panel_lists_open_tasks_first_by_due_date_then_priority(client, alice):
    today = dt.date.today()
    Task.objects.create(owner=alice, title="done-early", status="done", due_date=today)
    Task.objects.create(owner=alice, title="no-date-high", priority="high")
    Task.objects.create(owner=alice, title="later-low", priority="low",
                        due_date=today + dt.timedelta(days=3))  # fmt: skip
    Task.objects.create(owner=alice, title="later-high", priority="high",
                        due_date=today + dt.timedelta(days=3))  # fmt: skip
    Task.objects.create(owner=alice, title="soon-medium", due_date=today)
    client.force_login(alice)
    page = client.get("/tasks/panel/").content.decode()
    order = ["soon-medium", "later-high", "later-low", "no-date-high", "done-early"]
    positions = [page.index(title) for title in order]
    assert positions == sorted(positions)


def test_a_task_opens_on_its_own_page_for_its_owner_only(client, alice, bob):
    task = Task.objects.create(owner=alice, title="Call the plumber", description="Leaky tap",
                               due_date=dt.date(2030, 5, 17))  # fmt: skip
    client.force_login(alice)
    panel = client.get("/tasks/panel/").content.decode()
    assert f'href="/tasks/{task.pk}/"' in panel
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "Call the plumber" in page and "Leaky tap" in page and "17 May 2030" in page
    client.force_login(bob)
    assert client.get(f"/tasks/{task.pk}/").status_code == 404


def test_every_page_links_a_favicon_that_exists(client, alice):
    from django.contrib.staticfiles import finders

    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert finders.find("favicon.svg")
