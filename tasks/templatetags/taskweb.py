"""Template filters: model text as sanitised markdown, and the trace's number formats.

Model output and user text are hostile: markdown is rendered with raw HTML off, images off
(they would load attacker URLs), then sanitised by nh3 (Ammonia), which keeps only a short
allow-list of tags and attributes, so no `on*`, `style` or `hx-*` attribute survives.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import nh3
from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()

_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable(["table", "strikethrough"])
    .disable("image")
)
_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


MAX_MARKDOWN_CHARS = 20_000
"""Longer text is shown escaped, not parsed: markdown-it's link parsing is superlinear, so a
model answer of 100k '[' took seconds to render on every load of its page."""


def render_markdown(text: str) -> str:
    if len(text or "") > MAX_MARKDOWN_CHARS:
        return f'<p class="plain">{escape(text)}</p>'
    html = _md.render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """Sanitised HTML for model or user text; the only way such text is marked safe."""
    return mark_safe(render_markdown(text))


@register.filter
def ms(value: Any) -> str:
    if value is None or value == "":
        return ""
    number = float(value)
    if number >= 1000:
        return f"{number / 1000:.2f} s"
    if number >= 10:
        return f"{number:.0f} ms"
    return f"{number:.1f} ms"


@register.filter
def dollars(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if amount == 0:
        return "$0"
    if amount < Decimal("0.01"):
        return f"${amount:.6f}"
    return f"${amount:.4f}"


@register.filter
def pretty_json(value: Any) -> str:
    """Arguments and results as indented JSON text (autoescaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


@register.filter
def get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None
