"""Argument errors in words a person reads: what the tool layer tells a model, said plainly.

`format_validation_error` writes pydantic's messages for the model ("Invalid arguments for
create_task: title: String should have at most 300 characters"); the built-in engine's answer
and the web trace show people the same error as "The title is too long (at most 300
characters)." Messages with no rewrite here pass through unchanged.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^(?:Error:\s*)?Invalid arguments for [\w.-]+:\s*")


def _sentence(field: str, message: str) -> str:
    field = field.strip().split(".")[-1].replace("_", " ") or "value"
    lower = message.lower()
    if lower.startswith("string should have at most"):
        limit = message.split("at most", 1)[1].strip().rstrip(".")
        return f"The {field} is too long (at most {limit})."
    if lower.startswith("string should have at least"):
        return f"The {field} cannot be empty."
    if lower == "field required":
        return f"The {field} is missing."
    if lower.startswith("extra inputs are not permitted"):
        return f"“{field}” is not something a task has."
    if "date" in lower and "input should be" not in lower:
        return f"The {field} is not a date (use YYYY-MM-DD)."
    if lower.startswith("input should be"):
        return f"The {field} {message[len('input ') :].rstrip('.')}."
    return ""


def schema_words(text: str) -> str:
    """Plain sentences for a validation error text; '' when no part of it is recognised."""
    body = _PREFIX.sub("", (text or "").strip())
    sentences = []
    for part in body.replace("\n", "; ").split("; "):
        field, sep, message = part.partition(": ")
        if sep:
            sentence = _sentence(field, message.strip())
            if sentence:
                sentences.append(sentence)
    return " ".join(sentences)
