"""ASGI applications the benchmarks serve with daphne: Taskweb and its two floors.

`daphne benchmarks.serve:taskweb` is `taskweb.asgi.application` unchanged, plus one HTTP
path, `/__bench__/counters`, that reports what the server counted since it started: database
connections opened (Django's `connection_created`) and statements executed (a cursor
`execute_wrapper`). Counting in the server makes "no connection opened during the run" a
figure that can fail: a connection opened and closed inside the window is still counted.
`echo` and `plainsql` are the floor consumers of `benchmarks.floor_apps` behind the same
origin check and session middleware.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskweb.settings")
django.setup()  # before the imports below, which need the app registry

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.db.backends.base.base import BaseDatabaseWrapper  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.urls import path  # noqa: E402

from taskweb.asgi import application as taskweb_application  # noqa: E402

from .floor_apps import EchoConsumer, PlainSQLConsumer  # noqa: E402

COUNTERS = {"connections": 0, "statements": 0}
COUNTERS_PATH = "/__bench__/counters"
ASGIApp = Callable[..., Any]


def _count_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    COUNTERS["statements"] += 1
    return execute(sql, params, many, context)


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    COUNTERS["connections"] += 1
    if _count_statement not in connection.execute_wrappers:  # one wrapper, however many opens
        connection.execute_wrappers.append(_count_statement)


connection_created.connect(_connection_opened)


def with_counters(app: ASGIApp) -> ASGIApp:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == COUNTERS_PATH:
            body = json.dumps(COUNTERS).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return application


def _floor(consumer: Any) -> ASGIApp:
    route = [path("ws/chat/<int:conversation_id>/", consumer.as_asgi())]
    websocket = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(route)))
    return with_counters(ProtocolTypeRouter({"websocket": websocket}))


taskweb = with_counters(taskweb_application)
echo = _floor(EchoConsumer)
plainsql = _floor(PlainSQLConsumer)
