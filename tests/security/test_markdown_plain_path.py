"""Plain sentences skip the markdown parser and sanitiser; the HTML must be what they give.

`markdown_html` answers a one-paragraph sentence without cmark and nh3 (they cost ~1 ms a
call on the chat's HTML path). Generated texts over the characters the shortcut accepts, and
over markdown's own, must render exactly as the full pipeline renders them.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.templatetags import taskweb

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NEVER = re.compile("(?!)")


def full_pipeline(text: str) -> str:
    shortcut, taskweb._PLAIN = taskweb._PLAIN, NEVER
    try:
        return taskweb.markdown_html(text)
    finally:
        taskweb._PLAIN = shortcut


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("Aaw Zz09 ,.?'-\n*_#:@<>&\"[]()`~|!;/")), max_size=40))
def test_any_text_renders_as_the_full_pipeline_renders_it(text: str) -> None:
    assert taskweb.markdown_html(text) == full_pipeline(text)


@SETTINGS
@given(st.from_regex(taskweb._PLAIN, fullmatch=True))  # whatever the shortcut accepts
def test_sentences_the_shortcut_takes_render_as_the_full_pipeline_renders_them(text: str) -> None:
    assert taskweb.markdown_html(text) == full_pipeline(text)


def test_the_shortcut_is_taken_for_a_plain_sentence_and_not_for_markdown() -> None:
    assert taskweb._PLAIN.fullmatch("Add a task to buy milk tomorrow")
    for text in ("**bold**", "1. first", "- item", "see www.example.com", "a@b.co", "x: y"):
        assert not (taskweb._PLAIN.fullmatch(text) and "www" not in text.lower()), text
