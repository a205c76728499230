"""What a run's errors may tell whom: staff see the detail, a user the backend and a reason.

A backend error holds what the upstream said (its response body), where it lives (URLs) and
files of this machine (a GGUF path). The stored steps keep that detail, for staff and for the
operator's commands. Every view a signed-in user gets (the socket's frames, the chat page,
the run page, the exports) passes through `public_payload` first, which rebuilds error texts
from the structured fields of the event: the backend's name, the kind of failure, the HTTP
status. Texts that are Taskweb's own (a step limit, a refused route) are kept, with any URL
or path still in them cut out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from agentcore.events import Event, Failed, Notice, plain

from .models import RunStep

SHORT: dict[str, str] = {
    "backend_error": "failed",
    "unavailable": "could not be reached",
    "timeout": "did not answer in time",
    "http_error": "answered with an error",
    "context_too_long": "cannot take a conversation this long",
    "model_not_found": "does not have its model",
    "misconfigured": "is misconfigured for this request",
    "protocol_error": "sent an answer that broke its protocol",
    "no_backend": "had no backend available",
    "answer_too_long": "sent an answer over the size limit",
}
"""Backend error kinds (agentcore.errors) whose message holds upstream detail."""
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S*")
_PATH = re.compile(r"(?<![\w.:/~-])[~.]?/(?:[^\s/'\"]+/)*[^\s/'\"]+")
_HIDDEN = "[hidden]"


def sees_detail(user: Any) -> bool:
    """Staff read upstream detail (they run the backends); everyone else the short form."""
    return bool(getattr(user, "is_staff", False))


def public_name(name: Any) -> str:
    """A profile name as it is; an ad-hoc spec (the default route's) as its kind only."""
    parts = []
    for part in str(name or "").split(","):
        part = part.strip()
        if _SLUG.fullmatch(part):
            parts.append(part)
        elif part:
            kind = part.partition(":")[0]
            parts.append(f"{kind} backend" if _SLUG.fullmatch(kind) else "backend")
    return ",".join(parts) or "the backend"


def scrub(text: str) -> str:
    """`text` without URLs or file paths (defence in depth for Taskweb's own messages)."""
    return _PATH.sub(_HIDDEN, _URL.sub(_HIDDEN, text))


def _reason(kind: str, status: Any, backend: Any) -> str:
    http = f" (HTTP {status})" if isinstance(status, int) and status else ""
    return f"{public_name(backend)} {SHORT[kind]}{http}"


def _notice_reason(p: Mapping[str, Any]) -> str:
    head = _reason(str(p["error_kind"]), p.get("status"), p.get("backend"))
    notice = p.get("notice")
    if notice == "retry":
        delay = p.get("delay_s")
        wait = f" in {delay:g}s" if isinstance(delay, int | float) else ""
        return f"{head}; retry {p.get('attempt')}/{p.get('max_retries')}{wait}"
    if notice == "fallback" and p.get("next"):
        return f"{head}; falling back to {public_name(p['next'])}"
    if notice == "abandon":
        return f"{head} after the answer had started; discarded"
    return head


def public_payload(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of one event as a user may see it (a copy; the stored one is untouched)."""
    p = dict(payload)
    if event_type == "error":
        kind, message = p.get("kind"), p.get("message")
        if kind in SHORT:
            text = _reason(str(kind), p.get("status"), p.get("backend"))
            if isinstance(message, str) and message.startswith("all backends failed"):
                text = f"all backends failed; the last: {text}"
            p["message"] = text
        elif isinstance(message, str):
            internal = message.startswith("internal error")
            p["message"] = "internal error" if internal else scrub(message)
    elif event_type in ("retry", "fallback"):
        if p.get("error_kind") in SHORT:
            p["reason"] = _notice_reason(p)
        elif isinstance(p.get("reason"), str):
            p["reason"] = scrub(p["reason"])
    return p


def public_event(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event in its `Event.to_dict()` shape, as a user may see it."""
    return {**data, "payload": public_payload(str(data.get("type")), data.get("payload") or {})}


_REDACTED_TYPES = frozenset({"error", "retry", "fallback"})


def event_for(user: Any, event: Event) -> Event:
    """The event as `user` may see it: untouched for staff, and for types without errors."""
    payload = event.payload
    if event.type not in _REDACTED_TYPES or sees_detail(user):
        return event
    public = public_payload(event.type, plain(payload))
    if isinstance(payload, Failed):
        return dataclasses.replace(
            event, payload=dataclasses.replace(payload, message=str(public["message"]))
        )
    if isinstance(payload, Notice):
        return dataclasses.replace(
            event, payload=dataclasses.replace(payload, reason=str(public["reason"]))
        )
    return event


def redact_steps(steps: Iterable[RunStep], *, user: Any) -> None:
    """Replace loaded steps' payloads in memory (never saved) for a viewer without detail."""
    if sees_detail(user):
        return
    for step in steps:
        step.payload = public_payload(step.type, step.payload or {})


def public_run_error(error: str, steps: Iterable[RunStep]) -> str:
    """A run's error line as a user may see it: from its last error step when there is one."""
    if not error:
        return ""
    last = None
    for step in steps:
        if step.type == "error":
            last = step
    if last is not None:
        return str(public_payload("error", last.payload or {}).get("message") or "")
    return scrub(error)


def public_breaker(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A circuit's state for the page: its last error reduced like an event's."""
    return {**snapshot, "last_error": "failing" if snapshot.get("last_error") else ""}
