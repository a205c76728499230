"""The relay's outbox: one sender per socket, in order, joining tokens it fell behind on."""

from __future__ import annotations

import asyncio

from agentcore.events import PAYLOADS, Event, Token
from tasks.relay import Outbox, join_tokens


def token(seq: int, text: str, run_id: str = "7") -> Event:
    return Event(run_id=run_id, seq=seq, ts=float(seq), payload=Token(text=text))


def step(seq: int, kind: str = "tool_call") -> Event:
    return Event(run_id="7", seq=seq, ts=float(seq), payload=PAYLOADS[kind]())


def text_of(event: Event):
    return event.payload.text if isinstance(event.payload, Token) else None


def test_adjacent_tokens_of_one_run_join_and_steps_stay_apart():
    joined = join_tokens([token(1, "a"), token(2, "b"), step(3), token(4, "c"), token(5, "d", "8")])
    assert [(e.type, e.seq, text_of(e)) for e in joined] == [
        ("token", 2, "ab"), ("tool_call", 3, None), ("token", 4, "c"), ("token", 5, "d"),
    ]  # fmt: skip
    assert joined[0].ts == 1.0, "the joined token keeps its first token's time"


async def test_a_socket_that_falls_behind_gets_the_waiting_tokens_as_one_frame():
    sent: list[Event] = []
    gate = asyncio.Event()

    async def slow_send(event: Event) -> None:
        sent.append(event)
        if len(sent) == 1:
            await gate.wait()  # the first frame is slow to leave; the rest pile up

    outbox = Outbox(slow_send)
    outbox.put(token(1, "He"))
    await asyncio.sleep(0)
    for seq, text in [(2, "llo"), (3, " there"), (4, ".")]:
        outbox.put(token(seq, text))
    outbox.put(step(5, "final"))
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    await outbox.close()
    assert [(e.type, text_of(e)) for e in sent] == [
        ("token", "He"), ("token", "llo there."), ("final", None),
    ]  # fmt: skip
