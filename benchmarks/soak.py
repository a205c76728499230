"""Soak: many conversations, many turns, then what the clients saw against what was stored.

    python -m benchmarks.soak                       # SQLite, one daphne, 50 x 20 turns
    python -m benchmarks.soak --stack postgres      # PostgreSQL + Redis, two daphnes
    python -m benchmarks.soak --conversations 5 --turns 3 --json out.json

Each conversation sends its turns one after another on its own socket (with two processes,
conversation i talks to process i % 2, and a second socket on the other process watches the
same conversation). Afterwards the database is read directly and the report counts, all of
which should be 0: user messages lost, runs not in a final state, steps a client missed
(gaps), got twice (duplicates) or got although the database lacks them, tool calls without
results (or results without calls) in the stored histories, turns refused or not completed.
`--kill-db-after S` (PostgreSQL) terminates the servers' database connections once, S
seconds in: the runs caught in it end `failed`, visibly, and everything else stays 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from typing import Any

from agentcore.compat import timeout

from .webstack import (
    PG_ADMIN_URL,
    DaphneServer,
    Database,
    postgres_and_redis_reachable,
)

FINAL = {"completed", "failed", "interrupted", "cancelled"}


NOTICES = {"run_stopped"}
"""Client-only notices about a run that goes on being reported (not refusals)."""


async def _turn(ws: Any, text: str, limit_s: float = 120) -> tuple[str, str, list[dict[str, Any]]]:
    """Send a message, read to its run's end: (status, refusal code, events)."""
    await ws.send(json.dumps({"type": "user_message", "message": text}))
    events: list[dict[str, Any]] = []
    async with timeout(limit_s):
        while True:
            event = json.loads(await ws.recv())
            if "code" in event:
                if event["code"] in NOTICES:
                    continue
                return "", str(event["code"]), events
            events.append(event)
            if event["type"] == "run_finished":
                return str(event["payload"]["status"]), "", events


async def _watch(ws: Any, seen: list[dict[str, Any]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except asyncio.TimeoutError:  # 3.10: not yet the builtin TimeoutError
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
    codes: list[str] = []
    events: list[dict[str, Any]] = []
    for n in range(turns):
        status, refusal, seen = await _turn(sender, f"Add a task to soak item {index}-{n}")
        sent += 1
        if refusal:
            refused += 1
            codes.append(refusal)
        elif status != "completed":
            incomplete += 1
        events.extend(seen)
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
        "codes": codes,
        "incomplete": incomplete,
        "events": events,
        "watched": watched,
    }


def _unpaired(rows: list[tuple[Any, ...]]) -> int:
    """Tool calls without a result and results without a call, over all conversations
    (either makes a history that chat-completions servers refuse)."""
    asked: set[tuple[int, str]] = set()
    answered: set[tuple[int, str]] = set()
    for conversation, role, calls, call_id in rows:
        if isinstance(calls, str):
            calls = json.loads(calls or "[]")
        for call in calls or ():
            asked.add((int(conversation), str(call["id"])))
        if role == "tool":
            answered.add((int(conversation), str(call_id)))
    return len(asked ^ answered)


def _stored(
    db: Database,
) -> tuple[dict[int, int], dict[int, list[str]], dict[int, list[int]], int]:
    """User messages per conversation, run statuses per conversation, step ids per run, and
    unpaired tool calls/results in the stored histories (abandoned attempts left out)."""
    queries = (
        "SELECT conversation_id, count(*) FROM tasks_message WHERE role = 'user' "
        "GROUP BY conversation_id",
        "SELECT conversation_id, status FROM tasks_agentrun",
        "SELECT run_id, id FROM tasks_runstep ORDER BY run_id, id",
        "SELECT conversation_id, role, tool_calls, tool_call_id FROM tasks_message "
        "WHERE NOT abandoned",
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
    return messages, statuses, steps, _unpaired(rows[3])


def _gaps_and_duplicates(
    events: list[dict[str, Any]], steps: dict[int, list[int]]
) -> tuple[int, int, int]:
    """Steps of the runs a client saw that it missed, that it got more than once, and that it
    got although the database does not hold them (announced, not stored)."""
    seen: dict[int, list[int]] = defaultdict(list)
    for event in events:
        if event["type"] != "token" and event.get("step") is not None:
            seen[int(event["run_id"])].append(int(event["step"]))
    gaps = duplicates = phantoms = 0
    for run, ids in seen.items():
        duplicates += len(ids) - len(set(ids))
        gaps += len(set(steps.get(run, [])) - set(ids))
        phantoms += len(set(ids) - set(steps.get(run, [])))
    return gaps, duplicates, phantoms


async def _kill_connections(db: Database, after_s: float) -> int:
    """pg_terminate_backend every server connection to the database once, mid-soak."""
    import psycopg

    await asyncio.sleep(after_s)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (db.pg_name,),
        ).fetchall()
    return len(rows)


async def soak(stack: str, conversations: int, turns: int, kill_after: float = 0) -> dict[str, Any]:
    started = time.monotonic()
    killed = 0
    with ExitStack() as exits:
        db = exits.enter_context(Database(stack))
        sessions = db.setup(conversations, "builtin", "soak")
        count = 2 if stack == "postgres" else 1
        servers = [exits.enter_context(DaphneServer(db)) for _ in range(count)]
        killer = (
            asyncio.ensure_future(_kill_connections(db, kill_after))
            if kill_after and stack == "postgres"
            else None
        )
        results = await asyncio.gather(
            *(_conversation(servers, i, s, turns) for i, s in enumerate(sessions))
        )
        if killer is not None:
            killed = await killer
        messages, statuses, steps, unpaired = _stored(db)
    lost = sum(
        max(r["sent"] - r["refused"] - messages.get(r["conversation"], 0), 0) for r in results
    )
    not_final = sum(1 for runs in statuses.values() for s in runs if s not in FINAL)
    gaps, duplicates, phantoms = _gaps_and_duplicates(
        [e for r in results for e in r["events"]], steps
    )
    watch_gaps, watch_duplicates, watch_phantoms = _gaps_and_duplicates(
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
        "refusal_codes": dict(Counter(c for r in results for c in r["codes"])),
        "incomplete": sum(r["incomplete"] for r in results),
        "lost_messages": lost,
        "runs_not_final": not_final,
        "gaps": gaps,
        "duplicates": duplicates,
        "unpaired_tool_calls": unpaired,
        "announced_not_stored": phantoms + watch_phantoms,
        "other_process_gaps": watch_gaps,
        "other_process_duplicates": watch_duplicates,
        "runs_failed": sum(s == "failed" for runs in statuses.values() for s in runs),
        "db_connections_killed": killed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", help="Write the report here too")
    parser.add_argument(
        "--kill-db-after",
        type=float,
        default=0,
        help="PostgreSQL: terminate the servers' database connections once, this many s in",
    )
    args = parser.parse_args(argv)
    if args.stack == "postgres" and not postgres_and_redis_reachable():
        print("PostgreSQL and Redis are not reachable on 127.0.0.1", file=sys.stderr)
        return 2
    report = asyncio.run(soak(args.stack, args.conversations, args.turns, args.kill_db_after))
    for key, value in report.items():
        print(f"{key:>26}  {value}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    bad = ["lost_messages", "runs_not_final", "gaps", "duplicates", "announced_not_stored"]
    bad.append("unpaired_tool_calls")
    if not args.kill_db_after:  # with a fault injected, failed runs are the expected outcome
        bad += ["incomplete", "refused"]
    return 1 if any(report[k] for k in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
