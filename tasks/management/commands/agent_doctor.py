"""Check every configured backend: reachable, model present, calls tools, how fast.

Then say which integration pattern fits (direct, proxy or a cloud endpoint), and show the
circuit breaker's state for each backend, as the fallback chain sees it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agentcore.backends import build_backend
from agentcore.breaker import default_breaker
from agentcore.doctor import ProbeResult, probe, recommend_pattern
from agentcore.errors import ConfigError
from agentcore.specs import BackendConfig, parse_route
from tasks.backend_routes import default_route, profile_config
from tasks.models import BackendProfile


def configs_to_check(specs: list[str]) -> list[BackendConfig]:
    """The given specs, else every enabled profile plus the default route's specs."""
    if specs:
        return [c for spec in specs for c in parse_route(spec)]
    configs = [profile_config(p) for p in BackendProfile.objects.filter(enabled=True)]
    known = {(c.kind, c.model, c.base_url) for c in configs}
    for config in parse_route(default_route()):
        if (config.kind, config.model, config.base_url) not in known:
            configs.append(config)
    return configs


def _fmt(value: float | None, unit: str, scale: float = 1.0) -> str:
    return "—" if value is None else f"{value * scale:.0f} {unit}"


def _rate(result: ProbeResult) -> str:
    # A sub-10 ms answer (the built-in engine) has no meaningful generation speed.
    if result.tokens_per_second is None or (result.total_s or 0) < 0.01:
        return "—"
    return str(result.tokens_per_second)


def describe(result: ProbeResult, breaker: dict[str, Any]) -> str:
    def yes_no(flag: bool | None) -> str:
        return "n/a" if flag is None else ("yes" if flag else "NO")

    lines = [
        f"{result.backend}",
        f"  reachable:      {yes_no(result.reachable)}",
        f"  model present:  {yes_no(result.model_present)}",
        f"  calls tools:    {result.tool_call or '—'}"
        + (f" (forced: tool_choice={result.tool_choice})" if result.tool_choice else ""),
        f"  probe latency:  first token {_fmt(result.ttft_s, 'ms', 1000)},"
        f" total {_fmt(result.total_s, 'ms', 1000)}",
        f"  tokens/second:  {_rate(result)}"
        f"{' (estimated count)' if result.tokens_estimated else ''}"
        f"{' (answer arrived whole: over total time)' if result.rate_includes_prompt else ''}",
        f"  circuit:        {breaker.get('state', 'closed')}"
        + (f" until {breaker['open_until']}" if breaker.get("open_until") else "")
        + (f", {breaker.get('failures')} recent failure(s)" if breaker.get("failures") else ""),
    ]
    lines += [f"  problem:        {p}" for p in result.problems]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Probe each configured backend and recommend an integration pattern."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend", action="append", default=[], help="Check only these specs/routes"
        )
        parser.add_argument("--clients", type=int, default=1, help="Expected concurrent clients")
        parser.add_argument(
            "--sdk", action="store_true", help="Other tools need the OpenAI SDK shape"
        )
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            configs = configs_to_check(options["backend"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        results = asyncio.run(self._probe_all(configs))
        advice = recommend_pattern(
            configs, clients=options["clients"], needs_sdk_compatibility=options["sdk"]
        )
        if options["json"]:
            payload = {
                "backends": [{**asdict(r), "circuit": b} for r, b in results],
                "recommendation": asdict(advice),
            }
            self.stdout.write(json.dumps(payload, indent=2, default=str))
            return
        for result, breaker in results:
            self.stdout.write(describe(result, breaker) + "\n")
        self.stdout.write(f"Recommended integration pattern: {advice.pattern} — {advice.reason}")

    async def _probe_all(
        self, configs: list[BackendConfig]
    ) -> list[tuple[ProbeResult, dict[str, Any]]]:
        out: list[tuple[ProbeResult, dict[str, Any]]] = []
        breaker = default_breaker()
        for config in configs:
            try:
                backend = build_backend(config)
            except ConfigError as exc:
                out.append((ProbeResult(backend=config.name, problems=[str(exc)]), {}))
                continue
            try:
                result = await probe(backend, tool_choice=config.tool_choice)
            finally:
                await backend.aclose()
            snapshot = await breaker.snapshot(backend.info.name)
            out.append((result, snapshot.to_dict()))
        return out
