"""The chat page in a real Chromium against a live daphne server (HTTP + websockets)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib.auth import get_user_model
from live_browser import chromium_page, live_server_base, login, require_browser

from tasks.models import Task

# Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.live]


def coming_friday(today: dt.date) -> dt.date:
    days = (4 - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=days)


class ChatInTheBrowser(live_server_base()):  # type: ignore[misc]
    def setUp(self) -> None:
        require_browser()
        self.user = get_user_model().objects.create_user("alice", password="alice-pw-123!")

    def login(self, page) -> None:
        login(page, self.live_server_url, "alice", "alice-pw-123!")
        page.wait_for_selector("form.new-conversation")

    def new_builtin_conversation(self, page) -> None:
        page.select_option("form.new-conversation select[name=route]", "builtin")
        page.click("form.new-conversation button[type=submit]")
        page.wait_for_selector("#composer textarea")

    def send(self, page, text: str) -> None:
        page.fill("#composer textarea", text)
        page.click("#composer button[type=submit]")

    def test_a_task_request_shows_trace_steps_and_the_new_task_without_reload(self) -> None:
        with chromium_page() as (page, dialogs):
            self.login(page)
            self.new_builtin_conversation(page)
            page.evaluate("window.__marker = 'no reload'")
            self.send(page, "Create a task to review the marketing proposal by Friday")
            call = page.locator(".step-tool_call").first
            call.wait_for()
            assert "create_task" in call.inner_text()
            friday = coming_friday(dt.date.today()).isoformat()
            assert friday in call.inner_text()
            page.locator(".step-tool_result").first.wait_for()
            page.locator("#task-panel .task", has_text="marketing proposal").wait_for()
            page.locator(".run-summary.status-completed").wait_for()
            answer = page.locator(".msg.assistant").last.inner_text()
            assert "marketing proposal" in answer.lower()
            assert page.locator(".step-tool_call").count() == 1, "each step shows once"
            for kind in ("model_request", "model_response", "final"):
                assert page.locator(f".step-{kind}").count() >= 1, kind
            assert page.locator(".step-model_request").first.inner_text().count("builtin")
            assert page.evaluate("window.__marker") == "no reload"
            assert dialogs == []
        task = Task.objects.get(owner=self.user)
        assert task.due_date.isoformat() == friday

    def test_hostile_markup_in_a_message_shows_as_text_and_runs_nothing(self) -> None:
        payload = "<img src=x onerror=alert(1)>"
        with chromium_page() as (page, dialogs):
            self.login(page)
            self.new_builtin_conversation(page)
            self.send(page, payload)
            page.locator(".msg.user", has_text=payload).wait_for()
            page.locator(".run-summary.status-completed").wait_for()
            assert page.locator(".transcript img").count() == 0
            page.reload()
            page.locator(".msg.user", has_text=payload).wait_for()
            assert page.locator(".transcript img").count() == 0
            assert dialogs == []

    def test_a_reopened_conversation_shows_its_transcript_and_trace(self) -> None:
        with chromium_page() as (page, dialogs):
            self.login(page)
            self.new_builtin_conversation(page)
            self.send(page, "Create a task to call the plumber tomorrow")
            page.locator(".run-summary.status-completed").wait_for()
            url = page.url
            page.goto(self.live_server_url + "/")
            page.goto(url)
            assert page.locator(".msg.user", has_text="call the plumber").count() == 1
            assert page.locator(".step-tool_call", has_text="create_task").count() == 1
            assert page.locator("#conversation-list li").count() == 1

    def test_task_rows_change_live_as_the_runs_change_tasks_and_equal_a_reload(self) -> None:
        """The panel gets only the rows a run's task tools change; the page puts each in
        its place. Created → the row appears (in order), completed → it moves down as done,
        deleted → it is gone; the panel then is exactly what a reload renders."""

        def turn(page, text: str, runs: int) -> None:
            self.send(page, text)
            page.locator(".run-summary.status-completed").nth(runs - 1).wait_for(state="attached")

        def panel(page) -> tuple[list[str], str]:
            rows = page.eval_on_selector_all("#task-list > li", "els => els.map(e => e.outerHTML)")
            return rows, page.locator("#task-panel").inner_text()

        old = Task.objects.create(owner=self.user, title="Old idea")
        with chromium_page() as (page, dialogs):
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            self.login(page)
            self.new_builtin_conversation(page)
            page.evaluate("window.__marker = 'no reload'")
            assert page.locator("#task-panel .task").all_inner_texts()[0].count("Old idea")
            turn(page, "Add a task to buy stamps", 1)
            turn(page, "Add a task to water the plants tomorrow", 2)
            stamps = Task.objects.get(owner=self.user, title__icontains="stamps")
            plants = Task.objects.get(owner=self.user, title__icontains="plants")
            ids = page.eval_on_selector_all("#task-list > li.task", "els => els.map(e => e.id)")
            assert ids == [f"task-{plants.pk}", f"task-{old.pk}", f"task-{stamps.pk}"], (
                "a dated task comes before undated ones, the new undated one after the old"
            )
            turn(page, f"Mark task {plants.pk} done", 3)
            row = page.locator(f"#task-{plants.pk}")
            assert "status-done" in (row.get_attribute("class") or "")
            assert row.inner_text().strip().endswith("· done")
            ids = page.eval_on_selector_all("#task-list > li.task", "els => els.map(e => e.id)")
            assert ids == [f"task-{old.pk}", f"task-{stamps.pk}", f"task-{plants.pk}"]
            self.send(page, f"Delete task {old.pk}")
            page.locator(".approval").get_by_role("button", name="Approve").first.click()
            page.locator(".run-summary.status-completed").nth(3).wait_for(state="attached")
            assert page.locator(f"#task-{old.pk}").count() == 0
            assert page.locator("#task-list > li").count() == 3, "the hidden empty line + 2 rows"
            assert not page.locator("#task-list > li.empty").is_visible()
            live = panel(page)
            assert page.evaluate("window.__marker") == "no reload"
            page.reload()
            page.locator("#task-list").wait_for()
            assert panel(page) == live
            assert dialogs == []
            assert errors == [], "the page script ran without errors"
        assert not Task.objects.filter(pk=old.pk).exists()
