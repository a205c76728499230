"""Seed the backend profiles of DESIGN.md from the environment, once, on first migrate."""

from __future__ import annotations

import os
from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Profile = apps.get_model("tasks", "BackendProfile")
    if Profile.objects.exists():
        return
    env = os.environ.get
    Profile.objects.create(
        name="ollama-local",
        kind="ollama",
        base_url=env("OLLAMA_BASE_URL", "http://localhost:11434"),
        model=env("OLLAMA_MODEL", "task-api-model"),
        locality="local",
    )
    Profile.objects.create(
        name="litellm-proxy",
        kind="openai_compat",
        base_url=env("LITELLM_BASE_URL", "http://localhost:4000").rstrip("/") + "/v1",
        model=env("LITELLM_MODEL", env("OLLAMA_MODEL", "task-api-model")),
        api_key_env="LITELLM_API_KEY",
        locality="local",
    )
    Profile.objects.create(
        name="openai-cloud",
        kind="openai_compat",
        base_url=env("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        model=env("OPENAI_MODEL", "gpt-4o-mini"),
        api_key_env="OPENAI_API_KEY",
        locality="cloud",
        price_in_per_mtok=Decimal("0.15"),
        price_out_per_mtok=Decimal("0.60"),
        enabled=bool(env("OPENAI_API_KEY")),
    )
    Profile.objects.create(name="builtin", kind="builtin", model="rules", locality="local")


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
