"""Helpers shared by the backend tests: a short-timeout config, a tiny tool set, a run."""

from __future__ import annotations

import uuid
from dataclasses import replace

from agentcore.backends.base import ModelRequest
from agentcore.loop import Agent
from agentcore.messages import Message
from agentcore.specs import BackendConfig, Timeouts, parse_spec
from agentcore.tools import Tool, ToolSet

QUICK = Timeouts(connect=1.0, first_token=0.5, total=3.0)
ROOMY = Timeouts(connect=5.0, first_token=10.0, total=20.0)
"""For tests that are not about timeouts: a busy machine must not turn them into one."""
REQUEST = ModelRequest(messages=[Message(role="user", content="add buy milk")], tools=[])


def config_for(spec: str, **changes) -> BackendConfig:
    return replace(parse_spec(spec), **{"timeouts": QUICK, **changes})


def task_tools() -> tuple[ToolSet, list[dict]]:
    created: list[dict] = []

    def create_task(title: str, priority: str = "medium") -> dict:
        """Create a task for the user."""
        task = {"id": len(created) + 1, "title": title, "priority": priority}
        created.append(task)
        return task

    return ToolSet.of([Tool.from_function(create_task)]), created


async def collect(backend, request: ModelRequest = REQUEST) -> list:
    return [chunk async for chunk in backend.stream(request)]


async def run_agent(backend, text: str = "add buy milk", tools: ToolSet | None = None):
    tools = tools or task_tools()[0]
    agent = Agent(backend=backend, tools=tools)
    messages = [Message(role="user", content=text)]
    return [e async for e in agent.run(messages, run_id=uuid.uuid4().hex)]
