"""Tools: schemas from type hints, validation errors the model can act on."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from agentcore.messages import ToolCall
from agentcore.tools import UNSET, Tool, ToolError, ToolSet


def create_task(
    title: str,
    priority: Literal["low", "medium", "high"] = "medium",
    due_date: dt.date | None = None,
    tags: list[str] | None = None,
) -> dict:
    """Create a task."""
    if title == "boom":
        raise ToolError("that title is not allowed")
    return {"title": title, "priority": priority, "due_date": due_date}


TOOLS = ToolSet.of([Tool.from_function(create_task)])


def test_the_schema_comes_from_the_signature():
    spec = TOOLS.specs[0]
    assert spec.name == "create_task"
    assert spec.description == "Create a task."
    props = spec.parameters["properties"]
    assert spec.parameters["required"] == ["title"]
    assert props["priority"]["enum"] == ["low", "medium", "high"]
    assert spec.to_openai()["function"]["parameters"] is not None


def test_valid_arguments_are_coerced_to_python_values():
    tool, args = TOOLS.validate(
        ToolCall(id="1", name="create_task", arguments={"title": "x", "due_date": "2026-11-27"})
    )
    assert tool is not None
    assert args["due_date"] == dt.date(2026, 11, 27)


def test_an_unknown_tool_is_named_with_the_alternatives():
    tool, error = TOOLS.validate(ToolCall(id="1", name="make_task", arguments={}))
    assert tool is None
    assert "make_task" in error and "create_task" in error


def test_invalid_arguments_say_which_field_and_why():
    _, error = TOOLS.validate(
        ToolCall(id="1", name="create_task", arguments={"title": "x", "priority": "urgent"})
    )
    assert isinstance(error, str)
    assert "priority" in error


def test_missing_and_unexpected_arguments_are_reported():
    _, error = TOOLS.validate(ToolCall(id="1", name="create_task", arguments={"owner": 2}))
    assert "title" in error and "owner" in error


async def test_a_tool_error_becomes_an_outcome_not_an_exception():
    tool, args = TOOLS.validate(ToolCall(id="1", name="create_task", arguments={"title": "boom"}))
    outcome = await TOOLS.execute(tool, args)
    assert not outcome.ok
    assert outcome.content == "Error: that title is not allowed"


def move(task_id: int, due_date: dt.date | None = UNSET) -> dict:
    """Move a task; due_date null removes its date."""
    return {"task_id": task_id, "due_date": "left as it was" if due_date is UNSET else due_date}


async def test_an_explicit_null_reaches_an_unset_parameter_and_an_omitted_one_does_not():
    tools = ToolSet.of([Tool.from_function(move)])
    assert tools.specs[0].parameters["properties"]["due_date"]["default"] is None
    outcomes = []
    for arguments in ({"task_id": 1}, {"task_id": 1, "due_date": None}):
        tool, args = tools.validate(ToolCall(id="1", name="move", arguments=arguments))
        assert tool is not None and isinstance(args, dict)
        outcomes.append((await tools.execute(tool, args)).value)
    assert outcomes == [
        {"task_id": 1, "due_date": "left as it was"},
        {"task_id": 1, "due_date": None},
    ]
