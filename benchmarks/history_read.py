"""Time a turn's history read alone: the full history (today) against the bounded window.

Run as its own process (`benchmarks.long_conversation` starts it with a throw-away SQLite
database): migrates, writes one conversation turn by turn with the rows a builtin turn
stores (a user message, an assistant message with a tool call, its tool result, the answer),
and at turn 2 and at the last turn times each reader. Prints one JSON object:
`{reader: {turn: [ms, ...]}}`.

    python -m benchmarks.history_read --turns 200
"""

from __future__ import annotations

import argparse
import json
import os
import time

REPEATS = 50
WINDOW_FULL = 20
"""A turn by which the default window (40 messages) is full: 4 rows a turn."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskweb.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from agentcore.messages import Message as CoreMessage
    from agentcore.messages import ToolCall
    from tasks import services
    from tasks.history import context_budget, history_window
    from tasks.models import AgentRun, RunStatus

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create(username="history-reader")
    conversation = services.conversation_create(user=user, route="builtin")
    budget = context_budget("builtin")
    readers = {
        "full history, today": lambda: services.history(conversation=conversation),
        "bounded window": lambda: history_window(conversation.pk, budget),
    }
    out: dict[str, dict[str, list[float]]] = {name: {} for name in readers}
    for n in range(1, args.turns + 1):
        message = services.user_message_create(conversation=conversation, text=f"Add task {n}")
        run = services.run_create(conversation=conversation, user_message=message, route="x")
        call = ToolCall(id=f"call_{n}", name="create_task", arguments={"title": f"Task {n}"})
        services.messages_append(run=run, messages=[
            CoreMessage(role="assistant", tool_calls=(call,)),
            CoreMessage(role="tool", content=json.dumps({"id": n, "title": f"Task {n}"}),
                        tool_call_id=call.id, name=call.name),
            CoreMessage(role="assistant", content=f"Created task #{n}."),
        ])  # fmt: skip
        AgentRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)  # one at a time
        if n in {2, WINDOW_FULL, args.turns}:
            for name, read in readers.items():
                read()  # warm
                samples = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    read()
                    samples.append((time.perf_counter() - started) * 1000)
                out[name][str(n)] = samples
    print(json.dumps(out))


if __name__ == "__main__":
    main()
