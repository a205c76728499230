"""Backend kinds and the one function that builds a backend from its config."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ..errors import ConfigError
from ..specs import BackendConfig
from .base import Backend, BackendInfo, Chunk, ModelRequest, ModelSettings

# kind → "module:Class", imported on demand so optional extras stay optional.
KINDS: dict[str, str] = {
    "builtin": "agentcore.backends.builtin:BuiltinBackend",
    "ollama": "agentcore.backends.ollama:OllamaBackend",
    "openai_compat": "agentcore.backends.openai_compat:OpenAICompatBackend",
    "llamacpp": "agentcore.backends.llamacpp:LlamaCppBackend",
}


def build_backend(config: BackendConfig) -> Backend:
    """Instantiate the backend class registered for `config.kind`."""
    target = KINDS.get(config.kind)
    if target is None:
        raise ConfigError(f"unknown backend kind {config.kind!r}; known: {', '.join(KINDS)}")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls.from_config(config)
    return backend


def build_route(configs: Sequence[BackendConfig], **fallback_options: object) -> Backend:
    """One backend for a single config; a fallback chain for several."""
    backends = [build_backend(c) for c in configs]
    if len(backends) == 1:
        return backends[0]
    from .fallback import FallbackBackend

    return FallbackBackend(backends, **fallback_options)  # type: ignore[arg-type]


__all__ = [
    "KINDS",
    "Backend",
    "BackendInfo",
    "Chunk",
    "ModelRequest",
    "ModelSettings",
    "build_backend",
    "build_route",
]
