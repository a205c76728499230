"""Conversations one user starts per minute are capped, in the database (every process)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tasks.models import Conversation
from tasks.services import user_message_create

pytestmark = pytest.mark.django_db


def start_and_write(client, user):
    """Start a conversation and write in it: an empty one would be reused, not started again."""
    answer = client.post(reverse("conversation_new"), {"route": "builtin"})
    if answer.status_code == 302:
        newest = Conversation.objects.filter(owner=user).latest("pk")
        user_message_create(conversation=newest, text="hello")
    return answer


def test_a_user_who_starts_too_many_conversations_a_minute_is_told_to_wait(alice, bob, settings):
    settings.TASKWEB_MAX_NEW_CONVERSATIONS_PER_MINUTE = 5
    client = Client()
    client.force_login(alice)
    answers = [start_and_write(client, alice) for _ in range(8)]
    assert [a.status_code for a in answers] == [302] * 5 + [429] * 3
    assert "conversations in the last minute" in answers[-1].content.decode()
    assert Conversation.objects.filter(owner=alice).count() == 5
    # Someone else is not slowed down by alice...
    other = Client()
    other.force_login(bob)
    assert other.post(reverse("conversation_new"), {"route": "builtin"}).status_code == 302
    # ...and a minute later alice may start again.
    Conversation.objects.filter(owner=alice).update(
        created_at=timezone.now() - dt.timedelta(seconds=61)
    )
    assert client.post(reverse("conversation_new"), {"route": "builtin"}).status_code == 302
