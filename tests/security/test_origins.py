"""Websocket origins are exact: scheme, host and port of the site itself, or a trusted origin.

Through the real ASGI application (channels' WebsocketCommunicator, with the Host header a
browser sends), and in Chromium: a page served from another port of the same loopback host
tries to open a signed-in user's socket.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import SESSION_KEY, get_user_model
from live_browser import chromium_page, live_server_base, login, require_browser

from tasks.services import conversation_create
from taskweb.asgi import application

HOST = b"127.0.0.1:8201"
REFUSED = [
    b"http://127.0.0.1:9997",  # another port of the same host
    b"https://127.0.0.1:8201",  # another scheme
    b"https://127.0.0.1:1",
    b"http://127.0.0.1",  # port 80 is another origin
    b"ftp://127.0.0.1",
    b"ftp://127.0.0.1:8201",
    b"chrome-extension://127.0.0.1",
    b"http://localhost:8201",  # an allowed host, but not this socket's
    b"http://127.0.0.1:8201.evil.example",
    b"null",
    b"",
]


async def attempt(user, conversation_id, origin: bytes | None, host: bytes = HOST) -> bool:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    await sync_to_async(session.save)()
    headers = [(b"host", host), (b"cookie", f"sessionid={session.session_key}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    ws = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/?format=json", headers)
    connected, _ = await ws.connect()
    await ws.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_only_the_sites_exact_origin_opens_the_socket(alice):
    conv = await sync_to_async(conversation_create)(user=alice, route="builtin")
    assert await attempt(alice, conv.pk, b"http://127.0.0.1:8201")
    accepted = [o for o in [*REFUSED, None] if await attempt(alice, conv.pk, o)]
    assert accepted == []


@pytest.mark.django_db(transaction=True)
async def test_trusted_origins_match_scheme_host_and_port(alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.corp.example"]
    settings.ALLOWED_HOSTS = ["taskweb.internal"]
    conv = await sync_to_async(conversation_create)(user=alice, route="builtin")
    for origin in (b"https://app.example.com", b"https://a.corp.example"):
        assert await attempt(alice, conv.pk, origin, host=b"taskweb.internal"), origin
    for origin in (
        b"http://app.example.com",
        b"https://app.example.com:8443",
        b"https://corp.example.evil",
        b"https://evilcorp.example",
    ):
        assert not await attempt(alice, conv.pk, origin, host=b"taskweb.internal"), origin
    # A Host outside ALLOWED_HOSTS is no origin of this site, whatever the Origin says.
    assert not await attempt(alice, conv.pk, b"http://evil.example", host=b"evil.example")


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SCRIPT = """
(url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onopen = () => {
    ws.send(JSON.stringify({type: "user_message", message: "Create a task to water the cactus"}));
    resolve("open");
  };
  ws.onclose = (event) => resolve("closed " + event.code);
  ws.onerror = () => resolve("error");
})
"""


def serve_page() -> tuple[ThreadingHTTPServer, str]:
    """The attacker's page: any page at all on another port of the same host."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>elsewhere</title><p>another site</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}/"


@pytest.mark.browser
@pytest.mark.live
class CrossOriginSocket(live_server_base()):  # type: ignore[misc]
    def setUp(self) -> None:
        require_browser()
        self.user = get_user_model().objects.create_user("alice", password="alice-pw-123!")
        self.conv = conversation_create(user=self.user, route="builtin")

    def test_a_page_on_another_port_cannot_open_a_signed_in_users_socket(self) -> None:
        server, elsewhere = serve_page()
        socket_url = self.live_server_url.replace("http://", "ws://")
        socket_url += f"/ws/chat/{self.conv.pk}/?format=json"
        try:
            with chromium_page() as (page, dialogs):
                login(page, self.live_server_url, "alice", "alice-pw-123!")
                # The site's own page may open it (so the check below can fail)...
                page.goto(self.live_server_url + "/accounts/login/")
                assert page.evaluate(SCRIPT, socket_url) == "open"
                # ...a page of another origin on the same host, with the same cookies, not.
                page.goto(elsewhere)
                outcome = page.evaluate(SCRIPT, socket_url)
        finally:
            server.shutdown()
        assert outcome != "open", outcome
        assert dialogs == []
