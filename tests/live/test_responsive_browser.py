"""The chat as people use it, in Chromium at phone (390), tablet (900) and desktop (1440) widths.

Each width: log in, send, read the answer and the trace with no sideways scrolling. Then the
promises of the composer (a refused message keeps its draft, Stop ends a live run), the
approval card, and an axe-core audit of every page at each width in light and dark.
Screenshots go to test-results/ui/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from live_browser import chromium_page, live_server_base, login, require_browser

from agentcore.backends.base import TextDelta
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.backend_routes import register_backend, unregister_backend
from tasks.models import AgentRun, BackendProfile, Conversation, Task
from tasks.services import user_message_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.live]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-results" / "ui"
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "tablet": (900, 1000), "desktop": (1440, 900)}
SLOW_ROUTE = "ui-slow"
DELETE_ROUTE = "ui-delete"
DEAD_OLLAMA = "dead-ollama"
NO_OLLAMA = f"{DEAD_OLLAMA},builtin"


async def slow_answer(request, info):
    """Streams a word every 0.2 s for a minute: long enough to press Stop."""
    for n in range(300):
        await asyncio.sleep(0.2)
        yield TextDelta(f"word{n} ")


def delete_responder(request, info):
    last = request.messages[-1]
    if last.role == "user":
        task_id = int(last.content.rsplit("#", 1)[1])
        return ToolCall(id="del-1", name="delete_task", arguments={"task_id": task_id})
    return "Done."


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def drawer_settled(page, drawer_id: str) -> None:
    """Wait until a drawer finished sliding in (a screenshot mid-transition shows half)."""
    page.wait_for_function(
        "id => getComputedStyle(document.getElementById(id)).transform === 'none'", arg=drawer_id
    )


def serious_violations(page) -> list[str]:
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return list(found)


class ChatAtEveryWidth(live_server_base()):  # type: ignore[misc]
    @classmethod
    def setUpClass(cls) -> None:
        # Registered before the live server forks, so that its process knows the routes.
        register_backend(SLOW_ROUTE, ScriptedBackend(slow_answer))
        register_backend(DELETE_ROUTE, ScriptedBackend(delete_responder))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        unregister_backend(SLOW_ROUTE)
        unregister_backend(DELETE_ROUTE)

    def setUp(self) -> None:
        require_browser()
        self.user = get_user_model().objects.create_user(
            "alice", password="alice-pw-123!", is_staff=False
        )
        SHOTS.mkdir(parents=True, exist_ok=True)

    def open_chat(self, page, route: str = "builtin") -> Conversation:
        login(page, self.live_server_url, "alice", "alice-pw-123!")
        conversation = Conversation.objects.create(owner=self.user, route=route)
        page.goto(f"{self.live_server_url}/c/{conversation.pk}/")
        page.wait_for_selector("#composer textarea")
        page.wait_for_function("() => !!document.querySelector('[hx-ext=ws]')")
        return conversation

    def send(self, page, text: str) -> None:
        page.fill("#composer textarea", text)
        page.click("#send-button")

    def test_at_each_width_a_message_gets_its_answer_and_trace_without_sideways_scrolling(self):
        BackendProfile.objects.create(  # the operator's: a user's route names profiles
            name=DEAD_OLLAMA, kind="ollama", model="task-api-model", base_url="http://127.0.0.1:9"
        )
        for name, (width, height) in WIDTHS.items():
            with chromium_page(viewport={"width": width, "height": height}) as (page, dialogs):
                self.open_chat(page, route=NO_OLLAMA)
                self.send(page, "Create a task to review the marketing proposal by Friday")
                page.locator(".run-summary.status-completed").last.wait_for(state="attached")
                answer = page.locator(".msg.assistant").last
                assert "marketing proposal" in answer.inner_text().lower()
                assert page.locator("#composer textarea").input_value() == ""
                assert page.locator("#send-button").is_visible()
                assert not page.locator("#cancel-form").is_visible(), "no Stop when idle"
                fallback = page.locator(".step-fallback .reason").first
                reason = fallback.text_content()  # the circuit opens after the first widths
                assert reason.startswith(
                    (f"{DEAD_OLLAMA} could not be reached", f"{DEAD_OLLAMA} was skipped")
                ), reason
                assert "127.0.0.1" not in reason, "a user sees the profile, not where it is"
                assert no_sideways_scroll(page), name
                page.screenshot(path=str(SHOTS / f"chat-{name}.png"))
                if name == "phone":
                    assert not page.locator("#trace-panel").is_visible()
                    page.click(".drawer-toggle[data-drawer=trace-panel]")
                    page.locator("#trace-panel .step-tool_call").first.wait_for(state="visible")
                    drawer_settled(page, "trace-panel")
                    assert no_sideways_scroll(page)
                    page.screenshot(path=str(SHOTS / "trace-phone.png"))
                    page.keyboard.press("Escape")
                    page.click(".drawer-toggle[data-drawer=sidebar]")
                    page.locator("#task-panel .task", has_text="marketing").wait_for(
                        state="visible"
                    )
                    drawer_settled(page, "sidebar")
                    page.screenshot(path=str(SHOTS / "sidebar-phone.png"))
                else:
                    assert page.locator("#trace-panel .step-tool_call").first.is_visible()
                    page.check("#trace-filter")  # only retries, fallbacks and errors
                    assert not page.locator("#trace-panel .step-tool_call").first.is_visible()
                    assert page.locator("#trace-panel .step-fallback").first.is_visible()
                assert dialogs == []

    def test_a_refused_message_keeps_its_draft_and_the_error_goes_when_the_next_is_accepted(self):
        with chromium_page(viewport={"width": 1440, "height": 900}) as (page, dialogs):
            self.open_chat(page)
            page.evaluate(
                "document.querySelector('#composer textarea').removeAttribute('maxlength')"
            )
            long_text = "x" * 9000
            self.send(page, long_text)
            page.locator("#notices .notice.error").wait_for()
            assert page.locator("#composer textarea").input_value() == long_text
            page.reload()  # the draft survives a reload too
            page.wait_for_selector("#composer textarea")
            assert page.locator("#composer textarea").input_value() == long_text
            self.send(page, "What's on my list?")
            page.locator(".run-summary.status-completed").last.wait_for(state="attached")
            assert page.locator("#notices .notice").count() == 0
            assert page.locator("#composer textarea").input_value() == ""

    def test_the_trace_shows_the_newest_run_live_and_after_a_reload(self):
        with chromium_page(viewport={"width": 1440, "height": 900}) as (page, dialogs):
            self.open_chat(page)
            for n in range(4):
                self.send(page, f"Add a task to buy stamps {n}")
                page.locator(".run-summary.status-completed").nth(n).wait_for(state="attached")
            for moment in ("live", "reloaded"):
                newest = page.locator("#trace .run").last
                assert newest.evaluate("el => el.open"), moment
                assert page.locator("#trace .run[open]").count() == 1, "finished runs fold"
                box, panel = newest.bounding_box(), page.locator(".trace-panel").bounding_box()
                visible = min(box["y"] + box["height"], panel["y"] + panel["height"]) - max(
                    box["y"], panel["y"]
                )
                assert visible > 100, moment
                page.reload()
                page.wait_for_selector("#trace .run")

    def test_enter_sends_but_not_with_shift_nor_while_an_ime_is_composing(self):
        with chromium_page(viewport={"width": 900, "height": 1000}) as (page, dialogs):
            self.open_chat(page)
            box = page.locator("#composer textarea")
            box.fill("にほん")
            box.evaluate(
                """el => el.dispatchEvent(new KeyboardEvent('keydown',
                     {key: 'Enter', isComposing: true, bubbles: true, cancelable: true}))"""
            )
            box.press("Shift+Enter")
            assert page.locator(".msg.user").count() == 0
            box.fill("What's on my list?")
            box.press("Enter")
            page.locator(".run-summary.status-completed").wait_for(state="attached")
            assert page.locator(".msg.user").count() == 1

    def test_send_becomes_stop_during_a_run_and_stop_ends_it(self):
        with chromium_page(viewport={"width": 390, "height": 844}) as (page, dialogs):
            conversation = self.open_chat(page, route=SLOW_ROUTE)
            for n in range(20):  # enough history that the transcript scrolls
                user_message_create(conversation=conversation, text=f"earlier message {n}")
            page.reload()
            page.wait_for_function("() => !!document.querySelector('[hx-ext=ws]')")
            self.send(page, "Tell me a long story")
            page.locator(".msg.streaming .msg-body span").first.wait_for()
            # A reader who scrolled up is not dragged back down while the answer streams.
            page.locator("#transcript").evaluate("el => { el.scrollTop = 0; }")
            page.locator(".msg.streaming .msg-body span").nth(5).wait_for()
            assert page.locator("#transcript").evaluate("el => el.scrollTop") == 0
            jump = page.locator("#jump-latest")
            assert jump.is_visible()
            jump.click()
            assert page.locator("#transcript").evaluate(
                "el => el.scrollHeight - el.scrollTop - el.clientHeight < 80"
            )
            assert not page.locator("#send-button").is_visible()
            stop = page.locator("#stop-button")
            assert stop.is_visible()
            page.screenshot(path=str(SHOTS / "streaming-phone.png"))
            stop.click()
            page.locator(".run-summary.status-cancelled").wait_for(state="attached")
            page.locator("#send-button").wait_for(state="visible")
            assert not stop.is_visible()
            # No stale "working…" bubble: the answer becomes the run's stored note.
            page.locator(".msg.assistant", has_text="This run was cancelled.").wait_for()
            assert page.locator(".msg.streaming").count() == 0
        assert AgentRun.objects.get(conversation=conversation).status == "cancelled"

    def test_an_approval_card_names_the_task_and_reads_in_words_once_decided(self):
        task = Task.objects.create(owner=self.user, title="Buy milk")
        with chromium_page(viewport={"width": 900, "height": 1000}) as (page, dialogs):
            self.open_chat(page, route=DELETE_ROUTE)
            self.send(page, f"delete task #{task.pk}")
            card = page.locator("#approval-del-1")
            card.wait_for()
            assert "Delete “Buy milk”" in card.inner_text()
            approve = card.get_by_role("button", name="Approve deleting “Buy milk”")
            page.screenshot(path=str(SHOTS / "approval-tablet.png"))
            approve.click()
            page.locator(".run-summary.status-completed").wait_for(state="attached")
            decided = page.locator("#approval-del-1")
            assert decided.inner_text().strip().endswith("— approved by you")
        assert not Task.objects.filter(pk=task.pk).exists()

    def test_every_page_has_no_serious_accessibility_violation_at_each_width_in_both_schemes(self):
        conversation = Conversation.objects.create(owner=self.user, route="builtin")
        with chromium_page() as (page, dialogs):
            login(page, self.live_server_url, "alice", "alice-pw-123!")
            page.goto(f"{self.live_server_url}/c/{conversation.pk}/")
            page.wait_for_function("() => !!document.querySelector('[hx-ext=ws]')")
            self.send(page, "Create a task to call the plumber tomorrow")
            page.locator(".run-summary.status-completed").wait_for(state="attached")
        run = AgentRun.objects.get(conversation=conversation)
        task = Task.objects.get(owner=self.user)
        user_message_create(  # a table and a code block get audited (and copied) too
            conversation=conversation,
            text="| task | due |\n|---|---|\n| plumber | tomorrow |\n\n```\nmake run\n```",
        )
        pages = {
            "chat": f"/c/{conversation.pk}/",
            "stats": "/stats/",
            "run": f"/runs/{run.pk}/",
            "task": f"/tasks/{task.pk}/",
        }
        problems: list[str] = []
        for scheme in ("light", "dark"):
            for name, (width, height) in WIDTHS.items():
                options = {"viewport": {"width": width, "height": height}, "bypass_csp": True}
                with chromium_page(color_scheme=scheme, **options) as (page, dialogs):
                    page.goto(self.live_server_url + "/accounts/login/")
                    problems += [f"login {name} {scheme}: {v}" for v in serious_violations(page)]
                    login(page, self.live_server_url, "alice", "alice-pw-123!")
                    for label, path in pages.items():
                        page.goto(self.live_server_url + path)
                        page.wait_for_load_state("load")
                        problems += [
                            f"{label} {name} {scheme}: {v}" for v in serious_violations(page)
                        ]
                        if not no_sideways_scroll(page):
                            problems.append(f"{label} {name} {scheme}: scrolls sideways")
                        page.screenshot(path=str(SHOTS / f"{label}-{name}-{scheme}.png"))
                        if label == "chat":
                            assert page.locator("#transcript .md table td").count() == 2
                            assert page.locator("#transcript .md pre .copy-button").count() == 1
        assert problems == [], "\n".join(problems)
