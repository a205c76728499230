"""An attacker's session against a live daphne on loopback; prints what got through.

Not a test (pytest does not collect it): `python tests/security/attack_loopback.py`. A normal
user tries ad-hoc routes through the forms and the websocket (an "attacker" scripted server
counts the requests that reach it), crafted Origin headers, huge and hostile model answers
through an operator's profile, CSV formula payloads, and a flood of new conversations.
"""

# ruff: noqa: ASYNC212  (the attacker's blocking client is fine in a script)
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

WT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(WT))
from agentcore.backends.base import TextDelta  # noqa: E402
from agentcore.testing.server import ScriptedServer  # noqa: E402

PY = sys.executable
DB = str(Path(tempfile.mkdtemp(prefix="taskweb-attack-")) / "db.sqlite3")
KEY = "sk-operator-secret-attack-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


HUGE_TEXT = " ".join(["a" * 9999] * 100)
FENCES = "```" + " " * 1_000_000
BRACKETS = "[" * 1_000_000
CSV_PAYLOAD = "x;=cmd|' /C calc'!A0 and =1+1 and a,@SUM(A1) and \r=2"


def main() -> None:
    attacker = ScriptedServer(["never"] * 50).start()
    upstream = ScriptedServer(
        [
            HUGE_TEXT,
            [TextDelta(FENCES)],
            [TextDelta(BRACKETS)],
            [TextDelta("<tool_call>" * 90000)],
            [TextDelta("> " * 500000)],
            CSV_PAYLOAD,
        ]
        + ["ok"] * 20
    ).start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{DB}",
        "DJANGO_DEBUG": "1",
        "OPENAI_API_KEY": KEY,
        "TASKWEB_ROUTE": "builtin",
        "PYTHONPATH": str(WT),
    }
    env.pop("REDIS_URL", None)

    def run(*args: str) -> None:
        subprocess.run([PY, "manage.py", *args], cwd=WT, env=env, check=True, capture_output=True)

    run("migrate", "--no-input", "-v0")
    run(
        "shell",
        "-c",
        f"""
from django.contrib.auth import get_user_model
from tasks.models import BackendProfile
get_user_model().objects.create_user("mallory", password="mallory-pw-123!")
BackendProfile.objects.create(name="upstream", kind="openai_compat", model="m", base_url="{upstream.url}/v1", api_key_env="OPENAI_API_KEY")
""",
    )
    daphne = subprocess.Popen(
        [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "taskweb.asgi:application"],
        cwd=WT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/accounts/login/", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        asyncio.run(attack(base, port, attacker, upstream, daphne.pid))
    finally:
        daphne.terminate()
        daphne.wait(10)
        attacker.stop()
        upstream.stop()


def panel_seconds(client) -> float:
    """How long another page of the app takes while a hostile answer is processed."""
    started = time.monotonic()
    client.get("/tasks/panel/")
    return time.monotonic() - started


async def attack(base, port, attacker, upstream, pid):
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    c.get("/accounts/login/")
    r = c.post(
        "/accounts/login/",
        data={
            "username": "mallory",
            "password": "mallory-pw-123!",
            "csrfmiddlewaretoken": c.cookies["csrftoken"],
        },
        headers={"Referer": base + "/accounts/login/"},
    )
    assert r.status_code == 302, r.status_code

    def post(path, data):
        data = {**data, "csrfmiddlewaretoken": c.cookies["csrftoken"]}
        return c.post(path, data=data, headers={"Referer": base + "/"})

    results = {}

    # A. ad-hoc routes through the forms
    url = attacker.url
    routes = [
        f"openai_compat:m@{url}/v1",
        f"ollama:m@{url}",
        f"ollama:m@{url}/internal/secret?x=",
        f"builtin,openai_compat:m@{url}/v1",
        f"upstream,ollama:m@{url}",
        " openai_compat:m@" + url + "/v1 ",
        f"OPENAI_COMPAT:m@{url}/v1",
        "llamacpp:/etc/passwd",
        "llamacpp:/nope.gguf",
        "llamacpp:../../db.sqlite3",
        f"openai_compat:m@{url}/v1#tool_choice=required",
        "builtin\uff0copenai_compat:m@" + url + "/v1",
        "upstream" + "," * 600,
        "nonexistent-profile",
        f"upstream@{url}",
        f"upstream:m@{url}",
    ]
    accepted = []
    answers = set()
    first = post("/c/new/", {"route": "builtin"})
    conv = int(first.headers["location"].rstrip("/").split("/")[-1])
    for route in routes:
        for path in ("/c/new/", f"/c/{conv}/route/"):
            resp = post(path, {"route": route})
            if resp.status_code != 400:
                accepted.append((path, route, resp.status_code))
            else:
                m = re.search(r'<p class="notice error"[^>]*>(.*?)</p>', resp.text, re.S)
                answers.add(
                    m.group(1).replace(route[:80].replace("'", "&#x27;"), "R")
                    if m
                    else resp.text[:80]
                )
    results["A forms: ad-hoc routes tried"] = len(routes) * 2
    results["A forms: accepted"] = accepted
    results["A forms: llamacpp existing vs missing path answers identical"] = (
        len({a for a in answers if "passwd" in a or "nope" in a}) <= 1
    )

    # B. websocket: route fields in frames, then a message on the conversation
    origin = {"Origin": base, "Cookie": f"sessionid={c.cookies['sessionid']}"}
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/chat/{conv}/?format=json", additional_headers=origin
    ) as ws:
        frames = [
            {"type": "user_message", "message": "hi", "route": f"openai_compat:m@{url}/v1"},
            {"type": "route", "route": f"openai_compat:m@{url}/v1"},
            {"type": "set_route", "value": f"ollama:m@{url}"},
            {"message": "hi", "HEADERS": {"route": f"ollama:m@{url}"}, "route": f"ollama:m@{url}"},
        ]
        for frame in frames:
            await ws.send(json.dumps(frame))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                except asyncio.TimeoutError:  # 3.10: not yet the builtin TimeoutError
                    break
                if msg["type"] == "run_finished" or msg.get("code") not in (
                    None,
                    "run_in_progress",
                ):
                    break
    results["B websocket: route frames sent"] = len(frames)
    results["B+A attacker server requests (must be 0)"] = len(attacker.requests)

    # C. crafted origins
    origins = [
        base,
        f"http://127.0.0.1:{port + 1}",
        f"https://127.0.0.1:{port}",
        "https://127.0.0.1:1",
        "ftp://127.0.0.1",
        f"ftp://127.0.0.1:{port}",
        "chrome-extension://127.0.0.1",
        "http://127.0.0.1",
        f"http://localhost:{port}",
        f"http://127.0.0.1:{port}.evil.example",
        "null",
        f"http://127.0.0.1:{port}/",
        f"HTTP://127.0.0.1:{port}",
        f"http://user@127.0.0.1:{port}",
        f"http://127.0.0.1:0{port}",
        f"http://[::1]:{port}",
        f"ws://127.0.0.1:{port}",
        f"file://127.0.0.1:{port}",
        "",
    ]
    opened = []
    for o in origins:
        headers = {"Cookie": f"sessionid={c.cookies['sessionid']}"}
        if o:
            headers["Origin"] = o
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/chat/{conv}/?format=json",
                additional_headers=headers,
                open_timeout=5,
            ):
                opened.append(o)
        except Exception:
            pass
    results["C origins tried"] = len(origins)
    results["C origins accepted"] = opened

    # D. huge answers (via the operator's profile: the scripted upstream)
    before = rss(pid)
    r = post("/c/new/", {"route": "upstream"})
    hconv = int(r.headers["location"].rstrip("/").split("/")[-1])
    lat = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/chat/{hconv}/?format=json",
        additional_headers=origin,
        max_size=None,
    ) as ws:
        for label in (
            "1 MB text",
            "fences + 1 MB spaces",
            "1 MB of [",
            "1 MB unclosed tags",
            "1 MB of > (nesting)",
            "csv payload",
        ):
            await ws.send(json.dumps({"type": "user_message", "message": label}))
            final_len, status, t0 = None, None, time.monotonic()
            panel = asyncio.create_task(asyncio.to_thread(panel_seconds, c))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if msg["type"] == "final":
                    final_len = len(msg["payload"]["text"])
                if msg["type"] == "run_finished":
                    status = msg["payload"]["status"]
                    break
            lat.append(
                (label, status, final_len, round(time.monotonic() - t0, 2), round(await panel, 3))
            )
    results["D huge answers (label, status, final chars, seconds, /tasks/panel/ seconds)"] = lat
    results["D daphne RSS MB before/after"] = (before, rss(pid))
    results["D key sent to the profile's own URL only"] = all(
        rq.headers.get("authorization") == f"Bearer {KEY}" for rq in upstream.chat_requests
    )

    # E. CSV payloads
    body = c.get("/export/steps.csv?period=all").text + c.get("/export/runs.csv?period=all").text
    bad = [
        cell
        for delim in (",", ";", "\t")
        for line in body.splitlines()
        for cell in line.split(delim)
        if cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]
    results["E csv cells starting a formula (naive split on , ; tab)"] = len(bad)
    results["E csv payload exported"] = "calc" in body

    # F. conversation flood
    codes = [post("/c/new/", {"route": "builtin"}).status_code for _ in range(30)]
    results["F conversations: 30 more posted -> 302/429"] = (codes.count(302), codes.count(429))
    for k, v in results.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
