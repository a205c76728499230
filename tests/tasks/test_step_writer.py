"""The shared step writer: runs' waiting events go in one trip, each run's failure its own."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError

from agentcore.events import Answered, EventFactory, ModelRequested, RunStarted, Token
from agentcore.messages import Message as CoreMessage
from tasks import services
from tasks.models import Message, RunStep
from tasks.step_writer import step_writer

pytestmark = pytest.mark.django_db(transaction=True)


def new_run(user):
    conversation = services.conversation_create(user=user, route="builtin")
    message = services.user_message_create(conversation=conversation, text="hi")
    return services.run_create(conversation=conversation, user_message=message, route="builtin")


async def test_runs_stored_in_one_trip_keep_their_order_and_fail_alone(alice):
    good, bad = await sync_to_async(new_run)(alice), await sync_to_async(new_run)(alice)
    event = EventFactory("x")
    taken = event(RunStarted())  # seq 1
    await step_writer().store(bad, [(taken, [])])
    answer = [CoreMessage(role="assistant", content="Done.")]
    good_items = [
        (event(ModelRequested(step=1)), []),
        (event(Token(text="Done.")), []),
        (event(Answered(text="Done.")), answer),
    ]
    results = await asyncio.gather(
        step_writer().store(good, good_items),
        step_writer().store(bad, [(taken, [])]),  # seq 1 again: the unique (run, seq) refuses
        return_exceptions=True,
    )
    stored = [
        pk
        async for pk in RunStep.objects.filter(run=good).order_by("pk").values_list("pk", flat=True)
    ]
    assert results[0] == [stored[0], None, stored[1]], "each step's id, None for the token"
    assert isinstance(results[1], IntegrityError)
    steps = [s async for s in RunStep.objects.filter(run=good).order_by("pk")]
    assert [(s.seq, s.type) for s in steps] == [(2, "model_request"), (4, "final")]
    assert await Message.objects.filter(run=good, role="assistant", content="Done.").aexists()
    assert await RunStep.objects.filter(run=bad).acount() == 1, "the failed batch rolled back"
