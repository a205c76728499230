"""Rating a run and saving it as an eval case, in a real Chromium against a live daphne."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from live_browser import chromium_page, live_server_base, login, require_browser

from tasks.models import RunRating, SavedCase

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.live]


class FeedbackInTheBrowser(live_server_base()):  # type: ignore[misc]
    def setUp(self) -> None:
        require_browser()
        self.user = get_user_model().objects.create_user("alice", password="alice-pw-123!")

    def test_a_finished_run_is_rated_and_saved_from_the_trace_without_reload(self) -> None:
        with chromium_page() as (page, dialogs):
            login(page, self.live_server_url, "alice", "alice-pw-123!")
            page.select_option("form.new-conversation select[name=route]", "builtin")
            page.click("form.new-conversation button[type=submit]")
            page.fill("#composer textarea", "Create a task to call the plumber")
            page.click("#composer button[type=submit]")
            page.locator(".run-summary.status-completed").wait_for()
            page.evaluate("window.__marker = 'no reload'")
            feedback = page.locator(".run-feedback").first
            feedback.locator("input[name=comment]").fill("<b>spot on</b>")
            feedback.locator("button[value=up]").click()
            page.locator(".run-feedback .rating", has_text="Rated 👍: <b>spot on</b>").wait_for()
            page.locator(".run-feedback button", has_text="Save as eval case").click()
            page.locator(".run-feedback .saved-case").wait_for()
            assert page.evaluate("window.__marker") == "no reload"
            page.reload()
            page.locator(".run-feedback .rating", has_text="Rated 👍").wait_for()
            assert dialogs == []
        rating = RunRating.objects.get()
        assert (rating.verdict, rating.comment, rating.user) == ("up", "<b>spot on</b>", self.user)
        assert SavedCase.objects.get().case["turns"] == ["Create a task to call the plumber"]
