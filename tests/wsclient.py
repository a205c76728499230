"""A websocket client for tests: the real ASGI app, a logged-in session, an Origin header."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import SESSION_KEY

from taskweb.asgi import application

ORIGIN = (b"origin", b"http://localhost")


async def connect(user, conversation_id, *, fmt="json", origin=ORIGIN, after=None):
    from django.contrib.sessions.backends.db import SessionStore

    headers = [(b"host", b"localhost"), origin] if origin else [(b"host", b"localhost")]
    if user is not None:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        await sync_to_async(session.save)()
        headers.append((b"cookie", f"sessionid={session.session_key}".encode()))
    path = f"/ws/chat/{conversation_id}/"
    query = [f"format={fmt}"] if fmt else []
    if after is not None:
        query.append(f"after_step={after}")
    if query:
        path += "?" + "&".join(query)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def events_until(communicator, last="run_finished", timeout=5.0):
    events = []
    while True:
        raw = await communicator.receive_from(timeout=timeout)
        event = json.loads(raw)
        events.append(event)
        if event["type"] == last:
            return events
