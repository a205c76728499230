"""The start-up warm-up: every part runs, and the default route is built before any message."""

from __future__ import annotations

import logging

import pytest

from tasks import backend_routes
from tasks.warmup import warm_up


@pytest.mark.django_db
def test_warm_up_runs_every_part_without_a_failure_and_builds_the_default_route(caplog):
    backend_routes.clear_cache()
    with caplog.at_level(logging.WARNING, logger="tasks.warmup"):
        timings = warm_up()
    assert set(timings) == {"imports", "URLs", "templates", "markdown", "task tools",
                            "default route"}  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == []
    key = (backend_routes.default_route(), False)
    assert key in backend_routes._cache
