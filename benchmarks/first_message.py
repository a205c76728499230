"""First message after a server start against the tenth: what a cold process makes people wait.

`python -m benchmarks.first_message [--route builtin] [--rounds 3] [--settle 3]`: each round
starts a fresh daphne (production settings, SQLite), waits `--settle` seconds (the warm-up
runs on a thread while the port is already open), loads the chat page twice over HTTP, then
sends ten
messages over one HTML websocket (the browser's path: fragments rendered from templates),
each after the previous run finished. Prints, per round, the page load times and for each
message the time until its user-message fragment came back and until its run finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import urllib.request
from typing import Any

from websockets.asyncio.client import connect

from .webstack import DaphneServer, Database

MESSAGES = [
    "Create a task to review the marketing proposal by Friday",
    "What's on my list?",
    "Add a task to buy stamps",
    "Create a high priority task to call the plumber tomorrow",
    "What's on my list?",
    "Add a task to water the plants",
    "Mark task 2 done",
    "What's on my list?",
    "Add a task to book the dentist next Monday",
    "What's on my list?",
]


def _get(url: str, cookie: str) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


async def _turns(server: DaphneServer, session: dict[str, Any]) -> list[tuple[float, float]]:
    url = f"ws://127.0.0.1:{server.port}/ws/chat/{session['conversation']}/"
    headers = {"Cookie": session["cookie"], "Origin": f"http://127.0.0.1:{server.port}"}
    results = []
    async with connect(url, additional_headers=headers, open_timeout=60) as socket:
        for text in MESSAGES:
            started = time.perf_counter()
            await socket.send(json.dumps({"type": "user_message", "message": text}))
            echoed = None
            while True:
                frame = str(await asyncio.wait_for(socket.recv(), 60))
                now = (time.perf_counter() - started) * 1000
                if echoed is None and 'id="transcript" hx-swap-oob="beforeend"' in frame:
                    echoed = now
                if 'data-status="completed"' in frame or 'data-status="failed"' in frame:
                    break
            results.append((echoed or now, now))
    return results


def run_round(route: str, settle_s: float) -> dict[str, Any]:
    with Database("sqlite") as db:
        session = db.setup(1, route, "first")[0]
        with DaphneServer(db) as server:
            time.sleep(settle_s)
            page = f"http://127.0.0.1:{server.port}/c/{session['conversation']}/"
            loads = [_get(page, session["cookie"]) for _ in range(2)]
            turns = asyncio.run(_turns(server, session))
    return {"page_ms": loads, "turns_ms": turns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--route", default="builtin")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds between the port opening and the first request (a person is not faster)",
    )
    args = parser.parse_args()
    firsts, tenths = [], []
    for n in range(args.rounds):
        result = run_round(args.route, args.settle)
        turns = result["turns_ms"]
        firsts.append(turns[0][1])
        tenths.append(turns[-1][1])
        pages = ", ".join(f"{ms:.0f}" for ms in result["page_ms"])
        echo = ", ".join(f"{e:.0f}" for e, _ in turns)
        done = ", ".join(f"{d:.0f}" for _, d in turns)
        print(f"round {n + 1}: page loads {pages} ms | echo {echo} ms | finished {done} ms")
    print(
        f"first message to run_finished: median {statistics.median(firsts):.0f} ms;"
        f" tenth: median {statistics.median(tenths):.0f} ms"
    )


if __name__ == "__main__":
    main()
