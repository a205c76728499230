"""When the engine may destroy: the safety rules, in one place.

A destructive call (`delete_task`, `complete_task`, or several of them for a batch) is made
only when all of these hold:

1. a destructive verb ("delete", "remove", "scrap", "finish", "mark ... done", a past tense
   such as "paid") stands *outside* any quoted text: a quoted title is data, never a request;
2. that verb is not negated: no "don't", "do not", "never", "not", "haven't", "didn't",
   "won't" in the words just before it ("don't delete anything, just show me X");
3. the sentence is not hypothetical or a question about the user's own action ("what would
   happen if I deleted X?", "should I delete X?", "if I remove X, can I undo it?");
4. the verb governs a task, not one of its fields: "remove the due date from X" or "clear the
   tags on X" is an update (`field_removal`), never a delete.

When a rule fails, the engine takes the non-destructive reading (show, update, or a question
back); property tests (tests/agentcore/backends/test_builtin_safety.py) hold it to this.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(
    r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|(?<!\w)'[^']+'(?!\w)|\u2018[^\u2019]*\u2019"
)
_DESTRUCTIVE = (
    r"(?:delet\w*|remov\w*|get(?:ting)?\s+rid|drop\w*|trash\w*|eras\w*|scrap\w*|discard\w*|"
    r"cancel\w*|bin|binn\w*|wip\w+|clear\w*|complet\w*|finish\w*|mark\w*|tick\w*|check\w*|"
    r"cross\w*|close\w*|done|did|do)"
)
_NEGATION = re.compile(
    r"\b(?:don'?t|do\s+not|does\s+not|doesn'?t|never(?!\s+mind)|not|no|haven'?t|have\s+not|hasn'?t|"
    r"didn'?t|did\s+not|won'?t|will\s+not|shouldn'?t|mustn'?t|cannot|can'?t|nothing|"
    r"without|stop|avoid|instead\s+of|rather\s+than)\b"
    rf"(?:\s+\w+[,']?){{0,3}}?\s+{_DESTRUCTIVE}\b",
    re.I,
)
_HYPOTHETICAL = re.compile(
    r"\bwhat\s+(?:would|will|happens|if)\b|\bif\s+i\b|\b(?:should|could|can|shall|would|may|"
    r"might|must)\s+i\b|\bwould\s+(?:it|that|deleting|removing|completing)\b|"
    r"\b(?:deleting|removing|completing)\b.*\?|\bis\s+it\s+(?:safe|ok|okay)\b|\bwhether\b|"
    r"\bhow\s+(?:do|can|would)\s+i\b|\bwhat\s+happens\b|\b(?:was|were)\s+going\s+to\b|"
    r"\b(?:might|maybe|perhaps|possibly|wonder(?:ing)?|considering|thinking\s+(?:about|of))\b",
    re.I,
)
FIELD = (
    r"(?:due\s+dates?|deadlines?|dates?|due|tags?|labels?|descriptions?|notes?|details|"
    r"priority|reminders?\s+date)"
)
_PLAIN = r"(?:due\s+dates?|deadlines?|tags?|labels?|priority)"
_FIELD_REMOVAL = re.compile(
    r"\b(?:remove|delete|clear|drop|erase|take|strip|wipe|get\s+rid\s+of|untag)\b"
    rf"(?:\s+[\w'-]+){{0,3}}?\s+(?:{FIELD}\s+(?:from|on|of|off|in|for)\b|{_PLAIN}\s*[.!?]*$)"
    rf"|\b(?:no|without\s+a?|(?:doesn'?t|does\s+not|don'?t)\s+need\s+a?)\s*{FIELD}\b"
    r"|\buntag\b",
    re.I,
)


def unquoted(text: str) -> str:
    """The text with every quoted span masked (same length, so offsets still hold): what the
    user says, not what they cite."""
    return _QUOTED.sub(lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 2) + m.group(0)[-1], text)


def negated(text: str) -> bool:
    """A destructive verb in the text is negated ("don't delete", "haven't finished")."""
    return bool(_NEGATION.search(unquoted(text)))


def hypothetical(text: str) -> bool:
    """The user asks about an action rather than asking for it."""
    return bool(_HYPOTHETICAL.search(unquoted(text)))


def field_removal(text: str) -> bool:
    """ "remove the due date from X", "clear the tags", "X doesn't need a deadline": an update."""
    return bool(_FIELD_REMOVAL.search(unquoted(text)))


def may_destroy(text: str) -> bool:
    """Rules 2-4: whether a destructive reading of this message is allowed at all."""
    return not (negated(text) or hypothetical(text) or field_removal(text))


__all__ = ["FIELD", "field_removal", "hypothetical", "may_destroy", "negated", "unquoted"]
