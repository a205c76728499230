"""Hostile strings in every place model and user text reach: no live markup on any page.

One module-scoped run of the whole corpus (the app's own executor, a scripted backend), then
every websocket fragment and every page that shows the data is parsed and checked.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client
from django.urls import NoReverseMatch, reverse
from hostile_runs import conversations_for, run_corpus
from hostile_strings import (
    ATTACKER,
    CORPUS,
    TOOL_SHAPED,
    assert_no_live_markup,
    attributes,
    live_markup_problems,
)

from agentcore.events import ApprovalRequired, Event
from tasks.models import AgentRun, Conversation, Message, RunStep, Task
from tasks.templatetags.taskweb import render_markdown


@pytest.fixture(scope="module")
def corpus_data(django_db_setup, django_db_blocker):
    """Alice's conversations full of hostile data, and the fragments sent while they ran."""
    with django_db_blocker.unblock():
        User = get_user_model()
        alice = User.objects.create_user("alice-hostile", password="pw-alice-123!")
        root = User.objects.create_superuser("root-hostile", password="pw-root-123!")
        conversation_for = conversations_for(alice, len(CORPUS))
        fragments = run_corpus(conversation_for)
        yield {"alice": alice, "root": root, "fragments": fragments}
        Conversation.objects.filter(owner=alice).delete()
        Task.objects.filter(owner=alice).delete()
        alice.delete()
        root.delete()


@pytest.fixture
def alice_client(corpus_data, db):
    client = Client()
    client.force_login(corpus_data["alice"])
    return client


@pytest.fixture
def root_client(corpus_data, db):
    client = Client()
    client.force_login(corpus_data["root"])
    return client


def test_the_corpus_has_at_least_fifty_distinct_hostile_strings():
    assert len(set(CORPUS)) >= 50
    assert any(len(s) >= 100_000 and " " not in s for s in CORPUS)
    assert any("\x00" in s for s in CORPUS)


def test_the_checker_itself_flags_live_markup():
    flagged = [
        "<script>x</script>",
        "<img src=x onerror=y>",
        '<a href="javascript:x">a</a>',
        '<div hx-get="/admin/">x</div>',
        '<div data-hx-post="/x">x</div>',
        '<div hx-on:click="x">x</div>',
        '<div class="pwn">x</div>',
        "<svg onload=x>",
        "<iframe src=x></iframe>",
        '<div style="width:expression(x)">x</div>',
    ]
    for html in flagged:
        assert live_markup_problems(html), html
    assert live_markup_problems("<p>&lt;script&gt;window.__pwned=1&lt;/script&gt;</p>") == []


@pytest.mark.parametrize("text", CORPUS + TOOL_SHAPED, ids=range(len(CORPUS + TOOL_SHAPED)))
def test_markdown_of_each_hostile_string_has_no_live_markup_or_image(text):
    html = render_markdown(text)
    assert_no_live_markup(html, repr(text[:60]))
    assert "<img" not in html
    # A link may stay (following it is the reader's choice); nothing may load it by itself.
    loaders = {(tag, name) for tag, name, value in attributes(html) if ATTACKER in value}
    assert loaders <= {("a", "href")}, loaders


def test_very_long_text_is_shown_escaped_instead_of_parsed_as_markdown():
    for text in ("[" * 100_000, "<b>" + "x" * 100_000, "[x](javascript:y) " * 2000):
        html = render_markdown(text)
        assert html.startswith('<p class="plain">') and "<b>" not in html and "<a" not in html
        assert_no_live_markup(html, "long text")


def test_every_run_of_the_corpus_ends_and_records_its_steps(corpus_data, db):
    runs = AgentRun.objects.filter(conversation__owner=corpus_data["alice"])
    assert runs.count() == 2 * len(CORPUS)
    assert not runs.filter(status="running").exists()
    hostile_runs = runs.exclude(user_message__content="again")
    assert hostile_runs.filter(status="completed").count() == len(CORPUS)
    assert Task.objects.filter(owner=corpus_data["alice"]).count() == len(CORPUS)


def test_websocket_fragments_carry_no_live_markup(corpus_data):
    fragments = corpus_data["fragments"]
    assert len(fragments) > 10 * len(CORPUS)
    for html in fragments:
        assert_no_live_markup(html, "fragment")


def test_model_text_reaches_the_page_inside_hx_disable(corpus_data):
    finals = [f for f in corpus_data["fragments"] if 'class="msg assistant' in f and "oob" in f]
    assert finals
    for html in finals:
        assert 'class="msg-body md" hx-disable>' in html


def test_approval_cards_with_hostile_call_ids_and_arguments_stay_inert(db):
    for index, text in enumerate(CORPUS):
        event = Event(
            run_id="1",
            seq=index,
            ts=0.0,
            payload=ApprovalRequired(
                call_id=text[:200], name=text[:80], arguments={text[:80]: text}
            ),
        )
        for decided in (None, "approve"):
            html = render_to_string(
                "tasks/partials/approval_card.html",
                {"step": event, "oob": True, "decided": decided},
            )
            assert_no_live_markup(html, f"approval card for {text[:40]!r}")


def test_the_chat_page_of_every_hostile_conversation_has_no_live_markup(corpus_data, alice_client):
    made = Conversation.objects.filter(owner=corpus_data["alice"])
    assert made.count() >= 5
    for conversation in made:
        response = alice_client.get(reverse("conversation", args=[conversation.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert_no_live_markup(html, f"chat page {conversation.pk}")
        assert html.count("hx-disable") >= 1


def test_the_task_panel_and_run_timelines_have_no_live_markup(corpus_data, alice_client):
    assert_no_live_markup(alice_client.get(reverse("task_panel")).content.decode(), "task panel")
    for run in AgentRun.objects.filter(conversation__owner=corpus_data["alice"]):
        response = alice_client.get(reverse("run_detail", args=[run.pk]))
        assert response.status_code == 200
        assert_no_live_markup(response.content.decode(), f"run {run.pk}")


def test_the_stats_page_and_exports_have_no_live_markup(corpus_data, alice_client, root_client):
    try:
        url = reverse("stats")
    except NoReverseMatch:
        pytest.skip("/stats/ does not exist yet")
    for client in (alice_client, root_client):
        for period in ("day", "all", "<script>window.__pwned=1</script>"):
            response = client.get(url, {"period": period, "scope": '"><svg onload=x>'})
            assert response.status_code == 200
            assert_no_live_markup(response.content.decode(), f"stats {period}")
    export = alice_client.get(reverse("stats_export", args=["steps", "json"]))
    assert export["Content-Type"].startswith("application/json")


ADMIN_PAGES = [
    ("tasks", "task", Task),
    ("tasks", "conversation", Conversation),
    ("tasks", "agentrun", AgentRun),
    ("tasks", "runstep", RunStep),
    ("tasks", "message", Message),
]


@pytest.mark.parametrize(("app", "model", "cls"), ADMIN_PAGES, ids=[m for _, m, _ in ADMIN_PAGES])
def test_admin_changelists_and_change_pages_have_no_live_markup(
    corpus_data, root_client, app, model, cls
):
    changelist = root_client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert changelist.status_code == 200
    assert_no_live_markup(changelist.content.decode(), f"{model} changelist")
    searched = root_client.get(reverse(f"admin:{app}_{model}_changelist"), {"q": CORPUS[0]})
    assert_no_live_markup(searched.content.decode(), f"{model} search")
    owned = {
        Task: {"owner": corpus_data["alice"]},
        Conversation: {"owner": corpus_data["alice"]},
        AgentRun: {"conversation__owner": corpus_data["alice"]},
        RunStep: {"run__conversation__owner": corpus_data["alice"], "type": "tool_call"},
        Message: {"conversation__owner": corpus_data["alice"]},
    }[cls]
    objects = list(cls.objects.filter(**owned).order_by("pk")[:: max(1, len(CORPUS) // 12)])
    assert objects
    for obj in objects:
        page = root_client.get(reverse(f"admin:{app}_{model}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert_no_live_markup(page.content.decode(), f"{model} {obj.pk}")
