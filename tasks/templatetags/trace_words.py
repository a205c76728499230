"""The trace in plain words: why a backend was skipped, what an approval will do.

The trace records errors as the code raised them ("unavailable from ollama:…: cannot reach
http://localhost:11434 (ConnectError …)"), which is right for the audit trail and wrong for a
person glancing at the page. These filters say the same thing in a sentence; the raw reason
stays underneath, smaller, for whoever debugs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from agentcore.error_words import schema_words
from tasks.approval_subjects import ApprovalSubject, approval_subject_for
from tasks.steps import payload_dict
from tasks.templatetags.taskweb import dollars, ms, pretty_json

register = template.Library()

_KIND_NAMES = {
    "ollama": "Ollama",
    "openai_compat": "The OpenAI-compatible server",
    "llamacpp": "The local GGUF model",
    "builtin": "The built-in engine",
}
_STEP_LABELS = {
    "model_request": "model request",
    "model_response": "model response",
    "tool_call": "tool call",
    "tool_result": "tool result",
    "approval_required": "approval needed",
    "approval_decision": "approval",
}
_PROBLEMS = {"retry", "fallback", "error"}


def _describe_backend(name: str) -> tuple[str, str]:
    """("Ollama", "localhost:11434") from a spec; (profile name, "") from a profile name."""
    kind, sep, rest = name.partition(":")
    if not sep or kind not in _KIND_NAMES:
        return name, ""
    _, at, url = rest.partition("@")
    where = ""
    if at:
        parts = urlsplit(url)
        where = parts.netloc or url
    return _KIND_NAMES[kind], where


def _seconds_words(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


@register.filter
def relative_time(value: Any, now: dt.datetime | None = None) -> str:
    """'in 25 s' / '3 min ago' for an ISO string or datetime; '' when there is none."""
    if not value:
        return ""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(when, dt.datetime):
        return ""
    if timezone.is_naive(when):
        when = timezone.make_aware(when, dt.timezone.utc)
    delta = (when - (now or timezone.now())).total_seconds()
    if abs(delta) < 1:
        return "now"
    words = _seconds_words(delta)
    return f"in {words}" if delta > 0 else f"{words} ago"


@register.filter
def plain_reason(payload: Any) -> str:
    """A retry, fallback, skip or error step as one sentence a user can act on."""
    p = payload_dict(payload)
    backend = str(p.get("backend") or "the backend")
    who, where = _describe_backend(backend)
    then = f" — answered by {p['next']}" if p.get("next") else ""
    notice = p.get("notice")
    if notice == "skip":
        if p.get("policy"):
            return (
                f"{who} was not asked: this conversation is local only and it is a cloud backend."
            )
        if "earlier in this run" in str(p.get("reason") or ""):
            return f"{who} was not asked again: it already failed earlier in this run{then}."
        until = relative_time(p.get("open_until"))
        retry = f"; it will be tried again {until}" if until and until.startswith("in ") else ""
        return f"{who} was skipped: it failed several times in a row (circuit open){retry}."
    if notice == "abandon":
        return f"{who} broke off in the middle of its answer; the next backend answers instead."
    kind = p.get("error_kind")
    status = p.get("status")
    if kind == "unavailable":
        what = f"{who} is not running at {where}" if where else f"{who} could not be reached"
    elif kind == "timeout":
        what = f"{who} did not answer in time"
    elif kind == "model_not_found":
        what = f"{who} does not have the model"
    elif kind == "context_too_long":
        what = f"The conversation is too long for {who}"
    elif kind == "protocol_error":
        what = f"{who} sent an answer that could not be read"
    elif kind == "misconfigured":
        what = f"{who} is not set up for this request"
    elif kind == "http_error" and status == 429:
        what = f"{who} is rate limiting requests"
    elif kind == "http_error" and status in {401, 403}:
        what = f"{who} refused the API key (HTTP {status})"
    elif kind == "http_error" and status:
        what = f"{who} answered with an error (HTTP {status})"
    else:
        return str(p.get("reason") or p.get("message") or "Something went wrong.")
    if p.get("attempt") and p.get("max_retries"):
        delay = p.get("delay_s")
        wait = f" in {float(delay):g} s" if delay is not None else ""
        return f"{what} — trying again{wait} (retry {p['attempt']} of {p['max_retries']})."
    return f"{what}{then}."


_TOOL_ERROR_STARTS = (
    ("rejected by the user", "You rejected this call; nothing was changed."),
    ("no task with id", "There is no such task."),
)


@register.filter
def plain_tool_error(error: str) -> str:
    """A tool error in words: schema messages ("title: String should have at most 300
    characters") become "The title is too long (at most 300 characters)"."""
    text = str(error or "")
    for start, words in _TOOL_ERROR_STARTS:
        if text.startswith(start):
            return words
    return schema_words(text) or text


@register.filter
def backend_name(backend: Any) -> str:
    """A step's backend as a name: run_started records the whole backend description."""
    if isinstance(backend, dict):
        return str(backend.get("name") or backend.get("kind") or "")
    return str(backend)


@register.filter
def step_label(step_type: str) -> str:
    return _STEP_LABELS.get(step_type, step_type.replace("_", " "))


@register.filter
def step_has_body(step: Any) -> bool:
    """Whether a trace step has details to fold (arguments, results, reasons)."""
    p = payload_dict(step.payload)
    if step.type == "model_response":
        return bool(p.get("tool_calls"))
    return step.type not in {"model_request", "run_started", "run_finished", "token"}


@register.filter
def decision_words(decision: str) -> str:
    return {"approve": "Approved by you", "reject": "Rejected by you"}.get(decision, decision)


@register.filter
def run_has_problems(run: Any) -> bool:
    """A retry, fallback or error in the run (the trace filter shows only those runs)."""
    return any(step.type in _PROBLEMS for step in run.steps.all())


@register.filter
def circuit_words(circuit: dict[str, Any]) -> str:
    state = circuit.get("state")
    failures = int(circuit.get("failures") or 0)
    tail = f" · {failures} failure{'s' if failures != 1 else ''}" if failures else ""
    if state == "open":
        until = relative_time(circuit.get("open_until"))
        when = f", retried {until}" if until.startswith("in ") else ""
        return f"skipped for now{when}{tail}"
    if state == "half_open":
        return f"on trial{tail}"
    return f"ok{tail}"


@register.simple_tag
def approval_subject(step: Any) -> ApprovalSubject:
    """What an approval card is about: the task and what approving it will do."""
    return approval_subject_for(step)


@register.filter
def decided_words(subject: ApprovalSubject, decision: str) -> str:
    """'Deleted “Buy milk” — approved by you' for a decided approval card."""
    return subject.decided(decision)


@register.filter
def button_words(subject: ApprovalSubject, decision: str) -> str:
    """What an Approve or Reject button applies to, for its accessible name."""
    return subject.button_label(decision)


_NO_BODY = frozenset({"model_request", "run_started", "run_finished", "token"})
_REASON_TYPES = frozenset({"retry", "fallback", "error"})
_ARGUMENT_TYPES = frozenset({"tool_call", "approval_required"})


def _text(value: Any) -> str:
    """`{{ value }}` in a template: the value as text, escaped (numbers as Django prints
    them unlocalised: this site groups no digits)."""
    return str(escape(value))


def trace_step_html(step: Any, run_id: Any) -> SafeString:
    """One step of a trace (`<li class="step">`), for the chat page, the run page and the
    live fragments alike: a stored step (payload as stored) or a live event (typed payload).

    It was a template; a run's trace steps are most of what the live HTML path renders, and
    Python builds this markup in a small fraction of the template engine's time (it looked
    every field up on every step, failing slowly on the ones a step type lacks). Every text
    goes through `escape`, as the template's autoescaping did.
    """
    payload = step.payload
    get: Callable[..., Any]
    if isinstance(payload, dict):

        def get(key: str, default: Any = "") -> Any:
            return payload.get(key, default)

    else:

        def get(key: str, default: Any = "") -> Any:  # typed payloads lack other types' fields
            return getattr(payload, key, default)

    # A field a payload lacks reads as "" (the template's `string_if_invalid`), except where
    # the template asked `is not None`.
    kind = step.type
    seq = _text(step.seq)
    has_body = bool(get("tool_calls", "")) if kind == "model_response" else kind not in _NO_BODY
    out = [
        f'<li id="step-{_text(run_id)}-{seq}" class="step step-{_text(kind)}',
        " step-error" if get("error") else "",
        f'" data-seq="{seq}">',
        "<details open><summary>" if has_body else "",
        '\n  <span class="step-head">\n    <span class="step-type">',
        _text(step_label(kind)),
        "</span>\n    ",
    ]
    name = get("name")
    if name:
        out.append(f'<code class="step-name">{_text(name)}</code>')
    out.append("\n    ")
    backend = get("backend")
    if backend:
        model = get("model")
        out.append(f'<span class="step-backend">{_text(backend_name(backend))}')
        out.append(f" · {_text(model)}</span>" if model else "</span>")
    out.append("\n    ")
    status = get("status")
    if kind == "run_finished" and status:
        out.append(f'<span class="badge">{_text(status)}</span>')
    out.append("\n    ")
    duration = get("duration_ms", None)
    if duration is not None:
        out.append(f'<span class="step-ms">{_text(ms(duration))}</span>')
    out.append("\n    ")
    ttft = get("ttft_ms", None)
    if ttft is not None:
        out.append(f'<span class="step-ms">TTFT {_text(ms(ttft))}</span>')
    out.append("\n    ")
    if kind == "model_response":
        tokens = f"{_text(get('input_tokens'))}→{_text(get('output_tokens'))} tok"
        estimated = " (est.)" if get("tokens_estimated") else ""
        cost = _text(dollars(get("cost")))
        out.append(
            f'<span class="step-tokens">{tokens}{estimated}</span>'
            f'<span class="step-cost">{cost}</span>'
        )
    out.append("\n    ")
    if get("recovered"):
        out.append('<span class="badge warn">recovered from text</span>')
    out.append("\n  </span>")
    if has_body:
        out.append("</summary>\n  ")
        if kind in _ARGUMENT_TYPES:
            arguments = _text(pretty_json(get("arguments")))
            out.append(f'<pre class="json" tabindex="0">{arguments}</pre>')
        out.append("\n  ")
        if kind == "tool_result":
            error = get("error")
            if error:
                out.append(f'<p class="error">{_text(plain_tool_error(error))}</p>')
            value = get("value", None)
            shown = pretty_json(value) if value is not None else get("content")
            out.append(f'<pre class="json" tabindex="0">{_text(shown)}</pre>')
        out.append("\n  ")
        calls = get("tool_calls")
        if kind == "model_response" and calls:
            names = ", ".join(f"<code>{_text(_call_name(c))}</code>" for c in calls)
            out.append(f'<p class="muted">asked for {names}</p>')
        out.append("\n  ")
        if kind in _REASON_TYPES:
            out.append(f'<p class="reason">{_text(plain_reason(payload))}</p>')
            raw = get("reason") or get("message")
            if raw:
                out.append('<p class="reason-raw">')
                error_kind = get("error_kind")
                if error_kind:
                    out.append(_text(error_kind))
                    if status:
                        out.append(f" (HTTP {_text(status)})")
                    out.append(": ")
                out.append(f"{_text(raw)}</p>")
        out.append("\n  ")
        if kind == "approval_decision":
            out.append(f"<p>{_text(decision_words(get('decision')))}</p>")
        out.append("\n  ")
        if kind == "final":
            text = get("text")
            chars = len(text) if isinstance(text, (str, list, dict)) else 0
            out.append(f'<p class="muted">answer sent ({chars} chars)</p>')
        out.append("\n</details>")
    out.append("</li>\n")
    return mark_safe("".join(out))  # every part above is escaped or a literal


def _call_name(call: Any) -> Any:
    """`{{ c.name }}` of a requested call (a dict, as stored and as streamed)."""
    return call.get("name", "") if isinstance(call, dict) else getattr(call, "name", "")


@register.simple_tag
def trace_step(step: Any, run_id: Any) -> SafeString:
    return trace_step_html(step, run_id)
