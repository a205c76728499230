"""How big each benchmark runs: `full`, `quick` (< 2 min on 2 cores) and `smoke` (the test).

Kept in one record so the three presets can be compared at a glance, and so the smoke test
runs the very same code paths with tiny numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Sizes:
    loop_turns: int
    """Agent turns for the loop-overhead benchmark (and as many raw call pairs)."""
    client_calls: int
    """Calls per client (bare httpx, openai_compat, ollama, fallback) in the client benchmark."""
    proxy_calls: int
    """Calls through the LiteLLM proxy (0: do not start it)."""
    refused_trials: int
    """Fallback-after-refused-connection trials."""
    e2e_concurrency: tuple[int, ...]
    """Concurrent conversations through daphne, built-in engine."""
    e2e_messages: int
    """Messages each conversation sends, one after another, per concurrency level."""
    e2e_postgres: bool
    """Repeat the end-to-end run on PostgreSQL + Redis when both are reachable."""
    stream_tokens: int
    """Tokens per streamed answer in the relay benchmark."""
    stream_chats: tuple[int, ...]
    """Concurrent streaming chats in the relay benchmark."""
    load_conversations: int
    """Concurrent conversations in the concurrency benchmark (300 ms upstream)."""
    load_turns: int
    idle_connections: int
    eval_rounds: int
    """Passes over evals/dev.jsonl for the built-in engine's turns per second."""


FULL = Sizes(
    loop_turns=3000,
    client_calls=600,
    proxy_calls=300,
    refused_trials=30,
    e2e_concurrency=(1, 10, 50),
    e2e_messages=20,
    e2e_postgres=True,
    stream_tokens=50,
    stream_chats=(1, 50),
    load_conversations=200,
    load_turns=3,
    idle_connections=1000,
    eval_rounds=5,
)
QUICK = Sizes(
    loop_turns=600,
    client_calls=150,
    proxy_calls=60,
    refused_trials=10,
    e2e_concurrency=(1, 10, 50),
    e2e_messages=4,
    e2e_postgres=False,
    stream_tokens=20,
    stream_chats=(1, 50),
    load_conversations=200,
    load_turns=3,
    idle_connections=1000,
    eval_rounds=1,
)
SMOKE = Sizes(
    loop_turns=5,
    client_calls=3,
    proxy_calls=0,
    refused_trials=1,
    e2e_concurrency=(1,),
    e2e_messages=1,
    e2e_postgres=False,
    stream_tokens=3,
    stream_chats=(1,),
    load_conversations=2,
    load_turns=1,
    idle_connections=3,
    eval_rounds=0,
)
PRESETS = {"full": FULL, "quick": QUICK, "smoke": SMOKE}
