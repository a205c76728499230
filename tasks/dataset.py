"""Fine-tuning data from stored runs: OpenAI chat format with tools, or ShareGPT.

One line per turn window: the conversation up to and including one run, with the system
prompt the loop sent and the tool schemas the run offered. Earlier turns of the window are
context: in the OpenAI format their assistant messages carry `weight: 0`, so only the run's
own answer is trained on. A run is left out (and counted, per reason) when its trajectory is
not one to imitate: it did not complete, a tool call failed or was rejected, or its answer
was rated 👎. User names and e-mail addresses never appear: no user field is written, and the
user's username, e-mail, first and last name are replaced in every text of the line.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from agentcore.messages import Message as CoreMessage
from agentcore.pricing import estimate_tokens
from agentcore.tools import ToolSpec

from .agent_tools import build_task_tools
from .models import AgentRun, RunStatus
from .models_feedback import RunRating
from .prompts import SYSTEM_PROMPT
from .run_record import RunRecord, run_records

Format = Literal["openai", "sharegpt"]
FORMATS: tuple[Format, ...] = ("openai", "sharegpt")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


@dataclass(frozen=True, kw_only=True)
class Options:
    format: Format = "openai"
    since: dt.datetime | None = None
    profile: str | None = None
    """Only runs answered by this backend profile (or spec name)."""
    rated_only: bool = False
    """Only runs rated 👍."""
    exclude_errors: bool = False
    """Also leave out runs that retried, fell back or hit a backend error on the way."""
    include_failed_tools: bool = False
    include_interrupted: bool = False
    include_disliked: bool = False


@dataclass
class Summary:
    lines: int = 0
    turns: int = 0
    """User turns in the written lines (context turns included)."""
    tokens: int = 0
    """Estimated tokens of the written lines (the loop's estimator: ~4 characters a token)."""
    skipped: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        text = f"wrote {self.lines} lines, {self.turns} turns, ~{self.tokens} tokens"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} runs: {reasons}"
        return text


class Scrubber:
    """Replaces one user's identifying strings (and any e-mail address) in text."""

    def __init__(self, user: AbstractBaseUser) -> None:
        names = {
            str(getattr(user, attr, "") or "").strip()
            for attr in ("email", "username", "first_name", "last_name")
        }
        words = sorted((n for n in names if len(n) >= 2), key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
            if words
            else None
        )

    def text(self, value: str) -> str:
        value = EMAIL.sub("[email]", value)
        return self._pattern.sub("[user]", value) if self._pattern else value

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def runs_for(options: Options, *, owner: AbstractBaseUser | None = None) -> QuerySet[AgentRun]:
    runs = AgentRun.objects.select_related("conversation__owner").order_by("started_at", "id")
    if owner is not None:
        runs = runs.filter(conversation__owner_id=owner.pk)
    if options.since is not None:
        runs = runs.filter(started_at__gte=options.since)
    if options.profile:
        runs = runs.filter(answered_by=options.profile)
    return runs.exclude(status=RunStatus.RUNNING)


def skip_reason(record: RunRecord, verdict: str | None, options: Options) -> str | None:
    """Why a run is not training data under `options`, or None to keep it."""
    status = record.run.status
    if options.rated_only and verdict != "up":
        return "not rated up"
    if verdict == "down" and not options.include_disliked:
        return "rated down"
    if status in (RunStatus.INTERRUPTED, RunStatus.CANCELLED) and not options.include_interrupted:
        return f"run {status}"
    if status != RunStatus.COMPLETED and status not in (
        RunStatus.INTERRUPTED,
        RunStatus.CANCELLED,
    ):
        return f"run {status}"
    if not options.include_failed_tools:
        if any(t.rejected for t in record.tool_runs):
            return "tool call rejected"
        if any(t.error for t in record.tool_runs):
            return "tool call failed"
    if options.exclude_errors and record.had_backend_trouble:
        return "retry, fallback or backend error"
    if not any(m.role == "assistant" and m.content for m in record.messages):
        return "no final answer"
    return None


def system_prompt(now: dt.datetime) -> str:
    return SYSTEM_PROMPT.format(today=now.strftime("%A %Y-%m-%d"))


def _tool_specs(user: AbstractBaseUser) -> list[ToolSpec]:
    return list(build_task_tools(user).specs)


def openai_message(message: CoreMessage, scrub: Scrubber, *, context: bool) -> dict[str, Any]:
    """One message as OpenAI's chat params (`ChatCompletionMessageParam`)."""
    content = scrub.text(message.content)
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}
    if message.role != "assistant":
        return {"role": message.role, "content": content}
    out: dict[str, Any] = {"role": "assistant"}
    if content or not message.tool_calls:
        out["content"] = content
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(scrub.data(call.arguments), ensure_ascii=False),
                },
            }
            for call in message.tool_calls
        ]
    if context:
        out["weight"] = 0
    return out


def openai_line(record: RunRecord, scrub: Scrubber, tools: Sequence[ToolSpec]) -> dict[str, Any]:
    messages = [{"role": "system", "content": system_prompt(record.now)}]
    messages += [openai_message(m, scrub, context=True) for m in record.history]
    messages += [openai_message(m, scrub, context=False) for m in record.messages]
    offered = set(record.offered_tools)
    return {
        "messages": messages,
        "tools": [t.to_openai() for t in tools if not offered or t.name in offered],
    }


def sharegpt_line(record: RunRecord, scrub: Scrubber, tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """ShareGPT with tools, as LLaMA-Factory reads it: function_call / observation turns."""
    turns: list[dict[str, str]] = []
    roles = {"user": "human", "assistant": "gpt", "tool": "observation"}
    for message in (*record.history, *record.messages):
        if message.role == "assistant" and message.tool_calls:
            if message.content:
                turns.append({"from": "gpt", "value": scrub.text(message.content)})
            for call in message.tool_calls:
                body = {"name": call.name, "arguments": scrub.data(call.arguments)}
                turns.append({"from": "function_call", "value": json.dumps(body)})
        elif message.role in roles:
            turns.append({"from": roles[message.role], "value": scrub.text(message.content)})
    return {
        "conversations": turns,
        "system": system_prompt(record.now),
        "tools": json.dumps([t.to_openai()["function"] for t in tools]),
    }


def _verdicts(run_ids: Iterable[int]) -> dict[int, str]:
    """A run's verdict: 👎 if anyone rated it down, else 👍 if anyone rated it up."""
    verdicts: dict[int, str] = {}
    for run_id, verdict in RunRating.objects.filter(run_id__in=list(run_ids)).values_list(
        "run_id", "verdict"
    ):
        if verdicts.get(run_id) != "down":
            verdicts[run_id] = verdict
    return verdicts


def export_lines(runs: QuerySet[AgentRun], options: Options, summary: Summary) -> Iterator[str]:
    """The JSON lines for `runs`, counting what was written and skipped into `summary`."""
    make = openai_line if options.format == "openai" else sharegpt_line
    users: dict[int, tuple[Scrubber, list[ToolSpec]]] = {}
    for chunk in _chunks(runs):
        verdicts = _verdicts(r.pk for r in chunk)
        for record in run_records(chunk):
            run = record.run
            why = skip_reason(record, verdicts.get(run.pk), options)
            if why is not None:
                summary.skipped[why] += 1
                continue
            owner = run.conversation.owner
            if owner.pk not in users:
                users[owner.pk] = (Scrubber(owner), _tool_specs(owner))
            scrub, tools = users[owner.pk]
            line = json.dumps(make(record, scrub, tools), ensure_ascii=False)
            summary.lines += 1
            summary.turns += sum(m.role == "user" for m in (*record.history, *record.messages))
            summary.tokens += estimate_tokens(line)
            yield line + "\n"


def _chunks(runs: QuerySet[AgentRun], size: int = 200) -> Iterator[list[AgentRun]]:
    batch: list[AgentRun] = []
    for run in runs.iterator(chunk_size=size):
        batch.append(run)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
