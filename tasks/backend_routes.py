"""Turn a route (profile names and ad-hoc specs) into one agentcore backend.

Backends are built once per distinct route and kept (in a bounded LRU), so HTTP clients and
loaded models are reused across conversations (a new httpx client costs ~15 ms). Named apart
from `routing.py`, which holds the websocket URLs.

Routes are the operator's. A signed-in user's route names enabled profiles (or `builtin`, or
backends the process registered): where the server connects, and which key it sends, are
never chosen by a user. Ad-hoc `kind:model@url` specs are for the operator's commands
(`operator_routes()`), for `TASKWEB_ROUTE`, and for staff who may edit profiles anyway
(`TASKWEB_STAFF_ADHOC_ROUTES`). An ad-hoc spec typed in the web app never carries
`OPENAI_API_KEY`: a key goes only to a profile's own base URL, or where the operator's
command line or `TASKWEB_ROUTE` sends it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from agentcore.backends import Backend, build_backend
from agentcore.errors import ConfigError
from agentcore.specs import BackendConfig, Timeouts, parse_spec

from .models import BackendProfile

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from .models import Conversation

_registered: dict[str, Backend] = {}
_cache: OrderedDict[tuple[str, bool, bool], Backend] = OrderedDict()
_lock = threading.Lock()
_operator: ContextVar[bool] = ContextVar("taskweb_operator_routes", default=False)
MAX_ROUTE_CHARS = 500


class RouteRefused(ConfigError):
    """A user named something that is not a backend profile they may use."""


@contextmanager
def operator_routes() -> Iterator[None]:
    """Runs started inside are the operator's (a management command): ad-hoc specs allowed.

    A context variable, so it reaches the run's tasks and Django's sync thread, and nothing
    a web request starts.
    """
    token = _operator.set(True)
    try:
        yield
    finally:
        _operator.reset(token)


def cache_limit() -> int:
    return max(1, int(getattr(settings, "TASKWEB_ROUTE_CACHE_SIZE", 64)))


def may_use_adhoc(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Ad-hoc specs: the operator's commands, and staff who could write a profile anyway."""
    if _operator.get():
        return True
    return bool(
        settings.TASKWEB_STAFF_ADHOC_ROUTES
        and user is not None
        and getattr(user, "is_staff", False)
        and getattr(user, "has_perm", lambda _perm: False)("tasks.add_backendprofile")
    )


def user_route_names() -> list[str]:
    """What a user may name in a route: enabled profiles, registered backends, `builtin`."""
    names = set(BackendProfile.objects.filter(enabled=True).values_list("name", flat=True))
    return sorted(names | set(_registered) | {"builtin"})


def check_route(route: str, *, user: AbstractBaseUser | AnonymousUser | None) -> str:
    """`route` cleaned (parts trimmed) if `user` may use it, else `RouteRefused` saying why.

    The same answer for every refused part, whatever it names, so a refusal tells nothing
    about the server (no file or host oracle).
    """
    if len(route) > MAX_ROUTE_CHARS:
        raise RouteRefused(f"a route is at most {MAX_ROUTE_CHARS} characters")
    parts = [p.strip() for p in route.split(",") if p.strip()]
    if may_use_adhoc(user):
        for part in parts:
            if part not in _registered and ":" in part:
                parse_spec(part)  # a typo is a clear ConfigError now, not at the next message
        return ",".join(parts)
    if all(part == "builtin" or part in _registered for part in parts):
        return ",".join(parts)  # always allowed: no need to read the enabled profiles
    allowed = user_route_names()
    for part in parts:
        if part not in allowed:
            raise RouteRefused(
                f"{part[:80]!r} is not a backend profile you can use; pick one of "
                f"{', '.join(allowed)} (an administrator adds profiles in the admin)"
            )
    return ",".join(parts)


def register_backend(name: str, backend: Backend) -> None:
    """Make a backend instance available to routes by name (tests, plugins, benchmarks).

    Registered names are the operator's code, so users may name them like profiles.
    """
    _registered[name] = backend
    _forget(name)


def unregister_backend(name: str) -> None:
    _registered.pop(name, None)
    _forget(name)


def _forget(name: str) -> None:
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


def resolve_part(part: str, *, keyed: bool = True) -> Backend:
    """One element of a route: a registered backend, an enabled profile, or a spec.

    `keyed`: an ad-hoc `openai_compat` spec sends `OPENAI_API_KEY` (the operator's command
    line and `TASKWEB_ROUTE`); a spec a staff member typed in the web app sends no key.
    """
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
    return build_backend(parse_spec(part, api_key_env="OPENAI_API_KEY" if keyed else ""))


def backend_for_conversation(conversation: Conversation) -> Backend:
    """The backend a run of `conversation` uses, refusing a route its owner may not use.

    An empty route is the operator's default. A stored route is checked again at run time:
    one saved before routes were checked (or written straight to the database) ends the run
    with `RouteRefused`, before any request is made.
    """
    local_only = conversation.local_only
    if not conversation.route:
        return backend_for_route(default_route(), local_only=local_only)
    operator = _operator.get()
    owner = None if operator else conversation.owner
    route = check_route(conversation.route, user=owner)
    return backend_for_route(route, local_only=local_only, keyed=operator)


def backend_for_route(route: str, *, local_only: bool = False, keyed: bool = True) -> Backend:
    """The (cached) backend for a route; several parts become a fallback chain.

    The cache is an LRU of `TASKWEB_ROUTE_CACHE_SIZE` routes: each distinct route holds HTTP
    pools (~110 KB), so an unbounded one grew with every route anyone typed. An evicted
    backend stays alive while a run still holds it.
    """
    key = (route, local_only, keyed)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is not None:
        return cached
    parts = [p.strip() for p in route.split(",") if p.strip()]
    if not parts:
        raise ConfigError("empty route")
    backends = [resolve_part(p, keyed=keyed) for p in parts]
    backend: Backend
    if len(backends) == 1 and not local_only:
        backend = backends[0]
    else:
        from agentcore.backends.fallback import FallbackBackend

        backend = FallbackBackend(backends, policy="local_only" if local_only else None)
    with _lock:
        _cache[key] = backend
        while len(_cache) > cache_limit():
            _cache.popitem(last=False)
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
