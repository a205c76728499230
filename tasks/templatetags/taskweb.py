"""Template filters: model text as sanitised markdown, and the trace's number formats.

Model output and user text are hostile: markdown is rendered with raw HTML shown as text,
images shown as links (they would load attacker URLs), then sanitised by nh3 (Ammonia), which
keeps only a short allow-list of tags and attributes, so no `on*`, `style` or `hx-*`
attribute survives.

The parser is cmark (GitHub's, through `cmarkgfm`), written to run in linear time on any
input: markdown-it-py took 1.5 s on 20,000 `[` (its link scanning is quadratic), cmark 26 ms,
and it renders 1 MB of such text in about a second on a busy 2-core machine.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import cmarkgfm
import nh3
from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_LT = "\ue000"
"""A private-use character stands for `<` while cmark parses: no raw HTML or autolink can
start, and code spans keep their `<` (restored as `&lt;` in the output)."""
_ENTITIES = {"&amp;": "\ue001", "&gt;": "\ue002", "&quot;": "\ue003", "&lt;": _LT}
"""cmark's escapes, carried through nh3 as private-use characters: nh3 (html5ever) takes
time quadratic in the character references of one text node (400k `&amp;`: 3.8 s)."""
_PLACEHOLDERS = re.compile("[\ue000-\ue003]")
_ESCAPED = re.compile("|".join(_ENTITIES))
_RESTORE = {v: k for k, v in _ENTITIES.items()}
_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? />')
_TAG = re.compile(r"<(/?)[a-z][a-z0-9]*[^>]*?(/?)>")
MAX_DEPTH = 48
"""Deeper markup is shown as plain text: `> ` repeated nests a blockquote per pair, and
nh3 (html5ever) takes time quadratic in the depth of what it sanitises."""
_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


MAX_MARKDOWN_CHARS = 20_000
"""Longer text is shown escaped, not parsed: the parse is linear, but a page of several such
answers should still render in milliseconds."""


def render_markdown(text: str) -> str:
    text = text or ""
    if len(text) > MAX_MARKDOWN_CHARS:
        return f'<p class="plain">{escape(text)}</p>'
    return markdown_html(text)


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ,.?'\-\"()#;/]*[A-Za-z0-9.?)\"]")
"""Text that is one paragraph of words whatever the markdown: a letter first, a word
character or a sentence's end last, and no character markdown (GitHub's autolinks included,
hence no `:`, `@` or `www`) gives a meaning to."""


def markdown_html(text: str) -> str:
    """Sanitised HTML of any length of markdown, in linear time (`render_markdown` caps it).

    A plain sentence (most users' messages) skips the parser and the sanitiser: both are
    ~1 ms a call, and the HTML path renders each message and answer as it happens.
    """
    if _PLAIN.fullmatch(text) and "www" not in text.lower() and "  " not in text:
        return "<p>" + text.replace('"', "&quot;") + "</p>\n"  # as cmark escapes it
    source = _PLACEHOLDERS.sub("\ufffd", text).replace("<", _LT)
    html = cmarkgfm.github_flavored_markdown_to_html(source)  # tables, ~~strike~~
    if _too_deep(html):
        return f'<p class="plain">{escape(text)}</p>'
    html = _IMAGE.sub(r'!<a href="\1">\2</a>', html)
    html = _ESCAPED.sub(lambda m: _ENTITIES[m.group(0)], html)
    clean: str = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return _PLACEHOLDERS.sub(lambda m: _RESTORE[m.group(0)], clean)


def _too_deep(html: str) -> bool:
    """Whether cmark's (well-formed) output nests deeper than `MAX_DEPTH`: one linear scan."""
    depth = 0
    for match in _TAG.finditer(html):
        if match.group(1):
            depth -= 1
        elif not match.group(2):
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


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
    """Arguments and results as indented JSON text (autoescaped by the template), keys
    sorted: PostgreSQL's jsonb keeps no key order, so a reloaded trace showed a step's keys
    in another order than the live one had."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def cursor_html(step: Any, *, oob: bool = False) -> SafeString:
    """The page's cursor (`#ws-cursor`): the last step id it has, which the page sends back
    as `after_step` when it reconnects; live, every stored step's fragment moves it."""
    swap = ' hx-swap-oob="true"' if oob else ""
    return mark_safe(f'<div id="ws-cursor" data-step="{escape(step)}" hidden{swap}></div>\n')


@register.simple_tag
def ws_cursor(step: Any) -> SafeString:
    return cursor_html(step)


@register.filter
def get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


_PRIORITY_RANK = {"high": 0, "medium": 1}


@register.filter
def task_order(task: Any) -> str:
    """The task panel's order as one string that sorts like `selectors.task_list` (open
    first, soonest due, undated last, highest priority, oldest): a row a run changes is
    put in its place by the page script, without reading the whole list again."""
    due = task.due_date.isoformat() if task.due_date else "~"  # "~" sorts after digits
    done = 0 if task.status == "open" else 1
    return f"{done} {due} {_PRIORITY_RANK.get(task.priority, 2)} {task.pk:012d}"
