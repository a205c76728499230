"""Run turns of one conversation from the terminal, through the same runner as the web app."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agentcore.errors import ConfigError
from agentcore.events import (
    Answered,
    Event,
    Failed,
    ModelResponded,
    Notice,
    RunFinished,
    ToolCalled,
    ToolResulted,
)
from agentcore.messages import ToolCall
from tasks import services
from tasks.backend_routes import backend_for_route, close_all, operator_routes
from tasks.models import Conversation
from tasks.runner import execute_run


def describe(event: Event) -> str:
    """One readable line per event for people (the --json form is for scripts)."""
    p = event.payload
    backend = getattr(p, "backend", "")
    head = f"[{event.seq:>3}] {event.type:<16}{backend if isinstance(backend, str) else '':<24}"
    if isinstance(p, ToolCalled):
        return f"{head} {p.name} {json.dumps(p.arguments, default=str)}"
    if isinstance(p, ToolResulted):
        return f"{head} {p.name} → {p.content[:200]}"
    if isinstance(p, ModelResponded):
        return (
            f"{head} {p.duration_ms} ms, {p.input_tokens}→{p.output_tokens}"
            f" tokens{' (recovered from text)' if p.recovered else ''}"
        )
    if isinstance(p, Notice):
        return f"{head} {p.reason}"
    if isinstance(p, Failed):
        return f"{head} {p.message}"
    if isinstance(p, Answered):
        return f"{head}\n{p.text}"
    if isinstance(p, RunFinished):
        return f"{head} {p.status} in {p.duration_ms} ms"
    return head


class Command(BaseCommand):
    help = "Chat with the agent from the terminal: one turn per message, events as they happen."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("messages", nargs="+", help="User messages, sent in order")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--backend", help="A profile name or spec, e.g. builtin")
        group.add_argument("--route", help="Comma-separated specs tried in order")
        parser.add_argument("--json", action="store_true", help="Print one JSON event per line")
        parser.add_argument("--user", default="cli", help="Whose tasks (created if missing)")
        parser.add_argument("--conversation", type=int, help="Continue this conversation id")
        parser.add_argument("--local-only", action="store_true", help="Never use cloud backends")
        parser.add_argument(
            "--yes", action="store_true", help="Approve destructive calls (default: reject)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, _ = get_user_model().objects.get_or_create(username=options["user"])
        route = options["route"] or options["backend"] or ""
        if options["conversation"]:
            conversation = Conversation.objects.filter(
                pk=options["conversation"], owner=user
            ).first()
            if conversation is None:
                raise CommandError(f"no conversation {options['conversation']} for {user}")
            if route:
                conversation.route = route
                conversation.save(update_fields=["route"])
        else:
            conversation = services.conversation_create(
                user=user, route=route, local_only=options["local_only"]
            )
        try:
            backend_for_route(conversation.route or _default(), local_only=conversation.local_only)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        with operator_routes():  # the operator's command line: ad-hoc specs and their key
            asyncio.run(self._turns(conversation, options))

    async def _turns(self, conversation: Conversation, options: dict[str, Any]) -> None:
        as_json = options["json"]

        async def publish(event: Event) -> None:
            if as_json:
                sys.stdout.write(event.to_json() + "\n")
            elif event.type != "token":
                sys.stdout.write(describe(event) + "\n")
            sys.stdout.flush()

        async def approve(call: ToolCall) -> bool:
            return bool(options["yes"])

        try:
            for text in options["messages"]:
                await execute_run(conversation, text, publish=publish, approve=approve)
        finally:
            # Release HTTP pools and loaded models while the loop still runs, not at exit.
            await close_all()


def _default() -> str:
    from tasks.backend_routes import default_route

    return default_route()
