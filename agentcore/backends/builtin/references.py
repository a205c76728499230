"""Which task the user means: by id, by pronoun, by position in a list, or by title words.

Ids and pronouns resolve without a tool call (pronouns through the tasks the conversation's
earlier tool results showed). Title words resolve through a `list_tasks` result: the task
whose title shares the most words with the reference wins, and a tie is a question to the
user, never a guess, because acting on the wrong task is worse than asking.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]
from rapidfuzz.distance import OSA

from ...messages import Message

Task = dict[str, Any]

_PRONOUNS = {
    "it", "that", "this", "that one", "this one", "that task", "this task", "the task",
    "the one", "the last one", "the one i just added", "the one i just created",
    "the new one", "the new task", "the last task", "that one too", "the one you just created",
    "the one you just added", "the same one", "the same task", "that too", "it too",
}  # fmt: skip
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3,
             "4th": 3, "fifth": 4, "5th": 4, "last": -1}  # fmt: skip
_ORDINAL = re.compile(
    r"^(?:the\s+)?(?P<o>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)"
    r"(?:\s+(?:ones?|task|item))?(?:\s+(?:on\s+the\s+list|in\s+the\s+list))?$"
)
_EVERY = re.compile(
    r"^(?:both|both\s+of\s+them|them\s+both|all\s+of\s+them|them\s+all|those|these|them)"
    r"(?:\s+(?:tasks|ones))?$"
)
_ID_HINT = re.compile(r"#\s*\d+|\b(?:tasks?|ids?|numbers?|no\.?)\s*#?\s*\d+|^\s*\d+(?:\s|$)", re.I)
_NUMBER = re.compile(r"#?\b(\d+)\b")
_FILLER = re.compile(
    r"\b(?:as|from|off|on|in)\s+(?:of\s+)?(?:my|the)\s+(?:task\s+|todo\s+|to-do\s+)?(?:list|tasks)\b|"
    r"\b(?:please|pls|for\s+me|now|already|as\s+done|as\s+complete[d]?)\b|[\"'\u201c\u201d\u2018\u2019.,!?;:]",
    re.I,
)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "our",
        "your",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "one",
        "task",
        "tasks",
        "todo",
        "item",
        "to",
        "of",
        "for",
        "with",
        "and",
        "or",
        "on",
        "in",
        "at",
        "by",
        "from",
        "about",
        "as",
        "is",
        "are",
        "was",
        "be",
        "been",
        "i",
        "i'm",
        "im",
        "i've",
        "me",
        "we",
        "you",
        "please",
        "just",
        "now",
        "all",
        "done",
        "mark",
        "marked",
        "complete",
        "completed",
        "finished",
        "finish",
        "off",
        "check",
        "called",
        "named",
        "titled",
        "thing",
        "stuff",
        "re",
        "so",
        "also",
        "then",
        "up",
        "out",
        "back",
        "some",
        "stuff",
        "yet",
        "anymore",
        "list",
        "after",
        "still",
        "really",
        "actually",
    ]
)


@dataclass(frozen=True, kw_only=True)
class Reference:
    """How a message points at a task; at most one of the four ways is used."""

    ids: tuple[int, ...] = ()
    pronoun: bool = False
    every: bool = False
    """ "both", "them", "all of them": every task the conversation last showed."""
    ordinal: int | None = None
    """Position in the last list shown (0-based, -1 for "the last one")."""
    words: tuple[str, ...] = ()
    """Content words of a title reference, stemmed, e.g. ("dentist", "appointment")."""
    phrase: str = ""
    """The reference as the user wrote it, for questions back to them."""

    @property
    def empty(self) -> bool:
        return not (
            self.ids or self.pronoun or self.every or self.ordinal is not None or self.words
        )


_STEMMER = snowballstemmer.stemmer("english")
# Irregular past forms a stemmer cannot relate to the title's verb ("paid" / "Pay the rent").
IRREGULAR = {
    "paid": "pay", "bought": "buy", "fed": "feed", "sent": "send", "wrote": "write",
    "written": "write", "took": "take", "taken": "take", "rang": "ring", "rung": "ring",
    "got": "get", "made": "make", "went": "go", "gone": "go", "gave": "give", "given": "give",
    "brought": "bring", "met": "meet", "sold": "sell", "told": "tell", "left": "leave",
    "found": "find", "ran": "run", "did": "do", "done": "do", "drew": "draw", "ate": "eat",
    "hung": "hang", "swept": "sweep", "spoke": "speak", "chose": "choose", "built": "build",
}  # fmt: skip


@functools.lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """The Snowball stem, so "invoices", "invoicing" and "invoice" meet; irregular pasts first."""
    word = word.lower().strip("'").removesuffix("'s")
    word = IRREGULAR.get(word, word)
    return str(_STEMMER.stemWord(word))


def content_words(text: str) -> tuple[str, ...]:
    words = re.findall(r"[a-z0-9][a-z0-9'&-]*", text.lower())
    return tuple(stem(w) for w in words if w not in STOPWORDS and not w.isdigit())


def parse_reference(raw: str, *, context: str | None = None) -> Reference:
    """Read a reference; `context` (the whole message) supplies words when the
    reference is a bare pronoun and the conversation has nothing it could point at."""
    phrase = re.sub(r"\s+", " ", _FILLER.sub(" ", raw)).strip()
    lowered = phrase.lower()
    if _ID_HINT.search(phrase):
        ids = tuple(dict.fromkeys(int(n) for n in _NUMBER.findall(phrase)))
        if ids:
            return Reference(ids=ids, phrase=phrase)
    if _EVERY.match(lowered):
        return Reference(every=True, phrase=phrase)
    ordinal = _ORDINAL.match(lowered)
    if ordinal:
        return Reference(ordinal=_ORDINALS[ordinal.group("o")], phrase=phrase)
    if lowered in _PRONOUNS or not lowered:
        words = content_words(context.replace(raw, " ")) if context else ()
        return Reference(pronoun=True, words=words, phrase=phrase)
    return Reference(words=content_words(phrase), phrase=phrase)


def query_for(reference: Reference) -> str:
    """The list_tasks query: the longest reference word (titles are searched by substring,
    so one distinctive word finds more candidates than the whole phrase would)."""
    return max(reference.words, key=len) if reference.words else ""


def _matches(ref: str, word: str) -> bool:
    """Same stem, or a small typo of it ("plumbr" / "plumber", "invocie" / "invoice")."""
    if ref == word:
        return True
    shortest = min(len(ref), len(word))
    if shortest >= 4 and (ref.startswith(word) or word.startswith(ref)):
        return True
    return shortest >= 4 and OSA.distance(ref, word) <= (1 if shortest < 7 else 2)


def score(reference: Reference, task: Task) -> int:
    title_words = [stem(w) for w in re.findall(r"[a-z0-9][a-z0-9'&-]*", str(task["title"]).lower())]
    return sum(1 for ref in reference.words if any(_matches(ref, w) for w in title_words))


def best_matches(reference: Reference, tasks: Sequence[Task], *, prefer_open: bool) -> list[Task]:
    """The tasks that fit the reference best: one is an answer, several are a question."""
    scored = [(score(reference, t), t) for t in tasks]
    top = max((s for s, _ in scored), default=0)
    if top == 0:
        return []
    best = [t for s, t in scored if s == top]
    if len(best) > 1:
        exact = [t for t in best if content_words(str(t["title"])) == reference.words]
        if len(exact) == 1:
            return exact
        if prefer_open:
            open_ones = [t for t in best if t.get("status") == "open"]
            if len(open_ones) == 1:
                return open_ones
    return best


def is_task(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), int) and "title" in value


def load(content: str) -> Any:
    """A tool message's JSON, or None for errors and rejections (which are plain text)."""
    try:
        return json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return None


def tasks_in(value: Any) -> list[Task] | None:
    """The tasks a tool result shows: one for a task object, several for a list."""
    if is_task(value):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("tasks"), list):
        return [t for t in value["tasks"] if is_task(t)]
    return None


def focus(history: Sequence[Message]) -> list[Task]:
    """The tasks the conversation was last about: what "it" and "the second one" point at.

    Only structured tool results count: text the user or a model wrote is never read as an
    id, and a deleted task drops out of focus. The single-task results of one batch of calls
    add up ("add milk and bread" then "both are done"); a listing replaces the focus.
    The history is what the app stores, so this holds after a reload too.
    """
    current: list[Task] = []
    growing = False
    for message in history:
        if message.role != "tool":
            growing = False
            continue
        value = load(message.content)
        shown = tasks_in(value)
        if shown is not None and is_task(value) and growing:
            current = [t for t in current if t.get("id") != value["id"]] + [value]
        elif shown is not None:
            current = shown
            growing = is_task(value)
        elif isinstance(value, dict) and "deleted" in value:
            current = [t for t in current if t.get("id") != value["deleted"]]
    return current
