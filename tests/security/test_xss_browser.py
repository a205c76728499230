"""The hostile corpus in a real Chromium: no script runs, no markup appears, no image loads.

Alice's data is the corpus (user messages, model text, tool arguments, task titles, approval
cards, trace payloads, error reasons); every page that shows it is loaded, then checked for
dialogs, the `window.__pwned` canary, injected elements and attributes, CSP violations and
requests to the attacker's host. A live run through the websocket adds the HTMX path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from hostile_runs import conversations_for, run_corpus
from hostile_strings import ATTACKER, CORPUS
from live_browser import chromium_page, live_server_base, login, require_browser

from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.backend_routes import register_backend, unregister_backend
from tasks.models import AgentRun, Conversation, RunStep, Task

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.live]

LIVE_ROUTE = "hostile-live"
SHORT = [s for s in CORPUS if len(s) < 300 and "\x00" not in s]
BROWSER_CORPUS = [s if len(s) < 10_000 else s[:10_000] for s in CORPUS]
"""The corpus with its 100k-character tokens cut to 10k: Chromium takes ~25 s to lay out a
chat page holding one 100k unbroken token (the unit tests check those at full length)."""

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
INSPECT = """() => {
  const appHx = {'hx-swap-oob': 1, 'hx-disable': 1, 'hx-ext': 1, 'hx-headers': 1,
                 'ws-connect': 1, 'ws-send': 1};
  // The run feedback forms post with htmx: exactly their shape, pointing at their own run.
  const feedbackForm = el => {
    const m = /^\\/runs\\/(\\d+)\\/(rate|save-case)\\/$/.exec(el.getAttribute('action') || '');
    return el.tagName === 'FORM' && m !== null &&
      el.className === (m[2] === 'rate' ? 'rate' : 'save-case') &&
      el.getAttribute('hx-post') === el.getAttribute('action') &&
      el.getAttribute('hx-target') === '#run-' + m[1] + '-feedback' &&
      el.getAttribute('hx-swap') === 'outerHTML';
  };
  const feedbackHx = {'hx-post': 1, 'hx-target': 1, 'hx-swap': 1};
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) found.push(tag + ' ' + name);
      if ((name.startsWith('hx-') || name.startsWith('data-hx-')) && !appHx[name] &&
          !(feedbackHx[name] && feedbackForm(el)))
        found.push(tag + ' ' + name);
      if (/^\\s*(javascript|vbscript|data:text)/i.test(attr.value) &&
          ['href', 'src', 'action', 'formaction', 'data', 'xlink:href'].includes(name))
        found.push(tag + ' ' + name + '=' + attr.value.slice(0, 40));
      if (/pwn/i.test(name) || (/pwn/i.test(attr.value) &&
          !['value', 'aria-label', 'title', 'alt', 'data-filter-title', 'href'].includes(name) &&
          !(name === 'id' && attr.value.startsWith('approval-')) &&
          !(name === 'hx-headers' && /^\\{"X-CSRFToken": "[A-Za-z0-9]+"\\}$/.test(attr.value))))
        found.push(tag + ' ' + name + '=' + attr.value.slice(0, 40));
    }
  }
  const selectors = 'iframe, object, embed, base, meta[http-equiv], style, template, ' +
    'img:not([src^="/static/"]), svg:not(.base-svgs):not([class^="theme-icon"]), ' +
    'script:not([src]):not([type="application/json"])';
  for (const el of document.querySelectorAll(selectors)) found.push('element ' + el.outerHTML.slice(0, 60));
  return {found: found, pwned: window.__pwned === undefined ? null : String(window.__pwned),
          csp: window.__csp || []};
}"""


def live_responder(request, info):
    """A model that writes corpus strings into task titles, an approval and its answer."""
    last = request.messages[-1]
    if last.role == "user":
        calls = [
            ToolCall(id=f"t{i}", name="create_task", arguments={"title": s, "description": s})
            for i, s in enumerate(SHORT[:12])
        ]
        return calls
    if last.role == "tool" and last.tool_call_id and last.tool_call_id.startswith("t"):
        # A task that exists (a card is only asked for one): the last created.
        task_id = int(re.search(r'"id": (\d+)', last.content).group(1))
        return [ToolCall(id="live-delete", name="delete_task", arguments={"task_id": task_id})]
    return "\n\n".join(SHORT)


class HostileCorpusInTheBrowser(live_server_base()):  # type: ignore[misc]
    @classmethod
    def setUpClass(cls) -> None:
        # Registered before the live server forks, so that its process knows the route.
        register_backend(LIVE_ROUTE, ScriptedBackend(live_responder))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        unregister_backend(LIVE_ROUTE)

    def setUp(self) -> None:
        require_browser()
        User = get_user_model()
        self.alice = User.objects.create_superuser("alice", password="alice-pw-123!")
        run_corpus(conversations_for(self.alice, len(BROWSER_CORPUS), per=12), BROWSER_CORPUS)

    def urls(self) -> list[str]:
        urls = [reverse("conversation", args=[c.pk]) for c in Conversation.objects.all()]
        runs = list(AgentRun.objects.order_by("pk"))
        urls += [reverse("run_detail", args=[r.pk]) for r in runs[:: max(1, len(runs) // 8)]]
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse("stats") + "?period=all")
        for model, cls in (
            ("task", Task),
            ("conversation", Conversation),
            ("agentrun", AgentRun),
            ("runstep", RunStep),
        ):
            urls.append(reverse(f"admin:tasks_{model}_changelist"))
            objects = list(cls.objects.order_by("pk"))
            for obj in objects[:: max(1, len(objects) // 3)][:3]:
                urls.append(reverse(f"admin:tasks_{model}_change", args=[obj.pk]))
        urls.append(reverse("admin:tasks_message_changelist"))
        return urls

    def check(self, page, where: str) -> None:
        report = page.evaluate(INSPECT)
        assert report["pwned"] is None, f"{where}: window.__pwned was set"
        assert report["found"] == [], f"{where}: injected {report['found'][:8]}"
        assert report["csp"] == [], f"{where}: CSP blocked {report['csp'][:8]}"

    def test_no_hostile_string_runs_or_shows_as_markup_on_any_page(self) -> None:
        requests: list[str] = []
        with chromium_page() as (page, dialogs):
            page.set_default_timeout(60_000)
            page.add_init_script(WATCH)
            page.on("request", lambda request: requests.append(request.url))
            login(page, self.live_server_url, "alice", "alice-pw-123!")
            urls = self.urls()
            assert len(urls) >= 20
            for url in urls:
                response = page.goto(self.live_server_url + url, wait_until="load")
                assert response is not None and response.status == 200, url
                self.check(page, url)
            self.live_run(page)
            assert dialogs == []
        leaks = [url for url in requests if ATTACKER in url]
        assert leaks == [], leaks

    def live_run(self, page) -> None:
        """A run streamed through the websocket into the page: the HTMX path."""
        page.goto(self.live_server_url + "/")
        page.select_option("form.new-conversation select[name=route]", "builtin")
        page.click("form.new-conversation button[type=submit]")
        page.wait_for_selector("#composer textarea")
        conversation = Conversation.objects.order_by("-pk").first()
        Conversation.objects.filter(pk=conversation.pk).update(route=LIVE_ROUTE)
        page.reload()
        page.fill("#composer textarea", SHORT[0] + " " + SHORT[12])
        page.click("#composer button[type=submit]")
        card = page.locator("#approval-live-delete")
        card.wait_for()
        self.check(page, "chat with a live approval card")
        card.locator("button", has_text="Reject").click()
        page.locator(".run-summary.status-completed").last.wait_for()
        page.locator(".msg.assistant .msg-body[hx-disable]").last.wait_for()
        self.check(page, "chat after a live run")
        titles = page.locator("#task-panel .task-title").all_inner_texts()
        assert SHORT[1] in titles  # the titles show, as text
        answer = page.locator(".msg.assistant .msg-body").last.inner_text()
        assert "window.__pwned=1" in answer
        stored = json.dumps(
            list(
                RunStep.objects.filter(run__conversation=conversation).values_list(
                    "type", flat=True
                )
            )
        )
        assert "approval_decision" in stored
