from __future__ import annotations

import sys

from django.apps import AppConfig
from django.conf import settings


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Taskweb"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # With Redis configured, every process shares one circuit-breaker state: a backend
        # that keeps failing is skipped by all daphne processes, not rediscovered by each.
        if settings.REDIS_URL:
            from agentcore.breaker import CircuitBreaker, set_default_breaker
            from agentcore.breaker_redis import RedisBreakerStore

            prefix = f"{settings.TASKWEB_CHANNEL_PREFIX}:breaker:"  # one deployment's names
            store = RedisBreakerStore.from_url(settings.REDIS_URL, prefix=prefix)
            set_default_breaker(CircuitBreaker(store))
        # Each closed run is exported as an OpenTelemetry trace when OTEL_EXPORTER_OTLP_ENDPOINT
        # is set (off the hot path; tasks/otel_export.py).
        from .otel_export import on_run_closed
        from .run_signals import run_closed

        run_closed.connect(on_run_closed, dispatch_uid="taskweb-otel-export")
        # A process served by the daphne command (it imports its CLI before the app) warms up
        # what the first message would pay for; manage.py commands and tests do not.
        if settings.TASKWEB_WARM_UP and "daphne.cli" in sys.modules:
            from .warmup import start_in_background

            start_in_background()
