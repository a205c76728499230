from __future__ import annotations

from agentcore.context import fit_history, whole_tool_exchanges
from agentcore.messages import Message, ToolCall


def call(i: int) -> ToolCall:
    return ToolCall(id=f"c{i}", name="create_task", arguments={"title": f"t{i}"})


def exchange(i: int) -> list[Message]:
    return [
        Message(role="user", content=f"add t{i}"),
        Message(role="assistant", tool_calls=(call(i),)),
        Message(role="tool", content="{}", tool_call_id=f"c{i}", name="create_task"),
        Message(role="assistant", content=f"added t{i}"),
    ]


def test_a_complete_history_is_kept_as_it_is():
    history = exchange(1) + exchange(2)
    assert whole_tool_exchanges(history) == history


def test_tool_results_whose_call_was_cut_off_are_dropped():
    window = exchange(1)[2:] + exchange(2)
    assert whole_tool_exchanges(window) == [exchange(1)[3], *exchange(2)]


def test_a_call_that_lost_one_of_its_results_goes_with_the_results_it_has():
    asking = Message(role="assistant", tool_calls=(call(1), call(2)))
    one_result = Message(role="tool", content="{}", tool_call_id="c1", name="create_task")
    history = [Message(role="user", content="two"), asking, one_result]
    assert whole_tool_exchanges(history) == [history[0]]


def test_fit_history_keeps_the_newest_messages_within_the_budget():
    history = exchange(1) + exchange(2)
    kept = fit_history(history, budget=30)
    assert kept[-1] == history[-1]
    assert kept[0].role != "tool"
    assert len(kept) < len(history)
