from __future__ import annotations

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Taskweb"
    default_auto_field = "django.db.models.BigAutoField"
