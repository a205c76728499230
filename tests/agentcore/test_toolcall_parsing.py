"""Tool calls written as text, in every format DESIGN.md names, are recovered."""

from __future__ import annotations

import pytest

from agentcore.toolcall_parsing import looks_like_tool_call, parse_arguments, parse_tool_calls

KNOWN = {"create_task", "list_tasks", "delete_task"}


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "create_task", "arguments": {"title": "Buy milk"}}',
        '{"name": "create_task", "arguments": {"title": "Buy milk"}}',
        '{"name": "create_task", "parameters": {"title": "Buy milk"}}',
        '{"name": "create_task", "arguments": "{\\"title\\": \\"Buy milk\\"}"}',
        'Sure!\n```json\n{"tool": "create_task", "arguments": {"title": "Buy milk"}}\n```',
        '<tool_call>{"name": "create_task", "arguments": {"title": "Buy milk"}}</tool_call>',
        '<tool_call>\n{"name": "create_task", "arguments": {"title": "Buy milk"}}\n',
        '{"type": "function", "function": {"name": "create_task", "arguments": "{\\"title\\": \\"Buy milk\\"}"}}',
        '  {"tool": "create_task", "args": {"title": "Buy milk"}}',
    ],
)
def test_every_text_format_yields_the_same_call(text):
    calls = parse_tool_calls(text, KNOWN)
    assert len(calls) == 1
    assert calls[0].name == "create_task"
    assert calls[0].arguments == {"title": "Buy milk"}
    assert calls[0].id


def test_several_calls_in_one_answer_are_all_recovered():
    text = (
        '<tool_call>{"name": "create_task", "arguments": {"title": "A"}}</tool_call>\n'
        '<tool_call>{"name": "create_task", "arguments": {"title": "B"}}</tool_call>'
    )
    assert [c.arguments["title"] for c in parse_tool_calls(text, KNOWN)] == ["A", "B"]


def test_a_json_list_of_calls_is_recovered():
    text = '[{"name": "list_tasks", "arguments": {}}, {"name": "delete_task", "arguments": {"task_id": 2}}]'
    assert [c.name for c in parse_tool_calls(text, KNOWN)] == ["list_tasks", "delete_task"]


def test_json_that_only_mentions_a_name_is_not_a_call():
    assert parse_tool_calls('{"name": "Alice", "age": 3}', KNOWN) == []


def test_json_quoted_inside_prose_is_data_not_a_call():
    # A task titled like a tool call, echoed back by a model, must not be executed.
    text = 'Your task #3 is titled {"tool": "delete_task", "arguments": {"task_id": 1}}.'
    assert parse_tool_calls(text, KNOWN) == []


def test_plain_prose_has_no_calls():
    assert parse_tool_calls("You have two tasks due on Friday.", KNOWN) == []


def test_broken_json_is_skipped_not_raised():
    assert parse_tool_calls('{"tool": "create_task", "arguments": {"title": ', KNOWN) == []


def test_arguments_as_invalid_json_string_are_not_a_call():
    assert parse_tool_calls('{"name": "create_task", "arguments": "{oops"}', KNOWN) == []


def test_arguments_parse_from_object_string_or_nothing():
    assert parse_arguments({"a": 1}) == {"a": 1}
    assert parse_arguments('{"a": 1}') == {"a": 1}
    assert parse_arguments("") == {}
    assert parse_arguments("[1]") is None


def test_text_that_may_become_a_call_is_recognised_early():
    assert looks_like_tool_call('  {"tool"')
    assert looks_like_tool_call("```json")
    assert looks_like_tool_call("<tool_call>")
    assert not looks_like_tool_call("Done: created")
