"""Tools: plain Python functions whose JSON schema and validation come from pydantic.

A model's mistakes (unknown tool, invalid arguments, a tool that refuses) are returned as
`ToolOutcome(error=...)` text the model can read and correct, never raised into the loop.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import pydantic

from .messages import ToolCall

ToolRunner = Callable[[Callable[..., Any], dict[str, Any]], Awaitable[Any]]
"""Runs a sync tool function; the Django app passes one that hops to its DB thread."""


class ToolError(Exception):
    """Raised by a tool to tell the model what went wrong (e.g. "no task with id 7")."""


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """What a backend sends to the model: name, description and JSON schema of the arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        """The `tools` entry shared by the OpenAI and Ollama chat APIs."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True, kw_only=True)
class Tool:
    name: str
    description: str
    function: Callable[..., Any]
    args_model: type[pydantic.BaseModel]
    requires_approval: bool = False
    """Destructive tools wait for the user's yes before they run."""
    precheck: Callable[..., Any] | None = None
    """Called with the call's arguments before a person is asked to approve it; a ToolError
    it raises answers the call at once (no card asks to delete a task that does not exist)."""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        requires_approval: bool = False,
        precheck: Callable[..., Any] | None = None,
    ) -> Tool:
        """Build the schema from the signature's type hints and defaults, like llm's Tool."""
        tool_name = name or function.__name__
        model = _args_model(function, tool_name)
        doc = inspect.getdoc(function) or tool_name
        return cls(
            name=tool_name,
            description=doc.strip(),
            function=function,
            args_model=model,
            requires_approval=requires_approval,
            precheck=precheck,
        )

    @property
    def unset_defaults(self) -> tuple[str, ...]:
        """Parameters left out of a call unless the model sent them (see UNSET)."""
        return _unset_defaults(self.function)

    @property
    def spec(self) -> ToolSpec:
        return _spec(self.name, self.description, self.args_model)


@functools.lru_cache(maxsize=256)
def _spec(name: str, description: str, args_model: type[pydantic.BaseModel]) -> ToolSpec:
    """One spec per tool definition, shared by every run (tools are rebuilt per run, for
    their user; copying six schemas each time was 2.6% of a builtin turn's CPU). Nothing
    changes a spec once made: backends only serialise it."""
    schema = copy.deepcopy(_parameters_schema(args_model))
    return ToolSpec(name=name, description=description, parameters=schema)


class _Unset:
    """The default of an argument whose explicit `null` means something ("clear it")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A tool parameter defaulting to UNSET is absent from the call unless the model sent it, so
`update_task(task_id=3, due_date=None)` (clear the date) differs from leaving it out. Its
schema shows `null` as the default, as a model expects."""

_MODEL_CACHE: dict[tuple[Any, ...], type[pydantic.BaseModel]] = {}


def _unset_defaults(function: Callable[..., Any]) -> tuple[str, ...]:
    defaults = getattr(function, "__defaults__", None) or ()
    if not any(d is UNSET for d in defaults):
        return ()
    return tuple(
        p.name for p in inspect.signature(function).parameters.values() if p.default is UNSET
    )


def _build_args_model(function: Callable[..., Any], tool_name: str) -> type[pydantic.BaseModel]:
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(function).parameters.values():
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        if default is UNSET:
            default = None
        fields[param.name] = (annotation, default)
    return pydantic.create_model(
        f"{tool_name}_args",
        __config__=pydantic.ConfigDict(extra="forbid"),
        **fields,
    )


def _args_model(function: Callable[..., Any], tool_name: str) -> type[pydantic.BaseModel]:
    """The arguments model, shared by every function made from the same code and signature.

    Apps bind tools to a user per run (closures), and pydantic's `create_model` plus schema
    generation cost several ms per tool: ~15 ms of every web turn went here. Closures of one
    `def` with equal defaults and annotations have the same signature, so they share a model.
    """
    code = getattr(function, "__code__", None)
    if code is None:
        return _build_args_model(function, tool_name)
    try:
        key = (
            code,
            tool_name,
            repr(getattr(function, "__defaults__", None)),
            repr(getattr(function, "__kwdefaults__", None)),
            tuple(getattr(function, "__annotations__", {}).items()),
        )
        hash(key)
    except TypeError:
        return _build_args_model(function, tool_name)
    model = _MODEL_CACHE.get(key)
    if model is None:
        model = _MODEL_CACHE[key] = _build_args_model(function, tool_name)
    return model


@functools.lru_cache(maxsize=512)
def _parameters_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The JSON schema of an arguments model without pydantic's titles, built once per model."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


@dataclass(frozen=True, kw_only=True)
class ToolOutcome:
    """The result of one call: `content` for the model, plus a structured value for the UI."""

    content: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def _call_directly(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return function(**kwargs)


def format_validation_error(tool: str, exc: pydantic.ValidationError) -> str:
    """Turn pydantic's errors into a short instruction a model can act on."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems)


@dataclass
class ToolSet:
    """The tools one run may use, and the one place where calls are validated and executed."""

    tools: dict[str, Tool] = field(default_factory=dict)
    runner: ToolRunner = _call_directly

    @classmethod
    def of(cls, tools: Iterable[Tool], *, runner: ToolRunner | None = None) -> ToolSet:
        return cls({t.name: t for t in tools}, runner or _call_directly)

    @functools.cached_property
    def specs(self) -> Sequence[ToolSpec]:
        """Schemas for the model, built once: pydantic's schema generation costs ~2 ms a step."""
        return [tool.spec for tool in self.tools.values()]

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def validate(self, call: ToolCall) -> tuple[Tool | None, dict[str, Any] | str]:
        """Return the tool and clean arguments, or an error text for the model."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            return None, f"Unknown tool {call.name!r}. Available tools: {known}."
        try:
            args = tool.args_model.model_validate(call.arguments)
        except pydantic.ValidationError as exc:
            return tool, format_validation_error(tool.name, exc)
        cleaned = args.model_dump()
        for name in tool.unset_defaults:
            if name not in args.model_fields_set:
                del cleaned[name]
        return tool, cleaned

    async def precheck(self, tool: Tool, arguments: dict[str, Any]) -> ToolOutcome | None:
        """The call's answer when its precheck refuses it, else None (ask the person)."""
        if tool.precheck is None:
            return None
        try:
            if inspect.iscoroutinefunction(tool.precheck):
                await tool.precheck(**arguments)
            else:
                await self.runner(tool.precheck, arguments)
        except ToolError as exc:
            return ToolOutcome(content=f"Error: {exc}", error=str(exc))
        return None

    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            if inspect.iscoroutinefunction(tool.function):
                value = await tool.function(**arguments)
            else:
                value = await self.runner(tool.function, arguments)
        except ToolError as exc:
            return ToolOutcome(content=f"Error: {exc}", error=str(exc))
        return ToolOutcome(content=json.dumps(value, default=str, ensure_ascii=False), value=value)
