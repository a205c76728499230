"""The trace and approval cards in plain words, from the payloads the run records."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from agentcore.events import ApprovalDecided, ApprovalRequired, Event
from tasks.approval_subjects import approval_subject_for
from tasks.models import AgentRun, RunStep, Task
from tasks.services import conversation_create, user_message_create
from tasks.steps import payload_dict
from tasks.templatetags.trace_words import (
    backend_name,
    circuit_words,
    plain_reason,
    plain_tool_error,
    relative_time,
)

REFUSED = {
    "notice": "fallback",
    "backend": "ollama:task-api-model@http://localhost:11434",
    "reason": "unavailable from ollama:task-api-model@http://localhost:11434: cannot reach"
    " http://localhost:11434 (ConnectError: All connection attempts failed)",
    "next": "builtin",
    "error_kind": "unavailable",
    "status": None,
}


def test_a_refused_ollama_reads_as_not_running_answered_by_the_next():
    assert plain_reason(REFUSED) == (
        "Ollama is not running at localhost:11434 — answered by builtin."
    )


def test_an_open_circuit_reads_as_skipped_with_when_it_is_tried_again():
    soon = (timezone.now() + dt.timedelta(seconds=25)).isoformat()
    words = plain_reason({"notice": "skip", "backend": "ollama-local", "open_until": soon})
    assert words.startswith("ollama-local was skipped: it failed several times in a row")
    assert "tried again in 2" in words


def test_retries_rate_limits_and_unknown_errors_read_in_words():
    retry = {**REFUSED, "notice": "retry", "attempt": 1, "max_retries": 2, "delay_s": 0.5}
    assert plain_reason(retry) == (
        "Ollama is not running at localhost:11434 — trying again in 0.5 s (retry 1 of 2)."
    )
    limited = {"backend": "openai-cloud", "error_kind": "http_error", "status": 429, "next": "b"}
    assert plain_reason(limited) == "openai-cloud is rate limiting requests — answered by b."
    assert plain_reason({"message": "step limit of 8 reached"}) == "step limit of 8 reached"


def test_schema_errors_reach_people_as_sentences():
    assert plain_tool_error("title: String should have at most 300 characters") == (
        "The title is too long (at most 300 characters)."
    )
    assert plain_tool_error("due_date: Input should be a valid date") == (
        "The due date should be a valid date."
    )
    assert plain_tool_error("rejected by the user") == (
        "You rejected this call; nothing was changed."
    )
    assert plain_tool_error("something else entirely") == "something else entirely"


def test_relative_times_and_circuit_badges():
    now = timezone.now()
    assert relative_time(now + dt.timedelta(seconds=90), now) == "in 2 min"
    assert relative_time(now - dt.timedelta(hours=3), now) == "3 h ago"
    assert relative_time(None) == ""
    open_until = (now + dt.timedelta(seconds=30)).isoformat()
    badge = circuit_words({"state": "open", "open_until": open_until, "failures": 3})
    assert badge.startswith("skipped for now, retried in ") and badge.endswith("3 failures")
    assert circuit_words({"state": "closed", "failures": 0}) == "ok"


def test_run_started_names_its_backend_not_a_dict():
    assert backend_name({"name": "ollama-local,builtin", "kind": "fallback"}) == (
        "ollama-local,builtin"
    )
    assert backend_name("builtin") == "builtin"


@pytest.mark.django_db
def test_an_approval_names_the_owners_task_and_reads_in_words_once_decided(alice, bob):
    conv = conversation_create(user=alice)
    message = user_message_create(conversation=conv, text="delete buy milk")
    run = AgentRun.objects.create(conversation=conv, user_message=message, route="builtin")
    task = Task.objects.create(owner=alice, title="Buy milk", due_date=dt.date(2030, 1, 4))
    asked = Event(run_id=str(run.pk), seq=3, ts=0.0,
                  payload=ApprovalRequired(call_id="c1", name="delete_task",
                                           arguments={"task_id": task.pk}))  # fmt: skip
    subject = approval_subject_for(asked)
    assert subject.question == "Delete “Buy milk” (due Fri 04 Jan 2030)?"
    assert subject.button_label("approve") == "Approve deleting “Buy milk”"
    RunStep.objects.create(run=run, seq=3, type="approval_required", ts=timezone.now(),
                           payload=payload_dict(asked.payload))  # fmt: skip
    decided = Event(run_id=str(run.pk), seq=4, ts=0.0,
                    payload=ApprovalDecided(call_id="c1", decision="approve"))  # fmt: skip
    assert (
        approval_subject_for(decided).decided("approve") == "Deleted “Buy milk” — approved by you"
    )
    task.delete()
    RunStep.objects.create(run=run, seq=5, type="tool_result", ts=timezone.now(),
                           payload={"call_id": "c1", "value": {"deleted": 1, "title": "Buy milk"}})  # fmt: skip
    assert (
        approval_subject_for(decided).decided("approve") == "Deleted “Buy milk” — approved by you"
    )
    assert approval_subject_for(decided).decided("reject") == (
        "Kept “Buy milk” — you rejected deleting it"
    )
    bobs = Task.objects.create(owner=bob, title="Bob's secret")
    peek = Event(run_id=str(run.pk), seq=6, ts=0.0,
                 payload=ApprovalRequired(call_id="c2", name="delete_task",
                                          arguments={"task_id": bobs.pk}))  # fmt: skip
    subject = approval_subject_for(peek)
    assert "secret" not in subject.question
    assert subject.question == f"Delete task #{bobs.pk} — no such task exists?"


def test_the_builtin_engine_tells_a_person_a_schema_error_in_words():
    from agentcore.backends.builtin.answers import tool_error

    content = (
        "Error: Invalid arguments for create_task: title: String should have at most 300 characters"
    )
    assert tool_error("create_task", content) == (
        "I couldn't create that: the title is too long (at most 300 characters)."
    )
    assert tool_error("complete_task", "Error: no task with id 7") == (
        "I couldn't complete that: no task with id 7."
    )


def test_a_backend_not_asked_again_in_the_same_run_is_not_called_a_tripped_circuit():
    skipped = {
        "notice": "skip",
        "backend": "ollama:task-api-model@http://localhost:11434",
        "reason": "skipped: unavailable from ollama: cannot reach it earlier in this run",
        "next": "builtin",
    }
    words = plain_reason(skipped)
    assert "already failed earlier in this run" in words and "answered by builtin" in words
    assert "several times" not in words


@pytest.mark.django_db
def test_a_decided_delete_names_the_task_even_when_it_is_gone_before_its_result_is_stored(alice):
    conv = conversation_create(user=alice)
    message = user_message_create(conversation=conv, text="delete buy milk")
    run = AgentRun.objects.create(conversation=conv, user_message=message, route="builtin")
    task = Task.objects.create(owner=alice, title="Buy milk")
    RunStep.objects.create(run=run, seq=2, type="tool_result", ts=timezone.now(),
                           payload={"call_id": "l1", "name": "list_tasks",
                                    "value": {"tasks": [{"id": task.pk, "title": "Buy milk"}]}})  # fmt: skip
    RunStep.objects.create(run=run, seq=3, type="approval_required", ts=timezone.now(),
                           payload={"call_id": "c1", "name": "delete_task",
                                    "arguments": {"task_id": task.pk}})  # fmt: skip
    task.delete()  # the tool ran; its result step is not stored yet
    decided = Event(run_id=str(run.pk), seq=4, ts=0.0,
                    payload=ApprovalDecided(call_id="c1", decision="approve"))  # fmt: skip
    assert approval_subject_for(decided).decided("approve") == (
        "Deleted “Buy milk” — approved by you"
    )
