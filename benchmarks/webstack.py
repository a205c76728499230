"""A real daphne server for the web benchmarks, its throw-away database, and websocket clients.

One daphne process per scenario (a fresh process, so its peak memory is the scenario's own),
against a throw-away SQLite file, or a throw-away PostgreSQL database with Redis. It runs
with production settings (`DJANGO_DEBUG=0`: no query log growing in memory) and a raised
per-user message rate limit (TASKWEB_RATE_LIMIT), since one benchmark user sends more
messages a minute than a person; each conversation belongs to its own user, so the per-user
run limit (TASKWEB_MAX_CONCURRENT_RUNS) keeps its default.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from agentcore.compat import timeout

from .stats import ROOT, Figure

COUNTERS_PATH = "/__bench__/counters"

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_BENCH_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "taskweb.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-secret-key-not-for-production-use-0123456789",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "TASKWEB_RATE_LIMIT": "1000000/60",
    "TASKWEB_LOG_LEVEL": "ERROR",
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_and_redis_reachable() -> bool:
    return _reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)


def stop_process(process: subprocess.Popen[bytes], wait_s: float) -> None:
    """Terminate a server the benchmark started; kill it if it does not go in `wait_s`."""
    process.terminate()
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class Database:
    """A throw-away database: a SQLite file, or a PostgreSQL database (+ Redis layer)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.dir = tempfile.TemporaryDirectory(prefix="bench-db-")
        self.pg_name = f"taskweb_bench_{uuid.uuid4().hex[:8]}"
        self.migrated = False
        if kind == "sqlite":
            self.env = {"DATABASE_URL": f"sqlite:///{self.dir.name}/bench.sqlite3"}
        else:
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            self.env = {"DATABASE_URL": f"{base}/{self.pg_name}", "REDIS_URL": REDIS_BENCH_URL}

    def __enter__(self) -> Database:
        if self.kind == "postgres":
            self._admin(f'CREATE DATABASE "{self.pg_name}"')
        else:
            shutil.copyfile(_migrated_sqlite(), Path(self.dir.name) / "bench.sqlite3")
            self.migrated = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.kind == "postgres":
            self._admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        self.dir.cleanup()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type,unused-ignore]

    def sessions_opened(self) -> int | None:
        """Sessions PostgreSQL has opened to this database so far (pg_stat_database.sessions).

        A cumulative counter: unlike counting pg_stat_activity before and after, it also sees
        a connection opened and closed in between. PostgreSQL publishes it within a second.
        """
        if self.kind != "postgres":
            return None
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.pg_name,)
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def setup(self, users: int, route: str, prefix: str) -> list[dict[str, Any]]:
        """Users, conversations and session cookies, made by `benchmarks.setup_db`."""
        command = [sys.executable, "-m", "benchmarks.setup_db", "--users", str(users),
                   "--route", route, "--prefix", prefix]  # fmt: skip
        if self.migrated:
            command.append("--no-migrate")
        env = {**os.environ, **SERVER_ENV, **self.env}
        if "REDIS_URL" not in self.env:
            env.pop("REDIS_URL", None)
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"setup_db failed:\n{done.stderr[-3000:]}")
        self.migrated = True
        result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


_TEMPLATE: list[Path] = []
"""A migrated SQLite file made once per run, copied for each throw-away database."""


def _migrated_sqlite() -> Path:
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="bench-template-"))
        path = folder / "template.sqlite3"
        env = {**os.environ, **SERVER_ENV, "DATABASE_URL": f"sqlite:///{path}"}
        env.pop("REDIS_URL", None)
        command = [sys.executable, "-m", "benchmarks.setup_db", "--users", "0"]
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"migrating the template database failed:\n{done.stderr[-3000:]}")
        atexit.register(shutil.rmtree, folder, True)
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaphneServer:
    """`with DaphneServer(db) as server:` — one daphne process on a free loopback port."""

    def __init__(self, db: Database, app: str = "taskweb") -> None:
        self.db = db
        self.app = app
        """An application of `benchmarks.serve`: taskweb, echo or plainsql."""
        self.port = _free_port()
        self.log = Path(db.dir.name) / f"daphne-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> DaphneServer:
        env = {**os.environ, **SERVER_ENV, **self.db.env}
        if "REDIS_URL" not in self.db.env:
            env.pop("REDIS_URL", None)
        daphne = Path(sys.executable).parent / "daphne"
        command = [str(daphne), "-b", "127.0.0.1", "-p", str(self.port),
                   f"benchmarks.serve:{self.app}"]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while not _reachable("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"daphne did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            stop_process(self.process, 15)
            self.process = None

    def counters(self) -> dict[str, int]:
        """Connections and statements the server counted since it started (`benchmarks.serve`)."""
        url = f"http://127.0.0.1:{self.port}{COUNTERS_PATH}"
        with urllib.request.urlopen(url, timeout=30) as response:
            data: dict[str, int] = json.loads(response.read())
        return data

    async def connect(self, session: dict[str, Any], *, html: bool = False) -> ClientConnection:
        """A chat socket: a script's (`?format=json`) or, with `html`, a browser's (htmx)."""
        query = "after_step=0" if html else "format=json"
        url = f"ws://127.0.0.1:{self.port}/ws/chat/{session['conversation']}/?{query}"
        headers = {"Cookie": session["cookie"], "Origin": f"http://127.0.0.1:{self.port}"}
        return await connect(
            url,
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            open_timeout=30,
            max_queue=None,
        )


@dataclass
class TurnResult:
    """One message sent and its run followed to `run_finished`, with arrival times."""

    sent: float
    """time.time() when the message was sent (wall clock, comparable with event `ts`)."""
    final: float | None = None
    finished: float | None = None
    status: str = ""
    refusal: str = ""
    """The server's error code when it refused the message (no run started)."""
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "completed" and self.final is not None

    @property
    def to_final_ms(self) -> float | None:
        return None if self.final is None else (self.final - self.sent) * 1000


async def turn(ws: ClientConnection, text: str, *, limit_s: float = 120) -> TurnResult:
    """Send one user message and read events until its run finishes (or is refused)."""
    result = TurnResult(sent=time.time())
    await ws.send(json.dumps({"type": "user_message", "message": text}))
    async with timeout(limit_s):
        while True:
            raw = await ws.recv()
            now = time.time()
            event = json.loads(raw)
            if "code" in event:  # a refusal for this client, not a run event
                result.refusal = str(event["code"])
                return result
            result.events.append((now, event))
            if event["type"] == "final":
                result.final = now
            elif event["type"] == "run_finished":
                result.finished = now
                result.status = str(event["payload"].get("status"))
                return result


HTML_END = re.compile(r'class="run-summary status-(?!running)(\w+)" hx-swap-oob="true"')
"""The run summary swapped in at `run_finished`. Not the one inside the run's header: that is
rendered from the database when `run_started` is delivered, which under load can be after
the run ended, so it may already show the final status."""
HTML_FINAL = re.compile(r'id="answer-\d+" hx-swap-oob="true" class="msg assistant')
HTML_REFUSAL = re.compile(r'class="notice error" data-code="([\w-]+)"')


async def turn_html(ws: ClientConnection, text: str, *, limit_s: float = 120) -> TurnResult:
    """One message sent as a browser sends it (htmx's ws-send form shape), read to the run's end.

    The frames are HTML fragments; the run's end is the out-of-band run summary with a final
    status (`HTML_END`), and `final` the frame that swaps the answer in.
    """
    result = TurnResult(sent=time.time())
    headers = {"HX-Request": "true", "HX-Trigger": "composer", "HX-Trigger-Name": None,
               "HX-Target": "composer", "HX-Current-URL": "http://127.0.0.1/"}  # fmt: skip
    form = {"type": "user_message", "message": text, "HEADERS": headers}
    await ws.send(json.dumps(form))
    async with timeout(limit_s):
        while True:
            raw = str(await ws.recv())
            now = time.time()
            refused = HTML_REFUSAL.search(raw)
            if refused:
                result.refusal = refused.group(1)
                return result
            if HTML_FINAL.search(raw):
                result.final = now
            end = HTML_END.search(raw)
            if end:
                result.finished = now
                result.status = end.group(1)
                return result


async def open_sockets(
    server: DaphneServer, sessions: list[dict[str, Any]], *, html: bool = False
) -> list[ClientConnection]:
    """Connect every session's socket before a timed window (a few at a time, as tabs open)."""
    gate = asyncio.Semaphore(20)

    async def one(session: dict[str, Any]) -> ClientConnection:
        async with gate:
            return await server.connect(session, html=html)

    return list(await asyncio.gather(*(one(s) for s in sessions)))


async def close_sockets(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def on_each_stack(
    name: str,
    scenario: Callable[[str, str], Awaitable[list[Figure]]],
    *,
    postgres: bool,
    why_not: str,
) -> list[Figure]:
    """`scenario(stack, label)` on SQLite + the in-memory layer, then on PostgreSQL + Redis
    when the preset asks for it (else skipped with `why_not`) and both answer."""
    figures = await scenario("sqlite", "SQLite+memory")
    label = "PostgreSQL+Redis"
    if not postgres:
        figures.append(Figure.skipped(name, label, why_not))
    elif not postgres_and_redis_reachable():
        figures.append(Figure.skipped(name, label, "PostgreSQL or Redis not reachable"))
    else:
        figures.extend(await scenario("postgres", label))
    return figures
