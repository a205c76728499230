"""Pay at start-up what the first message would otherwise pay: imports, templates, engines.

Measured with `python -m benchmarks.first_message` (a fresh daphne, ten messages over the
browser's HTML websocket): without this the first message took seconds longer than the tenth,
spent importing the run machinery and the model backends, building the default route (the
built-in engine loads dateparser's language data), compiling the chat page's templates,
building the task tools' argument models and schemas, importing the URLconf's views and
starting markdown-it. None of that depends on
who asks, so a served process does it once, before anyone does.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.apps import apps
from django.conf import settings

log = logging.getLogger(__name__)

MODULES = (
    "tasks.consumers",
    "tasks.rendering",
    "tasks.runner",
    "tasks.agent_tools",
    "tasks.step_writer",
    "agentcore.loop",
    "agentcore.backends.builtin",
    "agentcore.backends.fallback",
    "agentcore.backends.ollama",
    "agentcore.backends.openai_compat",
)


def _templates() -> list[str]:
    names = ["base.html", "tasks/chat.html", "registration/login.html"]
    partials = Path(settings.BASE_DIR) / "templates" / "tasks" / "partials"
    names += [f"tasks/partials/{p.name}" for p in sorted(partials.glob("*.html"))]
    return names


def warm_up() -> dict[str, float]:
    """Do the one-time work now; returns milliseconds per part (for the log and tests)."""
    from django.template.loader import get_template

    timings: dict[str, float] = {}

    def part(name: str, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            work()
        except Exception:  # a warm-up never stops a server; the request will say what is wrong
            log.warning("warm-up of %s failed", name, exc_info=True)
        timings[name] = (time.perf_counter() - started) * 1000

    part("imports", lambda: [importlib.import_module(m) for m in MODULES])
    part("URLs", _urls)
    part("templates", lambda: [get_template(name) for name in _templates()])
    part("markdown", _markdown)
    part("task tools", _task_tools)
    part("default route", _default_route)
    return timings


def _urls() -> None:
    from django.urls import reverse

    reverse("chat")  # imports every view module of the URLconf and builds the resolver


def _markdown() -> None:
    from .templatetags.taskweb import render_markdown

    render_markdown("**warm** `up`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```")


def _task_tools() -> None:
    from django.contrib.auth.models import AnonymousUser

    from .agent_tools import build_task_tools

    tools = build_task_tools(AnonymousUser())  # type: ignore[arg-type]
    if not tools.specs:  # builds the schemas, cached per arguments model for every later user
        log.warning("warm-up: the task tools have no schemas")


def _default_route() -> None:
    from .backend_routes import backend_for_route, default_route

    backend_for_route(default_route())


def start_in_background() -> threading.Thread:
    """Warm up on a thread once the app registry is ready (no queries inside `ready()`)."""

    def run() -> None:
        while not apps.ready:
            time.sleep(0.01)
        timings = warm_up()
        from django.db import connections

        connections.close_all()  # this thread's own connection, if the route read a profile
        log.info("warm-up done: %s", ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items()))

    thread = threading.Thread(target=run, name="taskweb-warm-up", daemon=True)
    thread.start()
    return thread
