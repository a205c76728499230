"""Backend specs and routes: what people type on the command line and in TASKWEB_ROUTE."""

from __future__ import annotations

import pytest

from agentcore.errors import ConfigError
from agentcore.specs import parse_route, parse_spec


def test_an_ollama_spec_names_model_and_url():
    config = parse_spec("ollama:task-api-model@http://localhost:11434")
    assert (config.kind, config.model, config.base_url) == (
        "ollama", "task-api-model", "http://localhost:11434",
    )  # fmt: skip
    assert config.resolved_locality == "local"


def test_a_model_name_with_a_colon_survives():
    config = parse_spec("ollama:llama3.2:3b@http://127.0.0.1:11434")
    assert config.model == "llama3.2:3b"


def test_a_cloud_url_is_cloud_and_reads_the_openai_key_variable():
    config = parse_spec("openai_compat:gpt-4o-mini@https://api.openai.com/v1")
    assert config.resolved_locality == "cloud"
    assert config.api_key_env == "OPENAI_API_KEY"


def test_a_route_is_a_chain_in_order():
    route = parse_route("ollama:m@http://127.0.0.1:9, builtin")
    assert [c.kind for c in route] == ["ollama", "builtin"]


def test_llamacpp_takes_a_path():
    assert parse_spec("llamacpp:/models/x.gguf").model == "/models/x.gguf"


@pytest.mark.parametrize("bad", ["", "gpt4", "ollama:", "llamacpp:", "  ,  "])
def test_bad_specs_say_what_to_type(bad):
    with pytest.raises(ConfigError) as info:
        parse_route(bad)
    assert "'" in str(info.value)
