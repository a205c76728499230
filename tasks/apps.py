from __future__ import annotations

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
