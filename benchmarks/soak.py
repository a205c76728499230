"""Soak: many conversations, many turns, then what the clients saw against what was stored.

    python -m benchmarks.soak                       # SQLite, one daphne, 50 x 20 turns
    python -m benchmarks.soak --stack postgres      # PostgreSQL + Redis, two daphnes
    python -m benchmarks.soak --conversations 5 --turns 3 --json out.json

Each conversation sends its turns one after another on its own socket (with two processes,
conversation i talks to process i % 2, and a second socket on the other process watches the
same conversation). Afterwards the database is read directly and the report counts, all of
which should be 0: user messages lost, runs not in a final state, steps a client missed
(gaps) or got twice (duplicates), turns refused or not completed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from typing import Any

from .webstack import (
    PG_ADMIN_URL,
    DaphneServer,
    Database,
    postgres_and_redis_reachable,
    turn,
)

FINAL = {"completed", "failed", "interrupted", "cancelled"}


async def _watch(ws: Any, seen: list[dict[str, Any]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        event = json.loads(raw)
        if "run_id" in event:
            seen.append(event)


async def _conversation(
    servers: list[DaphneServer], index: int, session: dict[str, Any], turns: int
) -> dict[str, Any]:
    sender = await servers[index % len(servers)].connect(session)
    watcher = None
    watched: list[dict[str, Any]] = []
    stop = asyncio.Event()
    if len(servers) > 1:
        watcher = await servers[(index + 1) % len(servers)].connect(session)
    watching = asyncio.ensure_future(_watch(watcher, watched, stop)) if watcher else None
    sent, refused, incomplete = 0, 0, 0
    events: list[dict[str, Any]] = []
    for n in range(turns):
        result = await turn(sender, f"Add a task to soak item {index}-{n}")
        sent += 1
        if result.refusal:
            refused += 1
        elif not result.ok:
            incomplete += 1
        events.extend(event for _, event in result.events)
    deadline = time.monotonic() + 15  # let the watcher hear the last run's end
    while watcher is not None and time.monotonic() < deadline:
        if sum(e["type"] == "run_finished" for e in watched) >= turns - refused:
            break
        await asyncio.sleep(0.2)
    stop.set()
    if watching is not None:
        await watching
    await sender.close()
    if watcher is not None:
        await watcher.close()
    return {
        "conversation": session["conversation"],
        "sent": sent,
        "refused": refused,
        "incomplete": incomplete,
        "events": events,
        "watched": watched,
    }


def _stored(db: Database) -> tuple[dict[int, int], dict[int, list[str]], dict[int, list[int]]]:
    """User messages per conversation, run statuses per conversation, step ids per run."""
    queries = (
        "SELECT conversation_id, count(*) FROM tasks_message WHERE role = 'user' "
        "GROUP BY conversation_id",
        "SELECT conversation_id, status FROM tasks_agentrun",
        "SELECT run_id, id FROM tasks_runstep ORDER BY run_id, id",
    )
    if db.kind == "sqlite":
        path = db.env["DATABASE_URL"].removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            rows = [conn.execute(q).fetchall() for q in queries]
    else:
        import psycopg

        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/{db.pg_name}") as conn:
            rows = [conn.execute(q).fetchall() for q in queries]  # type: ignore[arg-type,unused-ignore]
    messages = {int(c): int(n) for c, n in rows[0]}
    statuses: dict[int, list[str]] = defaultdict(list)
    for conversation, status in rows[1]:
        statuses[int(conversation)].append(str(status))
    steps: dict[int, list[int]] = defaultdict(list)
    for run, step in rows[2]:
        steps[int(run)].append(int(step))
    return messages, statuses, steps


def _gaps_and_duplicates(
    events: list[dict[str, Any]], steps: dict[int, list[int]]
) -> tuple[int, int]:
    """Steps of the runs a client saw that it missed, and steps it got more than once."""
    seen: dict[int, list[int]] = defaultdict(list)
    for event in events:
        if event["type"] != "token" and event.get("step") is not None:
            seen[int(event["run_id"])].append(int(event["step"]))
    gaps = duplicates = 0
    for run, ids in seen.items():
        duplicates += len(ids) - len(set(ids))
        gaps += len(set(steps.get(run, [])) - set(ids))
    return gaps, duplicates


async def soak(stack: str, conversations: int, turns: int) -> dict[str, Any]:
    started = time.monotonic()
    with ExitStack() as exits:
        db = exits.enter_context(Database(stack))
        sessions = db.setup(conversations, "builtin", "soak")
        count = 2 if stack == "postgres" else 1
        servers = [exits.enter_context(DaphneServer(db)) for _ in range(count)]
        results = await asyncio.gather(
            *(_conversation(servers, i, s, turns) for i, s in enumerate(sessions))
        )
        messages, statuses, steps = _stored(db)
    lost = sum(
        max(r["sent"] - r["refused"] - messages.get(r["conversation"], 0), 0) for r in results
    )
    not_final = sum(1 for runs in statuses.values() for s in runs if s not in FINAL)
    gaps, duplicates = _gaps_and_duplicates([e for r in results for e in r["events"]], steps)
    watch_gaps, watch_duplicates = _gaps_and_duplicates(
        [e for r in results for e in r["watched"]], steps
    )
    return {
        "stack": stack,
        "processes": count,
        "conversations": conversations,
        "turns": turns,
        "seconds": round(time.monotonic() - started, 1),
        "sent": sum(r["sent"] for r in results),
        "refused": sum(r["refused"] for r in results),
        "incomplete": sum(r["incomplete"] for r in results),
        "lost_messages": lost,
        "runs_not_final": not_final,
        "gaps": gaps,
        "duplicates": duplicates,
        "other_process_gaps": watch_gaps,
        "other_process_duplicates": watch_duplicates,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", help="Write the report here too")
    args = parser.parse_args(argv)
    if args.stack == "postgres" and not postgres_and_redis_reachable():
        print("PostgreSQL and Redis are not reachable on 127.0.0.1", file=sys.stderr)
        return 2
    report = asyncio.run(soak(args.stack, args.conversations, args.turns))
    for key, value in report.items():
        print(f"{key:>26}  {value}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    bad = ("lost_messages", "runs_not_final", "gaps", "duplicates", "incomplete", "refused")
    return 1 if any(report[k] for k in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
