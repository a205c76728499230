"""Playwright with Debian's Chromium: find it, or skip/fail with a clear reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-dev.txt)"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return "Chromium is missing: run `make chromium` (apt-get install chromium)"
    return None


def require_browser() -> None:
    reason = browser_missing_reason()
    if reason is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (required: REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@contextmanager
def chromium_page(**context_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page, and a list that collects every JS dialog (an XSS would open one).

    `context_options` go to Playwright's `new_context` (viewport, color_scheme, bypass_csp)."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(**context_options)
            context.set_default_timeout(15_000)

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            # Every page of the context (a second tab too) reports its dialogs.
            context.on("page", lambda page: page.on("dialog", on_dialog))
            page = context.new_page()
            yield page, dialogs
        finally:
            browser.close()


def live_server_base() -> type:
    """ChannelsLiveServerTestCase that forks its daphne without this process's DB connection."""
    from channels.testing import ChannelsLiveServerTestCase
    from django.db import connections

    class LiveServer(ChannelsLiveServerTestCase):
        @classmethod
        def setUpClass(cls) -> None:
            # The server process is forked: it must not inherit an open SQLite connection,
            # nor objects bound to this process's event loops (the in-memory channel layer
            # with earlier tests' groups, breaker locks, runs in progress).
            from channels.layers import channel_layers

            from agentcore.breaker import set_default_breaker

            connections.close_all()
            # asgiref's executor for thread-sensitive code has its thread in this process
            # only: a forked child would queue DB work to a thread that does not exist.
            # That thread's SQLite connection must be closed before the fork too: in the
            # child, the dead thread's connection is finalised, and closing what SQLite sees
            # as the process's last connection checkpoints and removes the WAL file the
            # parent still uses ("database disk image is malformed" in the next request).
            from concurrent.futures import ThreadPoolExecutor

            from asgiref.sync import SyncToAsync

            SyncToAsync.single_thread_executor.submit(connections.close_all).result(30)
            SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
            channel_layers.backends.clear()
            set_default_breaker(None)
            super().setUpClass()

    return LiveServer


def login(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main.login button[type=submit]")
    try:
        page.wait_for_url(lambda url: "/accounts/login/" not in url, timeout=45_000)
    except Exception as exc:
        # Say what the page said (a rejected password shows its error) rather than a bare timeout.
        shown = page.locator("main").inner_text(timeout=2_000)[:300]
        raise AssertionError(
            f"login as {username} did not leave the login page: {shown!r}"
        ) from exc
