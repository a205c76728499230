"""/stats/ and the run timeline in a real Chromium: plots drawn, CSP kept, empty state shown."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from live_browser import chromium_page, live_server_base, login, require_browser

from agentcore.backends.base import BackendInfo
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.backend_routes import register_backend, unregister_backend
from tasks.models import BackendProfile
from tasks.runner import execute_run
from tasks.services import conversation_create

# Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.live]
ROUTE = "stats-browser-scripted"


async def _ignore(event) -> None:
    return None


def chart_drawn(page, canvas_id: str) -> bool:
    return page.evaluate(
        "id => !!(window.Chart && window.Chart.getChart(document.getElementById(id)))", canvas_id
    )


class StatsInTheBrowser(live_server_base()):  # type: ignore[misc]
    def setUp(self) -> None:
        require_browser()
        users = get_user_model().objects
        self.alice = users.create_user("alice", password="alice-pw-123!")
        users.create_user("bob", password="bob-pw-123!")
        # Transactional tests flush the seeded profiles: the projection needs two of them.
        BackendProfile.objects.update_or_create(
            name="ollama-local", defaults={"kind": "ollama", "model": "task-api-model"}
        )
        BackendProfile.objects.update_or_create(
            name="openai-cloud",
            defaults={"kind": "openai_compat", "model": "gpt-4o-mini", "locality": "cloud",
                      "price_in_per_mtok": Decimal("0.15"), "price_out_per_mtok": Decimal("0.60")},
        )  # fmt: skip

    def run_a_turn(self) -> int:
        call = ToolCall(id="c1", name="create_task", arguments={"title": "<b>Buy milk</b>"})
        info = BackendInfo(
            name="browser-model", kind="scripted", model="m",
            price_in_per_mtok=Decimal("0.15"), price_out_per_mtok=Decimal("0.60"),
        )  # fmt: skip
        register_backend(ROUTE, ScriptedBackend([call, "Added."], info=info, usage=(500, 200)))
        try:
            conversation = conversation_create(user=self.alice, route=ROUTE)
            run = async_to_sync(execute_run)(conversation, "add buy milk", publish=_ignore)
        finally:
            unregister_backend(ROUTE)
        return run.pk

    def watch_console(self, page) -> list[str]:
        """Console errors (a CSP violation is one) and uncaught exceptions; no favicon noise."""
        problems: list[str] = []

        def on_console(message) -> None:
            if message.type == "error" and "favicon" not in message.location.get("url", ""):
                problems.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda e: problems.append(str(e)))
        return problems

    def test_stats_and_timeline_draw_their_plots_for_a_user_with_runs(self) -> None:
        run_id = self.run_a_turn()
        with chromium_page() as (page, dialogs):
            problems = self.watch_console(page)
            login(page, self.live_server_url, "alice", "alice-pw-123!")
            page.click("a.nav-link:has-text('Stats')")
            page.wait_for_url("**/stats/")
            row = page.locator("tr.profile-row[data-profile='browser-model']")
            row.wait_for()
            assert row.locator("td").first.inner_text() == "2"  # two model calls
            page.wait_for_function("() => window.Chart !== undefined")
            for canvas in ("plot-latency", "plot-cost", "plot-fallback"):
                assert chart_drawn(page, canvas), canvas
            page.fill("#id_requests", "50000")
            page.fill("#id_avg_in", "500")
            page.fill("#id_avg_out", "200")
            page.click(".projection-form button[type=submit]")
            page.wait_for_url("**requests=50000**")
            hybrid = page.locator("#projection-results tr.hybrid")
            assert hybrid.locator("td.total").inner_text() == "$0.975"
            page.goto(f"{self.live_server_url}/runs/{run_id}/")
            page.locator("#timeline-rows tr.bar-tool").wait_for()
            page.wait_for_function("() => window.Chart !== undefined")
            assert chart_drawn(page, "plot-waterfall")
            assert page.locator("#timeline-rows b").count() == 0
            assert dialogs == []
            assert problems == [], problems

    def test_stats_page_shows_its_empty_state_for_a_user_with_no_runs(self) -> None:
        with chromium_page() as (page, dialogs):
            problems = self.watch_console(page)
            login(page, self.live_server_url, "bob", "bob-pw-123!")
            page.goto(f"{self.live_server_url}/stats/?period=24h")
            page.locator(".stats-empty").wait_for()
            assert page.locator("canvas").count() == 0
            assert page.locator("#projection-results").count() == 1
            assert dialogs == [] and problems == [], problems
