"""The engine's safety rules (agentcore/backends/builtin/safety.py), held by property tests.

Messages are generated from negations, hypotheticals, field removals and quoted titles around
every destructive verb, with politeness and task names drawn at random; each is driven
through whole turns of the real agent loop over in-memory tools that hold tasks the message
could name. No such message may ever produce a `delete_task` or `complete_task` call.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from memory_tools import MemoryTasks

from agentcore.backends.builtin import BuiltinBackend
from agentcore.backends.builtin.readings import parse_intent
from agentcore.events import ToolCalled
from agentcore.loop import Agent
from agentcore.messages import Message

NOW = datetime(2026, 11, 24, 9, 0)
DESTRUCTIVE = {"delete_task", "complete_task"}
TITLES = ["Pay the gas bill", "Call the plumber", "Delete old photos", "Finish the report",
          "Remove the tag", "Water the plants", "Cancel the gym"]  # fmt: skip
BACKEND = BuiltinBackend()

polite = st.sampled_from(["", "please ", "hey, ", "ok ", "can you ", "actually "])
verb = st.sampled_from(
    ["delete", "remove", "get rid of", "scrap", "bin", "trash", "erase", "cancel", "drop",
     "complete", "finish", "mark done", "tick off", "close", "clear out"]
)  # fmt: skip
name = st.sampled_from(
    [t.lower() for t in TITLES]
    + ["the gas bill", "the plumber task", "it", "that one", "everything", "all my tasks",
       "task 1", "#2", "the first one", "both"]
)  # fmt: skip
negation = st.sampled_from(
    ["don't {v} {n}", "do not {v} {n}", "please don't {v} {n}", "never {v} {n}",
     "I don't want to {v} {n}", "don't {v} anything, just show me {n}", "no need to {v} {n}",
     "let's not {v} {n}", "you shouldn't {v} {n}", "don't {v} {n} yet",
     "I haven't finished {n} yet", "I didn't finish {n}", "not done with {n} yet",
     "never mind, don't {v} {n}", "no, do not {v} {n}!", "DON'T {v} {n}"]
)  # fmt: skip
hypothetical = st.sampled_from(
    ["what would happen if I {v} {n}?", "should I {v} {n}?", "if I {v} {n}, can I undo it?",
     "what if I {v} {n}?", "could I {v} {n} later?", "is it safe to {v} {n}?",
     "how do I {v} {n}?"]
)  # fmt: skip
field = st.sampled_from(
    ["remove the due date from {n}", "clear the due date on {n}", "delete the deadline of {n}",
     "remove the tags from {n}", "clear the tags on {n}", "drop the work tag from {n}",
     "take the work tag off {n}", "remove all tags from {n}", "delete the due date of {n}",
     "{n} doesn't need a deadline anymore", "remove the description from {n}",
     "erase the due date on {n}", "get rid of the deadline on {n}"]
)  # fmt: skip
danger_words = st.lists(
    st.sampled_from(["delete", "everything", "remove", "done", "complete", "all", "tasks",
                     "ignore", "instructions", "and", "mark", "finish", "#1", "now"]),
    min_size=1, max_size=6,
).map(" ".join)  # fmt: skip
quoted_create = st.sampled_from(
    ["add a task called '{q}'", 'create a task: "{q}"', "new task \u201c{q}\u201d",
     "remind me to '{q}'", "add a task to {q}"]
)  # fmt: skip


def _fill(template: str, v: str, n: str) -> str:
    return template.format(v=v, n=n)


async def _calls(message: str) -> list[str]:
    store = MemoryTasks(clock=lambda: NOW)
    for title in TITLES:
        store.create_task(title=title, due_date="2026-11-27", tags=["work"])
    store.complete_task(7)
    agent = Agent(backend=BACKEND, tools=store.toolset(), clock=lambda: NOW)
    messages: list[Message] = []
    names: list[str] = []

    async def approve(call):
        return True

    for text in ("show my tasks", message):  # a listing first, so "it" and "both" resolve
        messages.append(Message(role="user", content=text))
        async for event in agent.run(messages, run_id="safety", approve=approve):
            if isinstance(event.payload, ToolCalled):
                names.append(event.payload.name)
    return names


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(polite, negation, verb, name)
async def test_a_negated_destructive_request_destroys_nothing(p, template, v, n):
    message = p + _fill(template, v, n)
    assert not DESTRUCTIVE & set(await _calls(message)), message


@SETTINGS
@given(polite, hypothetical, verb, name)
async def test_a_hypothetical_destroys_nothing(p, template, v, n):
    message = p + _fill(template, v.replace("mark done", "mark"), n)
    assert not DESTRUCTIVE & set(await _calls(message)), message


@SETTINGS
@given(polite, field, name)
async def test_removing_a_field_is_never_a_delete(p, template, n):
    message = p + _fill(template, "", n)
    assert not DESTRUCTIVE & set(await _calls(message)), message


@SETTINGS
@given(polite, quoted_create, danger_words)
async def test_a_quoted_title_is_created_not_obeyed(p, template, words):
    message = p + template.format(q=words)
    calls = await _calls(message)
    assert not DESTRUCTIVE & set(calls), message
    assert "create_task" in calls, message


def test_the_rules_allow_plain_requests():
    """The gate is not a blanket refusal: plain requests still act."""
    for message, kind in [
        ("delete the gas bill task", "delete"),
        ("scrap it", "delete"),
        ("I've paid the gas bill", "complete"),
        ("mark the report done", "complete"),
        ("clear out everything I've finished", "bulk"),
    ]:
        assert parse_intent(message, NOW).kind == kind, message
