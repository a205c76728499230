"""How big each benchmark runs: `full`, `quick` (fewer samples, every scenario) and `smoke`.

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
    floor_concurrency: int
    """Concurrent conversations when Taskweb is compared with its floor (echo, plain SQL)."""
    floor_messages: int
    """Turns each of those conversations sends per repetition."""
    floor_reps: int
    """Interleaved repetitions of the floor comparison (figures are their medians)."""
    floor_postgres: bool
    """Repeat the floor comparison on PostgreSQL + Redis when both are reachable."""
    long_turns: int
    """Turns of the long conversations (turn N's cost is compared with turn 2's)."""
    long_conversations: int
    """Long conversations driven side by side, turn by turn."""
    long_window: int
    """Turns per measured window (turns 2.. and the last ones): /proc CPU has 10 ms ticks."""


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
    floor_concurrency=50,
    floor_messages=4,
    floor_reps=3,
    floor_postgres=True,
    long_turns=200,
    long_conversations=4,
    long_window=10,
)
QUICK = Sizes(
    loop_turns=600,
    client_calls=150,
    proxy_calls=60,
    refused_trials=10,
    e2e_concurrency=(1, 10, 50),
    e2e_messages=4,
    e2e_postgres=True,
    stream_tokens=20,
    stream_chats=(1, 50),
    load_conversations=200,
    load_turns=3,
    idle_connections=1000,
    eval_rounds=1,
    floor_concurrency=50,
    floor_messages=2,
    floor_reps=2,
    floor_postgres=True,
    long_turns=200,
    long_conversations=2,
    long_window=10,
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
    floor_concurrency=2,
    floor_messages=1,
    floor_reps=1,
    floor_postgres=False,
    long_turns=4,
    long_conversations=1,
    long_window=1,
)
PRESETS = {"full": FULL, "quick": QUICK, "smoke": SMOKE}
