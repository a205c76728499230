"""Backend specs (`kind:model@base_url`) and routes (comma-separated specs).

A spec is how a person names a backend on the command line or in `TASKWEB_ROUTE`; it becomes
a `BackendConfig`, the same record a database profile becomes, so both build backends one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .backends.base import Locality
from .errors import ConfigError

KINDS = ("ollama", "openai_compat", "llamacpp", "builtin")
DEFAULT_URLS = {
    "ollama": "http://localhost:11434",
    "openai_compat": "https://api.openai.com/v1",
}
_URL_SPLIT = re.compile(r"@(?=https?://)")
_LOOPBACK = re.compile(r"^https?://(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(/|$)")


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    connect: float = 3.0
    """Seconds to open the connection."""
    first_token: float = 30.0
    """Seconds to wait for the first byte of the answer (a cold model may load first)."""
    total: float = 300.0
    """Seconds for the whole answer."""


@dataclass(frozen=True, kw_only=True)
class BackendConfig:
    """Everything needed to build one backend; a database profile maps onto this too."""

    kind: str
    model: str = ""
    base_url: str = ""
    name: str = ""
    """Shown in the trace and stats; defaults to the spec text."""
    api_key_env: str = ""
    """Name of the environment variable holding the API key (the key itself is never stored)."""
    locality: Locality | None = None
    """local or cloud; derived from the URL when not given (loopback → local)."""
    price_in_per_mtok: Decimal = Decimal(0)
    price_out_per_mtok: Decimal = Decimal(0)
    timeouts: Timeouts = field(default_factory=Timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    keep_alive: str | None = None

    @property
    def resolved_locality(self) -> Locality:
        if self.locality is not None:
            return self.locality
        if self.kind in {"builtin", "llamacpp"}:
            return "local"
        return "local" if _LOOPBACK.match(self.base_url) else "cloud"

    def spec(self) -> str:
        if self.kind == "builtin":
            return "builtin"
        if self.kind == "llamacpp":
            return f"llamacpp:{self.model}"
        return f"{self.kind}:{self.model}@{self.base_url}"


def parse_spec(text: str, *, api_key_env: str = "OPENAI_API_KEY") -> BackendConfig:
    """Parse `builtin`, `ollama:MODEL@URL`, `openai_compat:MODEL@URL`, `llamacpp:PATH`."""
    text = text.strip()
    if not text:
        raise ConfigError("empty backend spec; try 'builtin' or 'ollama:MODEL@http://HOST:11434'")
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise ConfigError(
            f"unknown backend kind {kind!r} in {text!r}; "
            f"use one of {', '.join(KINDS)} (e.g. 'ollama:task-api-model@http://localhost:11434')"
        )
    if kind == "builtin":
        return BackendConfig(kind="builtin", model=rest or "rules", name="builtin")
    if kind == "llamacpp":
        if not rest:
            raise ConfigError("llamacpp needs a GGUF path: 'llamacpp:/path/to/model.gguf'")
        return BackendConfig(kind="llamacpp", model=rest, name=text)
    parts = _URL_SPLIT.split(rest, maxsplit=1)
    model = parts[0]
    base_url = parts[1] if len(parts) == 2 else DEFAULT_URLS[kind]
    if not model:
        raise ConfigError(f"{kind} needs a model: '{kind}:MODEL@URL'")
    return BackendConfig(
        kind=kind,
        model=model,
        base_url=base_url.rstrip("/"),
        name=text,
        api_key_env=api_key_env if kind == "openai_compat" else "",
    )


def parse_route(text: str) -> list[BackendConfig]:
    """A comma-separated list of specs, tried in order (the fallback chain)."""
    specs = [part for part in (p.strip() for p in text.split(",")) if part]
    if not specs:
        raise ConfigError("empty route; try 'ollama:task-api-model@http://localhost:11434,builtin'")
    return [parse_spec(s) for s in specs]


def with_name(config: BackendConfig, name: str) -> BackendConfig:
    return replace(config, name=name)
