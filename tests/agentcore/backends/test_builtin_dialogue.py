"""Whole conversations with the builtin engine: references to earlier turns, batches, relative
moves, and what it says when it cannot act. Real agent loop, in-memory Task tools."""

from __future__ import annotations

from test_builtin_turns import Chat


async def test_both_points_at_the_two_tasks_created_in_the_previous_turn():
    chat = Chat("Pay rent")
    await chat.say("add a task to book the hotel and also add a task to rent a car")
    await chat.say("both are high priority")
    assert [name for name, _ in chat.calls] == ["update_task", "update_task"]
    assert [chat.task(i)["priority"] for i in (1, 2, 3)] == ["medium", "high", "high"]


async def test_both_after_a_longer_list_asks_which_naming_the_candidates():
    chat = Chat("Pay rent", "Call mom", "Buy paint")
    await chat.say("show my tasks")
    reply = await chat.say("mark both done")
    assert chat.calls == []
    assert "Pay rent" in reply and "Call mom" in reply and "Which one" in reply


async def test_the_conversation_is_read_again_from_the_stored_history():
    """A reload gives the engine the same stored messages: "it" still resolves."""
    chat = Chat()
    await chat.say("add a task to renew the passport")
    chat.messages = list(chat.messages)  # what the app reloads from the database
    await chat.say("make that one urgent")
    assert chat.calls == [("update_task", {"task_id": 1, "priority": "high"})]


async def test_a_relative_move_shifts_the_current_due_date():
    chat = Chat()
    chat.store.create_task(title="Renew lease", due_date="2026-11-27")
    await chat.say("move the lease renewal out by a week")
    assert chat.calls[-1] == ("update_task", {"task_id": 1, "due_date": "2026-12-04"})
    await chat.say("push task 1 back two days")  # by id: the task is read first
    assert [name for name, _ in chat.calls] == ["get_task", "update_task"]
    assert chat.task(1)["due_date"] == "2026-12-06"


async def test_a_batch_deletes_only_the_tasks_it_names_in_one_answer():
    chat = Chat("Pay rent", "Old report", "Old draft")
    chat.store.complete_task(2)
    chat.store.complete_task(3)
    reply = await chat.say("clear out everything I've finished")
    assert chat.calls[0] == ("list_tasks", {"status": "done", "limit": 100})
    assert chat.calls[1:] == [("delete_task", {"task_id": 2}), ("delete_task", {"task_id": 3})]
    assert list(chat.store.tasks) == [1]
    assert "Old report" in reply and "Old draft" in reply


async def test_a_batch_without_a_filter_is_refused():
    chat = Chat("Pay rent", "Call mom")
    reply = await chat.say("wipe everything")
    assert chat.calls == []
    assert "one at a time" in reply


async def test_a_rejected_batch_leaves_every_task():
    chat = Chat("Pay rent", "Old report")
    chat.store.complete_task(2)
    chat.approve = False
    reply = await chat.say("delete all completed tasks")
    assert len(chat.store.tasks) == 2
    assert "did not delete" in reply


async def test_removing_a_due_date_is_an_update_with_due_date_null():
    chat = Chat()
    chat.store.create_task(title="Pay the electricity bill", due_date="2026-11-26")
    reply = await chat.say("remove the due date from the electricity bill")
    assert chat.calls[-1] == ("update_task", {"task_id": 1, "due_date": None})
    assert chat.task(1)["due_date"] is None
    assert "no due date" in reply


async def test_clearing_tags_is_an_update():
    chat = Chat()
    chat.store.create_task(title="Plan the party", tags=["home", "fun"])
    await chat.say("clear the tags on plan the party")
    assert chat.calls[-1] == ("update_task", {"task_id": 1, "tags": []})


async def test_unknown_input_gets_a_short_specific_reply_not_the_help_text():
    chat = Chat("Pay rent")
    reply = await chat.say("buy milk")
    assert chat.calls == []
    assert '"add buy milk"' in reply and "Try:" not in reply
    reply = await chat.say("what's the weather like?")
    assert chat.calls == [] and "questions about your tasks" in reply


async def test_the_help_text_says_what_the_engine_does_not_understand():
    chat = Chat()
    reply = await chat.say("help")
    assert "What I do not understand" in reply and "recurring" in reply
