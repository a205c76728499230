"""Pages over HTTP: login required, ownership, the chat page's parts."""

from __future__ import annotations

import pytest

from tasks.models import Conversation, Task
from tasks.services import conversation_create, user_message_create

pytestmark = pytest.mark.django_db


def test_every_page_needs_a_login(client):
    for url in ("/", "/c/1/", "/tasks/panel/", "/runs/1/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_a_new_user_gets_the_empty_chat_page(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "New conversation" in page and "No conversations yet" in page


def test_new_conversation_keeps_the_chosen_route_and_privacy(client, alice):
    client.force_login(alice)
    response = client.post("/c/new/", {"route": "builtin", "local_only": "1"})
    conv = Conversation.objects.get(owner=alice)
    assert response["Location"] == f"/c/{conv.pk}/"
    assert conv.route == "builtin" and conv.local_only


def test_the_chat_page_shows_transcript_tasks_and_websocket(client, alice):
    conv = conversation_create(user=alice, route="builtin")
    user_message_create(conversation=conv, text="Remember the milk")
    Task.objects.create(owner=alice, title="Buy milk")
    client.force_login(alice)
    page = client.get(f"/c/{conv.pk}/").content.decode()
    assert "Remember the milk" in page
    assert "Buy milk" in page
    assert f'ws-connect="/ws/chat/{conv.pk}/?after_step=0"' in page
    assert "htmx" in page and "hx-ws" in page


def test_bob_cannot_open_or_reroute_alices_conversation(client, alice, bob):
    conv = conversation_create(user=alice, route="builtin")
    client.force_login(bob)
    assert client.get(f"/c/{conv.pk}/").status_code == 404
    assert client.post(f"/c/{conv.pk}/route/", {"route": "x"}).status_code == 404
    conv.refresh_from_db()
    assert conv.route == "builtin"


def test_bob_does_not_see_alices_tasks_or_conversations(client, alice, bob):
    conversation_create(user=alice, title="Alice's plans", route="builtin")
    Task.objects.create(owner=alice, title="Alice's secret task")
    client.force_login(bob)
    page = client.get("/").content.decode() + client.get("/tasks/panel/").content.decode()
    assert "Alice" not in page


def test_model_text_is_sanitised_markdown(client, alice):
    from tasks.models import Message

    conv = conversation_create(user=alice, route="builtin")
    Message.objects.create(
        conversation=conv, role="assistant",
        content='**bold** [x](javascript:alert(1)) <b onmouseover=alert(1)>hi</b> ![i](http://e/x.png) <a hx-get="/">h</a>',
    )  # fmt: skip
    client.force_login(alice)
    page = client.get(f"/c/{conv.pk}/").content.decode()
    assert "<strong>bold</strong>" in page
    body = page.split("hx-disable", 1)[1]
    assert 'href="javascript' not in body  # the link is refused: it stays text
    assert "<b onmouseover" not in body and "&lt;b onmouseover" in body
    assert "<img" not in body  # images never auto-load
    assert '<a hx-get="/"' not in body
