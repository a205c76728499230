"""A turn reads a bounded window of its conversation, in one query, tool exchanges whole."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall
from tasks import services
from tasks.history import ContextBudget, context_budget, history_window
from tasks.models import AgentRun, RunStatus

pytestmark = pytest.mark.django_db


def _turn(conversation, n: int) -> None:
    """The rows a builtin "add a task" turn stores: user, call, result, answer."""
    message = services.user_message_create(conversation=conversation, text=f"add task {n}")
    run = services.run_create(conversation=conversation, user_message=message, route="builtin")
    call = ToolCall(id=f"call_{n}", name="create_task", arguments={"title": f"task {n}"})
    services.messages_append(
        run=run,
        messages=[
            CoreMessage(role="assistant", tool_calls=(call,)),
            CoreMessage(role="tool", content="{}", tool_call_id=call.id, name=call.name),
            CoreMessage(role="assistant", content=f"added task {n}"),
        ],
    )
    AgentRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)  # one running at most


@pytest.fixture
def conversation(alice):
    return services.conversation_create(user=alice, route="builtin")


def test_a_short_conversation_is_read_whole_and_in_order(conversation):
    for n in range(2):
        _turn(conversation, n)
    window = history_window(conversation.pk, ContextBudget(messages=40, tokens=6000))
    assert window == services.history(conversation=conversation)


def test_a_long_conversation_reads_the_first_request_and_the_newest_messages(conversation):
    for n in range(30):
        _turn(conversation, n)
    window = history_window(conversation.pk, ContextBudget(messages=8, tokens=6000))
    full = services.history(conversation=conversation)
    assert window[0] == full[0]  # "add task 0", pinned
    assert window[1:] == full[-8:]


def test_a_window_never_starts_inside_a_tool_exchange(conversation):
    for n in range(10):
        _turn(conversation, n)
    # 6 newest: [result 8, answer 8, user 9, call 9, result 9, answer 9]: result 8 lost its call.
    window = history_window(conversation.pk, ContextBudget(messages=6, tokens=6000))
    asked = {c.id for m in window for c in m.tool_calls}
    answered = {m.tool_call_id for m in window if m.role == "tool"}
    assert answered == asked == {"call_9"}
    assert [m.content for m in window if m.role == "user"] == ["add task 0", "add task 9"]


def test_the_read_is_one_query_at_any_length(conversation):
    for n in range(50):
        _turn(conversation, n)
    with CaptureQueriesContext(connection) as queries:
        history_window(conversation.pk, ContextBudget(messages=40, tokens=6000))
    assert len(queries) == 1


def test_abandoned_attempts_are_left_out(conversation):
    _turn(conversation, 1)
    run = conversation.runs.get()
    services.abandoned_text_record(run=run, text="half an answer from a backend that failed")
    window = history_window(conversation.pk, ContextBudget(messages=40, tokens=6000))
    assert all("half an answer" not in m.content for m in window)


def test_a_profile_can_have_its_own_budget(settings):
    settings.TASKWEB_CONTEXT_MESSAGES = 40
    settings.TASKWEB_CONTEXT_TOKENS = 6000
    settings.TASKWEB_CONTEXT_BY_PROFILE = {"small-local": {"messages": 12, "tokens": 2000}}
    assert context_budget("small-local,builtin") == ContextBudget(messages=12, tokens=2000)
    assert context_budget("builtin") == ContextBudget(messages=40, tokens=6000)
