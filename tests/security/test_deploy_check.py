"""Production settings: the deploy check passes, pages carry a strict CSP, secrets never show.

The secret key and an API key set in the environment must appear in no page, event, stored
step or message, admin page or log line of a run that used a backend with that key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from run_helpers import make_conversation, run_turn

from agentcore.messages import ToolCall
from agentcore.testing.faults import status
from agentcore.testing.server import ScriptedServer
from tasks.models import AgentRun, BackendProfile, Message, RunStep

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-test-canary-" + "7" * 24


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="taskweb.example",
        **extra,
    )
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_manage_check_deploy_reports_no_issues_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output and "ERROR" not in output


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_settings_turn_on_secure_cookies_hsts_and_https():
    code = (
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_CONTENT_TYPE_NOSNIFF,"
        "s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src']]))"
    )
    result = manage("shell", "-c", code, env=production_env())
    assert result.returncode == 0, result.stderr
    debug, session, csrf, ssl, hsts, subdomains, nosniff, script_src = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert (debug, session, csrf, ssl, subdomains, nosniff) == (False, True, True, True, True, True)
    assert hsts >= 31_536_000
    assert script_src == ["'self'"]


def page_urls(user) -> list[str]:
    urls = [reverse("chat"), reverse("task_panel"), "/admin/", "/admin/tasks/task/"]
    with contextlib.suppress(NoReverseMatch):
        urls.append(reverse("stats"))
    return urls


@pytest.mark.django_db
def test_every_page_sends_a_csp_that_allows_only_the_apps_own_scripts(admin_user):
    client = Client()
    pages = [client.get("/accounts/login/")]
    client.force_login(admin_user)
    pages += [client.get(url, follow=True) for url in page_urls(admin_user)]
    for response in pages:
        policy = response.headers.get("Content-Security-Policy", "")
        directives = dict(
            ([*part.strip().split(" ", 1), ""])[:2] for part in policy.split(";") if part.strip()
        )
        assert directives.get("script-src") == "'self'", (response.request["PATH_INFO"], policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert directives.get("object-src") == "'none'"
        assert directives.get("base-uri") == "'none'"
        assert directives.get("frame-ancestors") == "'none'"


@pytest.mark.django_db(transaction=True)
async def test_the_api_key_and_secret_key_never_show_in_events_steps_pages_or_logs(
    alice, admin_user, monkeypatch, caplog
):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    caplog.set_level(logging.DEBUG)
    leaked_back = f"Incorrect API key provided: {API_KEY}. Your key is {API_KEY}"
    script = [
        ToolCall(id="c1", name="create_task", arguments={"title": "Ship it"}),
        "Added it.",
        status(401, leaked_back),  # an upstream that echoes the key in its error
    ]
    async with ScriptedServer(script) as server:
        await BackendProfile.objects.acreate(
            name="keyed", kind="openai_compat", model="m", base_url=f"{server.url}/v1",
            api_key_env="OPENAI_API_KEY",
        )  # fmt: skip
        conv = await make_conversation(alice, "keyed")
        first, events = await run_turn(conv, "add ship it")
        second, more = await run_turn(conv, "and again")
    assert first.status == "completed" and second.status == "failed"
    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in server.requests)
    secrets_ = (API_KEY, django_settings.SECRET_KEY)

    seen = [json.dumps(e.to_dict(), default=str) for e in events + more]
    seen += [json.dumps(s.payload) async for s in RunStep.objects.all()]
    seen += [m.content + json.dumps(m.tool_calls) async for m in Message.objects.all()]
    seen += [r.error async for r in AgentRun.objects.all()]
    seen += [record.getMessage() for record in caplog.records]
    seen.append(caplog.text)
    assert any("Incorrect API key provided" in text for text in seen), "the error did arrive"
    for text in seen:
        for secret in secrets_:
            assert secret not in text

    from asgiref.sync import sync_to_async

    def pages() -> list[str]:
        client = Client()
        client.force_login(admin_user)
        urls = [
            f"/admin/tasks/agentrun/{first.pk}/change/",
            f"/admin/tasks/agentrun/{second.pk}/change/",
            "/admin/tasks/runstep/",
            "/admin/tasks/message/",
            "/admin/tasks/backendprofile/",
        ]
        owner = Client()
        owner.force_login(alice)
        html = [client.get(url).content.decode() for url in urls]
        html.append(owner.get(reverse("conversation", args=[conv.pk])).content.decode())
        html.append(owner.get(reverse("run_detail", args=[second.pk])).content.decode())
        return html

    for html in await sync_to_async(pages)():
        for secret in secrets_:
            assert secret not in html
