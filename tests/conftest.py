"""Shared fixtures: personas, scripted backends registered by name, websocket clients."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

(Path(__file__).resolve().parent.parent / ".local").mkdir(exist_ok=True)


def require(flag: str, reason: str) -> None:
    """Skip with `reason`, or fail when CI set `flag` to say this must run."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} (required because {flag}=1)")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing(django_test_environment) -> None:
    """Django's advice for tests: a cheap hasher. PBKDF2's million rounds cost ~0.5 s of CPU
    per login; on two busy cores that made a live-server login outlast the browser's wait."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pw-123!")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pw-123!")


@pytest.fixture
def scripted_route():
    """Register backends under unique names for a test; yields a function name → backend."""
    from tasks.backend_routes import register_backend, unregister_backend

    names: list[str] = []

    def add(backend) -> str:
        name = f"scripted-{uuid.uuid4().hex[:8]}"
        register_backend(name, backend)
        names.append(name)
        return name

    yield add
    for name in names:
        unregister_backend(name)


@pytest.fixture
def server_profile():
    """Add the operator's profile for a scripted OpenAI-compatible server; yields a function
    URL → profile name. Users name profiles, not URLs, in their routes."""
    from tasks.models import BackendProfile

    def add(server_url: str, model: str = "tiny") -> str:
        name = f"server-{uuid.uuid4().hex[:8]}"
        BackendProfile.objects.create(
            name=name, kind="openai_compat", model=model, base_url=f"{server_url}/v1"
        )
        return name

    return add


@pytest.fixture(autouse=True)
def fresh_circuit_breaker():
    """Each test starts with closed circuits: one test's failures must not skip the next's."""
    from agentcore.breaker import set_default_breaker

    set_default_breaker(None)
    yield
    set_default_breaker(None)
