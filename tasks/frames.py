"""What a chat client may send, checked before anything acts on it.

Every refusal is a `FrameError` with a code and a sentence for the client: a hostile frame
(64 KiB of brackets, a 5,000-digit number) gets a clear error, never a closed socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

MAX_DEPTH = 8
"""Nesting a frame may have; the protocol needs 2 (HTMX's ws-send adds HEADERS)."""
MAX_CALL_ID = 200

FrameKind = Literal["user_message", "approval", "cancel"]


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    message: str = ""
    call_id: str = ""
    decision: str = ""


def _depth_ok(raw: str) -> bool:
    """Nesting of brackets outside strings stays within MAX_DEPTH (a linear scan)."""
    depth, in_string, escaped = 0, False, False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _load(raw: str) -> Any:
    if not _depth_ok(raw):
        raise FrameError("too_deep", f"Frames may nest at most {MAX_DEPTH} levels.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, or an int past Python's digit limit
        raise FrameError("bad_json", "That frame was not valid JSON.") from None


def parse_frame(text: str | None, data: bytes | None) -> Frame:
    raw = text if text is not None else (data or b"").decode("utf-8", "replace")
    if len(raw.encode()) > settings.TASKWEB_MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", "Message frame over 64 KiB refused.")
    frame = _load(raw)
    if not isinstance(frame, dict):
        raise FrameError("bad_message", "Expected a JSON object.")
    kind = frame.get("type") or ("user_message" if "message" in frame else None)
    if kind == "user_message":
        message = frame.get("message")
        if not isinstance(message, str) or not message.strip():
            raise FrameError("empty_message", "Type a message first.")
        text = message.strip()
        limit = settings.TASKWEB_MAX_MESSAGE_CHARS
        if len(text) > limit:
            raise FrameError(
                "too_long", f"Message is {len(text)} characters; the limit is {limit}."
            )
        return Frame("user_message", message=text)
    if kind == "approval":
        decision = frame.get("decision")
        call_id = frame.get("call_id")
        if decision not in {"approve", "reject"}:
            raise FrameError("bad_approval", "decision must be 'approve' or 'reject'.")
        if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID:
            raise FrameError("bad_approval", "call_id must name the call to decide.")
        return Frame("approval", call_id=call_id, decision=str(decision))
    if kind == "cancel":
        return Frame("cancel")
    raise FrameError("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")
