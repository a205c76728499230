"""agentcore: the agent runtime of Taskweb. It imports nothing from Django.

The Django app adapts it: it supplies tools bound to one user, persists the events, renders them.
"""

from __future__ import annotations

from .backends.base import (
    Backend,
    BackendInfo,
    Chunk,
    ModelRequest,
    ModelSettings,
    NoticeChunk,
    TextDelta,
    ToolCallChunk,
    UsageChunk,
)
from .errors import (
    AgentCoreError,
    BackendError,
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
)
from .events import Event, EventType
from .loop import Agent
from .messages import Message, ToolCall
from .tools import Tool, ToolError, ToolSet, ToolSpec

__all__ = [
    "Agent",
    "AgentCoreError",
    "Backend",
    "BackendError",
    "BackendHTTPError",
    "BackendInfo",
    "BackendProtocolError",
    "BackendTimeout",
    "BackendUnavailable",
    "Chunk",
    "ConfigError",
    "Event",
    "EventType",
    "Message",
    "ModelRequest",
    "ModelSettings",
    "NoticeChunk",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallChunk",
    "ToolError",
    "ToolSet",
    "ToolSpec",
    "UsageChunk",
]
