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


def test_options_after_hash_set_tool_choice_and_keep_the_model_variant():
    config = parse_spec("openai_compat:m@http://127.0.0.1:4000/v1#tool_choice=create_task")
    assert (config.model, config.base_url, config.tool_choice) == (
        "m", "http://127.0.0.1:4000/v1", "create_task",
    )  # fmt: skip
    local = parse_spec("llamacpp:/m/x.gguf#chatml-function-calling&tool_choice=required")
    assert (local.model, local.tool_choice) == ("/m/x.gguf#chatml-function-calling", "required")
    assert parse_spec("ollama:m#generate@http://h:1").model == "m#generate"
    assert parse_spec("openai_compat:m@http://h#tool_choice=auto").tool_choice == ""


@pytest.mark.parametrize(
    "spec",
    [
        "openai_compat:m@http://h:1/v1#tool_choice=create_task",
        "llamacpp:/m/x.gguf#chatml&tool_choice=list_tasks",
        "ollama:m#generate@http://h:1",
    ],
)
def test_a_config_prints_back_as_the_spec_it_came_from(spec):
    config = parse_spec(spec)
    assert config.spec() == spec
    assert parse_spec(config.spec()) == config


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("ollama:m@http://h:1#tool_choice=create_task", "only openai_compat and llamacpp"),
        ("openai_compat:m@http://h:1#colour=blue", "unknown option 'colour'"),
        ("openai_compat:m@http://h:1#tool_choice=two words", "not auto, none, required"),
        ("llamacpp:/x.gguf#chatml&chatml-function-calling", "two variants"),
    ],
)
def test_bad_options_say_what_is_wrong(bad, says):
    with pytest.raises(ConfigError, match=says):
        parse_spec(bad)
