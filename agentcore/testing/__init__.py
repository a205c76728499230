"""Test helpers shipped with agentcore (importable without pytest)."""

from __future__ import annotations

from .scripted import CallInfo, ScriptedBackend, Turn, UnconsumedScript, UnexpectedBackendCall

__all__ = ["CallInfo", "ScriptedBackend", "Turn", "UnconsumedScript", "UnexpectedBackendCall"]
