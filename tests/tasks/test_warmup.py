"""The start-up warm-up: every part runs, and the default route is built before any message."""

from __future__ import annotations

import logging

import pytest

from tasks import backend_routes
from tasks.models import Conversation
from tasks.warmup import warm_up


@pytest.mark.django_db
def test_warm_up_runs_every_part_without_a_failure_and_builds_the_default_route(caplog, alice):
    backend_routes.clear_cache()
    with caplog.at_level(logging.WARNING, logger="tasks.warmup"):
        timings = warm_up()
    assert set(timings) == {"imports", "URLs", "templates", "markdown", "task tools",
                            "default route"}  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == []
    built = list(backend_routes._cache.values())
    assert len(built) == 1
    # The first message's run (a new conversation on the default route) finds that backend
    # in the cache rather than building its own: same cache key, same object.
    first_run = backend_routes.backend_for_conversation(Conversation(owner=alice))
    assert first_run is built[0]
    assert len(backend_routes._cache) == 1
