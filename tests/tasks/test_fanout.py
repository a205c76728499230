"""Run events go to Redis only while another process listens, batched, and never with a gap.

On a real Redis server (its own channel prefix per test, so that nothing else on the server
is heard). "Another process" is played with the layer's real messages: presence
announcements sent as another process would send them, and a plain Redis subscriber on the
conversation's group channel that sees every PUBLISH there without announcing itself.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from test_consumers import make_conversation
from wsclient import connect, events_until

from agentcore.events import Event, event_from_dict
from agentcore.testing import ScriptedBackend
from tasks import services, workers
from tasks.fanout import PRESENCE_GROUP, _deployment, layer_message, missed
from tasks.models import RunStep
from tasks.runs import group_name

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]
REDIS_URL = "redis://127.0.0.1:6379/4"


@pytest.fixture
def redis_layer(settings):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        from conftest import require

        require("REQUIRE_SERVICES", f"no Redis at {REDIS_URL}: {exc}")
    prefix = f"fanout{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tasks.layer.TolerantPubSubLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    yield prefix
    channel_layers.backends.clear()


class Spy:
    """Every message PUBLISHed on a conversation's group channel (a plain subscriber: the
    relay does not know of it, so it does not change what the relay decides)."""

    def __init__(self, prefix: str, conversation_id: int) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(REDIS_URL)
        self.pubsub = self.client.pubsub()
        self.channel = f"{prefix}__group__{group_name(conversation_id)}"

    async def __aenter__(self) -> Spy:
        await self.pubsub.subscribe(self.channel)
        await self.pubsub.get_message(timeout=1)  # the subscribe confirmation
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()

    async def messages(self, quiet_s: float = 0.5) -> list[dict]:
        """What was published, until nothing more comes for `quiet_s`."""
        layer = get_channel_layer()
        got = []
        while True:
            raw = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=quiet_s)
            if raw is None:
                return got
            got.append(layer.deserialize(raw["data"]))


async def announce(op: str, conversation_id: int, origin: str = "process-b") -> None:
    """What another process's relay publishes when its first socket of a conversation
    opens (join) or its last one closes (leave)."""
    await get_channel_layer().group_send(
        PRESENCE_GROUP,
        {
            "type": "relay.presence",
            "ops": [[op, conversation_id]],
            "query": False,
            "origin": origin,
            "deployment": _deployment(),
        },
    )


async def stored_ids(conversation) -> list[int]:
    return [
        pk
        async for pk in RunStep.objects.filter(run__conversation=conversation)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


async def test_only_a_conversation_another_process_listens_to_is_published_in_batches(
    alice, scripted_route, redis_layer
):
    backend = ScriptedBackend(["First answer.", "Second answer.", "Third answer."])
    conv = await make_conversation(alice, scripted_route(backend))
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    async with Spy(redis_layer, conv.pk) as spy:
        await ws.send_json_to({"message": "nobody else listens"})
        first = await events_until(ws)
        assert not await spy.messages(), "published although no other process listens"

        # Another process's tab opens: it is told the last step stored so far (its catch-up
        # may have ended before it), then hears the next run, several events a message.
        await announce("join", conv.pk)
        (sync,) = await spy.messages()
        assert sync["events"] == [] and sync["through"] == first[-1]["step"]
        await ws.send_json_to({"message": "now someone does"})
        second = await events_until(ws)
        published = await spy.messages()
        events = [event_from_dict(e) for m in published for e in m["events"]]
        steps = [e for e in second if e["type"] != "token"]
        assert [e.step_id for e in events if e.type != "token"] == [e["step"] for e in steps]
        assert len(published) < len(events), "no batch: one PUBLISH per event"
        pairs = [pair for m in published for pair in zip(m["events"], m["prevs"], strict=True)]
        prevs = [prev for event, prev in pairs if event["type"] != "token"]
        ids = [e["step"] for e in steps]
        assert prevs == [None, *ids[:-1]], "each step names the one before it in its run"

        # The tab closes: publishing stops.
        await announce("leave", conv.pk)
        await asyncio.sleep(0.3)
        await ws.send_json_to({"message": "alone again"})
        await events_until(ws)
        assert not await spy.messages()
    await ws.disconnect()


def interrupt_elsewhere(conversation) -> list[Event]:
    """A run another process started and closed: its steps are stored, never published."""
    message = services.user_message_create(conversation=conversation, text="hi")
    run = services.run_create(conversation=conversation, user_message=message, route="builtin")
    return workers.run_interrupt(run, reason="elsewhere")


async def test_a_socket_that_missed_steps_reads_them_before_the_next_event(alice, redis_layer):
    conv = await make_conversation(alice, "builtin")
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    layer = get_channel_layer()
    stored = await sync_to_async(interrupt_elsewhere)(conv)
    assert len(stored) >= 2
    # Only the last step reaches this process (the first went by while nobody listened).
    last = stored[-1]
    message = {
        **layer_message(conv.pk, [last], [stored[-2].step_id]),
        "origin": "process-b",
    }
    await layer.group_send(group_name(conv.pk), message)
    got = await events_until(ws)
    assert [e["step"] for e in got] == [e.step_id for e in stored]
    assert await ws.receive_nothing(timeout=0.3), "a step came twice"

    # Told only where the other process is (`through`): the next run's steps, read too.
    more = await sync_to_async(interrupt_elsewhere)(conv)
    message = {**layer_message(conv.pk, [], through=more[-1].step_id), "origin": "process-b"}
    await layer.group_send(group_name(conv.pk), message)
    got = await events_until(ws)
    assert [e["step"] for e in got] == [e.step_id for e in more]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_a_socket_without_a_cursor_gets_steps_stored_since_it_opened_not_before(
    alice, redis_layer
):
    conv = await make_conversation(alice, "builtin")
    await sync_to_async(interrupt_elsewhere)(conv)  # history the client did not ask for
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    stored = await sync_to_async(interrupt_elsewhere)(conv)
    message = {**layer_message(conv.pk, [stored[-1]], [None]), "origin": "process-b"}
    await get_channel_layer().group_send(group_name(conv.pk), message)
    got = await events_until(ws)
    assert [e["step"] for e in got] == [e.step_id for e in stored]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


def test_missed_says_whether_a_socket_lacks_a_step():
    def ev(step: int | None, kind: str = "final") -> Event:
        from agentcore.events import PAYLOADS

        return Event(run_id="1", seq=1, ts=0.0, payload=PAYLOADS[kind](), step_id=step)

    assert not missed(10, [ev(11), ev(12)], [10, 11], None)
    assert missed(10, [ev(12)], [11], None), "step 11 never came"
    assert missed(10, [ev(11)], [None], None), "a run's first step here: what came before?"
    assert missed(10, [], [], 11) and not missed(11, [], [], 11)
    assert missed(10, [ev(11, "token")], [None], None), "a token after an unseen step"
    assert not missed(10, [ev(10, "token"), ev(None, "token")], [None, None], None)
    assert not missed(10, [ev(8)], [7], None), "an old step again: the cursor drops it"
    assert json.dumps(layer_message(1, [ev(11)], [10]), default=str)
