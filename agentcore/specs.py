"""Backend specs (`kind:model@base_url#options`) and routes (comma-separated specs).

A spec is how a person names a backend on the command line or in `TASKWEB_ROUTE`; it becomes
a `BackendConfig`, the same record a database profile becomes, so both build backends one way.

Options follow `#`, joined by `&`: `key=value` pairs (only `tool_choice` so far), and one bare
word that picks the model's variant (`ollama:m#generate`, `llamacpp:x.gguf#chatml`). A URL
fragment is never sent to a server, so `#` cannot clash with a real base URL.
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
_TOOL_CHOICE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TOOL_CHOICE_KINDS = ("openai_compat", "llamacpp")
"""Ollama's API has no `tool_choice`; the built-in engine decides by rules."""
_LOOPBACK = re.compile(r"^https?://(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(/|$)")


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    connect: float = 3.0
    """Seconds to open the connection."""
    first_token: float = 30.0
    """Seconds to wait for the first byte of the answer (a cold model may load first)."""
    total: float = 300.0
    """Seconds for the whole answer."""
    idle: float = 30.0
    """Seconds without a byte, once the answer has started, before it counts as stalled."""


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
    tool_choice: str = ""
    """`auto` (or empty), `none`, `required`, or a tool name to force on a turn's first request."""

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
            text, joiner = f"llamacpp:{self.model}", "&" if "#" in self.model else "#"
        else:
            text, joiner = f"{self.kind}:{self.model}@{self.base_url}", "#"
        return text + f"{joiner}tool_choice={self.tool_choice}" if self.tool_choice else text


def check_tool_choice(kind: str, value: str) -> str:
    """The value if `kind` can send it, else a `ConfigError` saying what would work."""
    if not value or value == "auto":
        return ""
    if kind not in TOOL_CHOICE_KINDS:
        raise ConfigError(
            f"{kind} backends take no tool_choice (only {' and '.join(TOOL_CHOICE_KINDS)} do)"
        )
    if not _TOOL_CHOICE.match(value):
        raise ConfigError(
            f"tool_choice {value!r} is not auto, none, required or a tool name like create_task"
        )
    return value


def _options(kind: str, fragments: list[str]) -> tuple[str, str]:
    """`variant&key=value` fragments → (variant, tool_choice); unknown keys are errors."""
    variant = tool_choice = ""
    for item in (i for fragment in fragments for i in fragment.split("&") if i):
        key, eq, value = item.partition("=")
        if not eq:
            if variant:
                raise ConfigError(f"two variants ({variant!r}, {item!r}) in a {kind} spec")
            variant = item
        elif key == "tool_choice":
            tool_choice = check_tool_choice(kind, value)
        else:
            raise ConfigError(f"unknown option {key!r} in a {kind} spec; known: tool_choice")
    return variant, tool_choice


def parse_spec(text: str, *, api_key_env: str = "OPENAI_API_KEY") -> BackendConfig:
    """Parse `builtin`, `ollama:MODEL@URL`, `openai_compat:MODEL@URL`, `llamacpp:PATH`.

    Options go after `#` on the model (`ollama:m#generate@URL`) or at the very end
    (`openai_compat:m@URL#tool_choice=create_task`); see the module docstring.
    """
    text = text.strip()
    if not text:
        raise ConfigError("empty backend spec; try 'builtin' or 'ollama:MODEL@http://HOST:11434'")
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise ConfigError(
            f"unknown backend kind {kind!r} in {text!r}; "
            f"use one of {', '.join(KINDS)} (e.g. 'ollama:task-api-model@http://localhost:11434')"
        )
    parts = _URL_SPLIT.split(rest, maxsplit=1) if kind in DEFAULT_URLS else [rest]
    model, _, model_options = parts[0].partition("#")
    base_url, _, url_options = (parts[1] if len(parts) == 2 else "").partition("#")
    variant, tool_choice = _options(kind, [model_options, url_options])
    if kind == "builtin":
        return BackendConfig(kind="builtin", model=model or "rules", name="builtin")
    if not model:
        hint = (
            "a GGUF path: 'llamacpp:/path/to/model.gguf'"
            if kind == "llamacpp"
            else (f"a model: '{kind}:MODEL@URL'")
        )
        raise ConfigError(f"{kind} needs {hint}")
    model = f"{model}#{variant}" if variant else model
    if kind == "llamacpp":
        return BackendConfig(kind="llamacpp", model=model, name=text, tool_choice=tool_choice)
    return BackendConfig(
        kind=kind,
        model=model,
        base_url=(base_url or DEFAULT_URLS[kind]).rstrip("/"),
        name=text,
        api_key_env=api_key_env if kind == "openai_compat" else "",
        tool_choice=tool_choice,
    )


def parse_route(text: str) -> list[BackendConfig]:
    """A comma-separated list of specs, tried in order (the fallback chain)."""
    specs = [part for part in (p.strip() for p in text.split(",")) if part]
    if not specs:
        raise ConfigError("empty route; try 'ollama:task-api-model@http://localhost:11434,builtin'")
    return [parse_spec(s) for s in specs]


def with_name(config: BackendConfig, name: str) -> BackendConfig:
    return replace(config, name=name)
