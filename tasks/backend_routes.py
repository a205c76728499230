"""Turn a route (profile names and ad-hoc specs) into one agentcore backend.

Backends are built once per distinct route and kept for the life of the process, so HTTP
clients and loaded models are reused across conversations (a new httpx client costs ~15 ms).
Named apart from `routing.py`, which holds the websocket URLs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agentcore.backends import Backend, build_backend
from agentcore.errors import ConfigError
from agentcore.specs import BackendConfig, Timeouts, parse_spec

from .models import BackendProfile

_registered: dict[str, Backend] = {}
_cache: dict[tuple[str, bool], Backend] = {}
_lock = threading.Lock()


def register_backend(name: str, backend: Backend) -> None:
    """Make a backend instance available to routes by name (tests, plugins, benchmarks)."""
    _registered[name] = backend
    with _lock:
        for key in [k for k in _cache if name in k[0].split(",")]:
            del _cache[key]


def unregister_backend(name: str) -> None:
    _registered.pop(name, None)
    with _lock:
        for key in [k for k in _cache if name in k[0].split(",")]:
            del _cache[key]


def default_route() -> str:
    """TASKWEB_ROUTE, else Ollama with the built-in engine behind it (DESIGN.md)."""
    if settings.TASKWEB_ROUTE:
        return settings.TASKWEB_ROUTE
    model = os.environ.get("OLLAMA_MODEL", "task-api-model")
    url = os.environ.get("OLLAMA_BASE_URL", "http://localhost:11434")
    return f"ollama:{model}@{url},builtin"


def profile_config(profile: BackendProfile) -> BackendConfig:
    return BackendConfig(
        kind=profile.kind,
        model=profile.model,
        base_url=profile.base_url.rstrip("/"),
        name=profile.name,
        api_key_env=profile.api_key_env,
        locality=profile.locality,  # type: ignore[arg-type]
        price_in_per_mtok=profile.price_in_per_mtok,
        price_out_per_mtok=profile.price_out_per_mtok,
        timeouts=Timeouts(
            connect=profile.connect_timeout,
            first_token=profile.first_token_timeout,
            total=profile.total_timeout,
            idle=profile.idle_timeout,
        ),
        tool_choice=profile.tool_choice,
    )


@dataclass(frozen=True)
class ResolvedRoute:
    text: str
    configs: tuple[BackendConfig, ...]
    backends: tuple[Backend, ...]


def resolve_part(part: str) -> Backend:
    """One element of a route: a registered backend, an enabled profile, or a spec."""
    if part in _registered:
        return _registered[part]
    profile = BackendProfile.objects.filter(name=part).first()
    if profile is not None:
        if not profile.enabled:
            raise ConfigError(f"backend profile {part!r} is disabled; enable it in the admin")
        return build_backend(profile_config(profile))
    if ":" not in part and part != "builtin":
        raise ConfigError(
            f"unknown backend {part!r}: not a profile name; a spec looks like "
            "'ollama:MODEL@http://HOST:11434' or 'builtin'"
        )
    return build_backend(parse_spec(part))


def backend_for_route(route: str, *, local_only: bool = False) -> Backend:
    """The (cached) backend for a route; several parts become a fallback chain."""
    key = (route, local_only)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    parts = [p.strip() for p in route.split(",") if p.strip()]
    if not parts:
        raise ConfigError("empty route")
    backends = [resolve_part(p) for p in parts]
    backend: Backend
    if len(backends) == 1 and not local_only:
        backend = backends[0]
    else:
        from agentcore.backends.fallback import FallbackBackend

        backend = FallbackBackend(backends, policy="local_only" if local_only else None)
    with _lock:
        _cache[key] = backend
    return backend


def route_names(route: str) -> list[str]:
    """The backend names a route's parts show up under in traces and breaker state."""
    names = []
    for part in (p.strip() for p in route.split(",")):
        if not part:
            continue
        if part in _registered:
            names.append(_registered[part].info.name)
        elif ":" in part or part == "builtin":
            names.append(parse_spec(part).name)
        else:
            names.append(part)
    return names


def circuit_states(route: str) -> list[dict[str, Any]]:
    """Breaker state of each backend of a route, for the page (sync views call this)."""
    from asgiref.sync import async_to_sync

    from agentcore.breaker import default_breaker

    try:
        names = route_names(route)
    except ConfigError:
        return []
    snapshots = async_to_sync(default_breaker().snapshot_all)(names)
    return [s.to_dict() for s in snapshots]


async def close_all() -> None:
    """Close every cached backend (connections, loaded models): for commands that exit."""
    with _lock:
        backends = list(_cache.values())
        _cache.clear()
    for backend in backends:
        await backend.aclose()


def clear_cache() -> None:
    with _lock:
        _cache.clear()
