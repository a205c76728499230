"""Routes are the operator's: a signed-in user picks among enabled profiles, never a URL.

The "attacker's endpoint" in these tests is the scripted HTTP server: it records every
request, so "the server made no request there" and "no key went there" are checked on the
wire, through the real views, the real ASGI app and the real runner.
"""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse
from wsclient import connect, events_until

from agentcore.testing.faults import status
from agentcore.testing.server import ScriptedServer
from tasks import backend_routes
from tasks.models import AgentRun, BackendProfile, Conversation, RunStep
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "sk-operator-secret-0123456789"
SECRET_BODY = "internal-only body: db at http://10.9.8.7:5432/prod and /srv/secret/config.yaml"


def profile(server_url: str, **fields) -> BackendProfile:
    name = f"p-{uuid.uuid4().hex[:8]}"
    values = {
        "kind": "openai_compat",
        "model": "m",
        "base_url": f"{server_url}/v1",
        "api_key_env": "TASKWEB_TEST_PROFILE_KEY",
    }
    return BackendProfile.objects.create(name=name, **(values | fields))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_user_cannot_save_a_url_or_a_path_as_a_route(alice):
    client = logged_in(alice)
    conv = conversation_create(user=alice, route="builtin")
    hostile = [
        "openai_compat:m@http://127.0.0.1:9/v1",
        "ollama:m@http://127.0.0.1:9/internal/secret?x=",
        "builtin,openai_compat:m@http://127.0.0.1:9/v1",
        "llamacpp:/etc/passwd",
        "llamacpp:/nope.gguf",
        "no-such-profile",
    ]
    answers = []
    for route in hostile:
        before = Conversation.objects.count()
        new = client.post(reverse("conversation_new"), {"route": route})
        assert new.status_code == 400, route
        assert Conversation.objects.count() == before
        change = client.post(reverse("conversation_route", args=[conv.pk]), {"route": route})
        assert change.status_code == 400, route
        conv.refresh_from_db()
        assert conv.route == "builtin"
        text = new.content.decode()
        assert "not a backend profile you can use" in text
        notice = re.search(r'<p class="notice error".*?</p>', text, re.DOTALL)
        assert notice is not None
        answers.append(notice.group(0).replace(html.escape(route, quote=True), "ROUTE"))
    # A path that exists and one that does not get the same answer: no file oracle.
    assert answers[3] == answers[4]


def test_a_user_can_pick_enabled_profiles_builtin_and_the_default(alice):
    client = logged_in(alice)
    p = profile("http://127.0.0.1:9")
    off = profile("http://127.0.0.1:9", enabled=False)
    for route in ["", "builtin", p.name, f"{p.name},builtin"]:
        response = client.post(reverse("conversation_new"), {"route": route})
        assert response.status_code == 302, route
    assert client.post(reverse("conversation_new"), {"route": off.name}).status_code == 400


async def test_a_stored_adhoc_route_ends_the_run_with_an_error_and_no_request(alice, monkeypatch):
    """A route saved before the fix (or written to the database) reaches nothing."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with ScriptedServer(["You should never see this."]) as attacker:
        route = f"openai_compat:m@{attacker.url}/v1"
        conv = await sync_to_async(conversation_create)(user=alice, route=route)
        ws, connected, _ = await connect(alice, conv.pk)
        assert connected
        await ws.send_json_to({"type": "user_message", "message": "hello"})
        events = await events_until(ws)
        await ws.disconnect()
    assert attacker.requests == []
    assert events[-1]["payload"]["status"] == "failed"
    error = next(e for e in events if e["type"] == "error" and "payload" in e)  # the step
    assert "not a backend profile you can use" in error["payload"]["message"]
    run = await AgentRun.objects.aget()
    assert run.status == "failed"


async def test_staff_adhoc_routes_never_carry_the_operators_key(admin_user, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with ScriptedServer(["Hi from the ad-hoc server."]) as other:
        route = f"openai_compat:m@{other.url}/v1"
        conv = await sync_to_async(conversation_create)(user=admin_user, route=route)
        ws, _, _ = await connect(admin_user, conv.pk)
        await ws.send_json_to({"type": "user_message", "message": "hello"})
        events = await events_until(ws)
        await ws.disconnect()
    assert events[-1]["payload"]["status"] == "completed"
    assert other.requests, "staff may use ad-hoc specs"
    assert all("authorization" not in r.headers for r in other.requests)


async def test_a_profiles_key_goes_to_its_own_base_url_only(alice, monkeypatch):
    monkeypatch.setenv("TASKWEB_TEST_PROFILE_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with ScriptedServer(["From the profile."]) as own, ScriptedServer(["x"]) as attacker:
        p = await sync_to_async(profile)(own.url)
        conv = await sync_to_async(conversation_create)(user=alice, route=p.name)
        ws, _, _ = await connect(alice, conv.pk)
        await ws.send_json_to({"type": "user_message", "message": "hello"})
        events = await events_until(ws)
        # Then the attacker tries to point the conversation elsewhere through the form.
        client = Client()
        await sync_to_async(client.force_login)(alice)
        url = reverse("conversation_route", args=[conv.pk])
        refused = await sync_to_async(client.post)(
            url, {"route": f"openai_compat:m@{attacker.url}/v1"}
        )
        await ws.send_json_to({"type": "user_message", "message": "again"})
        await events_until(ws)
        await ws.disconnect()
    assert events[-1]["payload"]["status"] == "completed"
    assert refused.status_code == 400
    assert [r.headers.get("authorization") for r in own.chat_requests] == [f"Bearer {KEY}"] * 2
    assert attacker.requests == []


async def test_users_see_the_profile_and_a_short_reason_staff_see_the_detail(
    alice, admin_user, monkeypatch
):
    async with ScriptedServer([status(403, SECRET_BODY), status(403, SECRET_BODY)]) as upstream:
        p = await sync_to_async(profile)(upstream.url)
        mine = await sync_to_async(conversation_create)(user=alice, route=p.name)
        theirs = await sync_to_async(conversation_create)(user=admin_user, route=p.name)
        frames = {}
        for user, conv in ((alice, mine), (admin_user, theirs)):
            ws, _, _ = await connect(user, conv.pk)
            await ws.send_json_to({"type": "user_message", "message": "hello"})
            frames[user.username] = await events_until(ws)
            await ws.disconnect()
            # The HTML socket of a reconnecting page replays the same steps.
            ws, _, _ = await connect(user, conv.pk, fmt=None, after=0)
            fragments = []
            while not await ws.receive_nothing(timeout=1):
                fragments.append(await ws.receive_from())
            frames[user.username + "-html"] = fragments
            await ws.disconnect()
    alice_text = json.dumps(frames["alice"]) + "".join(frames["alice-html"])
    staff_text = json.dumps(frames["admin"]) + "".join(frames["admin-html"])
    for leak in ("internal-only", "10.9.8.7", "/srv/secret", upstream.url):
        assert leak not in alice_text, leak
    error = next(e for e in frames["alice"] if e["type"] == "error")["payload"]["message"]
    assert p.name in error and "403" in error
    assert "internal-only" in staff_text

    def pages():
        run = AgentRun.objects.get(conversation=mine)
        seen = [
            logged_in(alice).get(reverse("conversation", args=[mine.pk])).content.decode(),
            logged_in(alice).get(reverse("run_detail", args=[run.pk])).content.decode(),
            b"".join(logged_in(alice).get("/export/steps.csv?period=all")).decode(),
        ]
        seen.append(b"".join(logged_in(alice).get("/export/runs.csv?period=all")).decode())
        staff = logged_in(admin_user).get(reverse("run_detail", args=[run.pk])).content.decode()
        return seen, staff

    seen, staff = await sync_to_async(pages)()
    for page in seen:
        for leak in ("internal-only", "10.9.8.7", "/srv/secret", upstream.url):
            assert leak not in page, leak
    assert "internal-only" in staff
    stored = [s.payload async for s in RunStep.objects.filter(type="error")]
    assert any("internal-only" in json.dumps(p) for p in stored), "the detail is kept for staff"


def test_the_route_cache_is_bounded():
    backend_routes.clear_cache()
    limit = backend_routes.cache_limit()
    for extra in range(limit + 20):
        backend_routes.backend_for_route("builtin" + "," * (extra + 1))
    assert len(backend_routes._cache) <= limit
