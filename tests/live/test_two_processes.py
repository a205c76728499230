"""Two daphne processes on PostgreSQL + Redis: live steps and circuit state cross processes.

The test makes its own PostgreSQL database and Redis db, so it does not depend on which
database the rest of the suite runs on. It needs the services and a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from live_browser import chromium_page, login, require_browser

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/3"


def reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_services() -> None:
    missing = [
        name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable(port)
    ]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not reachable on 127.0.0.1"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@contextmanager
def database(env: dict[str, str]):
    import psycopg

    name = f"taskweb_twoproc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def daphne(env: dict[str, str], port: int):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "taskweb.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not reachable(port):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            assert time.monotonic() < deadline, "daphne did not start in 30 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SETUP = """
from django.contrib.auth import get_user_model
from tasks.models import BackendProfile
from tasks.services import conversation_create
u = get_user_model().objects.create_user("alice", password="alice-pw-123!")
BackendProfile.objects.create(
    name="dead-ollama", kind="ollama", model="task-api-model", base_url="http://127.0.0.1:9"
)
a = conversation_create(user=u, route="builtin")
b = conversation_create(user=u, route="dead-ollama,builtin")
c = conversation_create(user=u, route="dead-ollama,builtin")
print(a.pk, b.pk, c.pk)
"""


def test_a_run_in_process_b_streams_live_to_a_page_on_process_a_and_breakers_are_shared():
    require_services()
    require_browser()
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    with ExitStack() as stack:
        url = stack.enter_context(database(base_env))
        env = {**base_env, "DATABASE_URL": url, "REDIS_URL": REDIS, "DJANGO_DEBUG": "1"}
        manage(env, "migrate", "--no-input", "-v0")
        first, breaker_b, breaker_a = manage(env, "shell", "-c", SETUP).splitlines()[-1].split()
        a = stack.enter_context(daphne(env, free_port()))
        b = stack.enter_context(daphne(env, free_port()))
        with chromium_page() as (page_a, dialogs):
            login(page_a, a, "alice", "alice-pw-123!")
            page_a.goto(f"{a}/c/{first}/")
            page_a.wait_for_selector("#composer textarea")
            page_b = page_a.context.new_page()  # same cookies: the session lives in PostgreSQL
            page_b.goto(f"{b}/c/{first}/")
            page_b.wait_for_selector("#composer textarea")
            page_a.wait_for_timeout(500)  # both sockets open before the run starts
            page_b.fill("#composer textarea", "Create a task to water the plants tomorrow")
            page_b.click("#composer button[type=submit]")
            # The run executes in process B; the page on process A sees it live, no reload.
            page_a.locator(".step-tool_call", has_text="create_task").wait_for(timeout=15_000)
            page_a.locator("#task-panel .task", has_text="water the plants").wait_for()
            page_a.locator(".run-summary.status-completed").wait_for()

            # Trip the breaker for the dead Ollama from process B (one failure per run: a run
            # does not ask a backend that failed in it again)...
            page_b.goto(f"{b}/c/{breaker_b}/")
            for n in range(3):
                page_b.fill("#composer textarea", f"Add a task to buy stamps {n}")
                page_b.click("#composer button[type=submit]")
                page_b.locator(".run-summary.status-completed").nth(n).wait_for(timeout=15_000)
            # ...and process A skips it without a connection attempt.
            page_a.goto(f"{a}/c/{breaker_a}/")
            page_a.wait_for_selector("#composer textarea")
            assert page_a.locator(".circuit-open").count() == 1
            page_a.fill("#composer textarea", "What's on my list?")
            page_a.click("#composer button[type=submit]")
            page_a.locator(".run-summary.status-completed").wait_for(timeout=15_000)
            reasons = page_a.locator(".step-fallback").all_inner_texts()
            assert reasons and all("circuit open until" in r for r in reasons), reasons
            assert dialogs == []
