"""Requests people make without the engine's command words (pure functions, no history).

"I've paid the gas bill" (a completion), "the garage can wait" (low priority), "push the
dentist back two days" (a relative move), "remove the due date from X" (a field cleared),
"put call dad back on my list" (a reopen). Each recogniser returns the target and what to
do, or None; `readings` weighs them against the other readings of the message.
"""

from __future__ import annotations

import re

from .extract import Priority
from .references import IRREGULAR, Reference, parse_reference
from .safety import FIELD
from .updates import Changes

_LEAD = (
    r"^(?:i'?ve\s+|we'?ve\s+|i\s+|we\s+)?"
    r"(?:(?:'ve|have|just|already|finally|also|now|today|then)\s+)*"
)
# Words ending in -ed that do not say a task is done.
_NOT_PAST = frozenset({
    "need", "needed", "feed", "seed", "bed", "red", "shed", "speed", "bleed", "breed", "weed",
    "deed", "indeed", "planned", "scheduled", "delayed", "postponed", "moved", "added",
    "created", "wanted", "used", "hundred", "tired", "bored", "interested", "supposed", "based",
    "related",
})  # fmt: skip
_PAST_ALT = r"(?:[a-z]+ed|" + "|".join(sorted(IRREGULAR, key=len, reverse=True)) + ")"
_PAST_WORD = rf"(?P<verb>{_PAST_ALT})"
_PAST = re.compile(rf"{_LEAD}{_PAST_WORD}\s+(?P<rest>.+)$", re.I)
_SPLIT_PAST = re.compile(rf",?\s+(?:and|&)\s+(?:(?:also|then|i)\s+)?(?={_PAST_ALT}\s)", re.I)
_TRAIL = re.compile(
    r"(?:\s+(?:this\s+(?:morning|afternoon|evening)|today|yesterday|last\s+night|earlier|"
    r"already|finally|just\s+now|at\s+last)|\s*,?\s*(?:mark|tick|check)\s+(?:it|that)\b.*"
    r"|\s+to\s+the\s+\w+)+$",
    re.I,
)
_PASSIVE = re.compile(
    r"^(?P<ref>.+?)\s*(?:'s|:|\s+(?:is|are|was|were|has\s+been|have\s+been|got|get))\s*(?:now\s+|all\s+|finally\s+)?"
    r"(?P<state>done|complete[d]?|finished|sorted(?:\s+out)?|handled|taken\s+care\s+of|"
    r"out\s+of\s+the\s+way|[a-z]+ed|paid|sent|bought|written|taken|made)\b"
    r"(?:\s+(?:now|already|too|as\s+well|at\s+last))?[\s.!]*$",
    re.I,
)
_GOT = re.compile(r"^(?:i\s+)?got\s+(?P<ref>.+?)\s+(?P<verb>[a-z]+ed|done|sorted)\s*[.!]*$", re.I)


_EVERYTHING = re.compile(r"^(?:everything|all|all\s+of\s+it|it\s+all|the\s+lot)$", re.I)


def _refs(raw: str) -> list[Reference]:
    """The references in "the plants and the cat"; "everything" is a batch, not a name."""
    if _EVERYTHING.match(raw.strip()):
        return []
    parts = [p for p in re.split(r"\s*(?:,|\band\b|&)\s*", raw) if p.strip()]
    return [parse_reference(_TRAIL.sub("", p)) for p in parts]


_DONE_WITH = re.compile(
    r"^(?:i'?m\s+|we'?re\s+|i\s+am\s+)?(?:all\s+|finally\s+|totally\s+)?(?:done|finished|through)"
    r"\s+with\s+(?P<ref>.+?)[\s.!]*$",
    re.I,
)


def completion(text: str) -> list[Reference] | None:
    """Past tenses and states that say a task is done: "I've paid the gas bill",
    "watered the plants and fed the cat", "flights are booked", "car tax: done"."""
    done_with = _DONE_WITH.match(text)
    if done_with:
        return _refs(done_with.group("ref"))
    got = _GOT.match(text)
    if got and got.group("verb").lower() not in _NOT_PAST:
        return [parse_reference(got.group("ref"))]
    past = _PAST.match(text)
    if past and past.group("verb").lower() not in _NOT_PAST:
        refs = []
        for piece in _SPLIT_PAST.split(text):
            match = _PAST.match(piece.strip())
            if match is not None and match.group("verb").lower() not in _NOT_PAST:
                refs.append(parse_reference(_TRAIL.sub("", match.group("rest"))))
        return [r for r in refs if not r.empty] or None
    passive = _PASSIVE.match(text)
    if passive and passive.group("state").lower() not in _NOT_PAST:
        return [r for r in _refs(passive.group("ref")) if not r.empty] or None
    return None


_LOW = (
    r"(?:can\s+wait|(?:is|are)\s+(?:not|n't)\s+(?:that\s+|very\s+|really\s+)?(?:urgent|important|"
    r"a\s+priority|critical|pressing)|isn'?t\s+(?:that\s+|very\s+|really\s+)?(?:urgent|important|a\s+priority|"
    r"critical|pressing)|aren'?t\s+(?:urgent|important)|(?:is|are)\s+low\s+priority|is\s+not\s+a\s+priority)"
)
_HIGH = (
    r"(?:(?:is|are)\s+(?:now\s+|really\s+|very\s+|super\s+)?(?:urgent|critical|important|"
    r"pressing|top\s+priority|a\s+(?:top\s+|high\s+)?priority|high\s+priority))"
)
_STATEMENT = re.compile(
    rf"^(?P<ref>.+?)\s+(?:(?P<low>{_LOW})|(?P<high>{_HIGH}))"
    r"(?:\s+(?:any\s*more|now|after\s+all|today|at\s+all|actually))*[\s.!]*$",
    re.I,
)
_NO_RUSH = re.compile(
    r"^(?:there'?s\s+)?no\s+(?:rush|hurry)\s+(?:on|for|with)\s+(?P<ref>.+?)[\s.!]*$", re.I
)


def priority_statement(text: str) -> tuple[Reference, Priority] | None:
    """ "the garage can wait", "reply to sam is critical", "no rush on the shed"."""
    text = re.sub(r"\b(it|that|this|one|task)'s\b", r"\1 is", text, flags=re.I)
    if re.search(r"\S\s*[,;:\-\u2013]\s*(?:it|this|that)\s+is\b", text, re.I):
        return None  # "buy a card, it's urgent": the priority of something said before it
    rush = _NO_RUSH.match(text)
    if rush:
        return parse_reference(rush.group("ref")), "low"
    match = _STATEMENT.match(text)
    if match is None:
        return None
    return parse_reference(match.group("ref")), "low" if match.group("low") else "high"


_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "fortnight": 14}
_COUNT = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "couple": 2, "a couple of": 2}  # fmt: skip
_SHIFT = re.compile(
    r"^(?:move|push|shift|bump|delay|postpone|bring|pull|put\s+off|put|set|can\s+we\s+do|do)\s+"
    r"(?P<ref>.+?)\s+(?:(?P<dir1>out|back|forward|up|ahead|off)\s+)?(?:by\s+)?"
    r"(?P<n>\d+|a\s+couple\s+of|a|an|one|two|three|four|five|six|seven)\s+"
    r"(?P<unit>days?|weeks?|fortnight)(?:\s+(?P<dir2>later|earlier|sooner|back|forward|out))?[\s?.!]*$",
    re.I,
)
_EARLIER = {"forward", "up", "earlier", "sooner", "ahead"}


def relative_shift(text: str) -> tuple[Reference, int] | None:
    """ "move the lease out by a week" (+7), "bring the taxes forward by 3 days" (-3)."""
    match = _SHIFT.match(text)
    if match is None:
        return None
    raw = match.group("n").lower()
    count = int(raw) if raw.isdigit() else _COUNT.get(re.sub(r"\s+", " ", raw), 1)
    days = count * _UNITS[match.group("unit").lower()]
    words = {(match.group("dir1") or "").lower(), (match.group("dir2") or "").lower()}
    if words & _EARLIER:
        days = -days
    return parse_reference(match.group("ref")), days


_CLEAR_TAGS = re.compile(
    r"^(?:remove|delete|clear|drop|erase|strip|wipe|get\s+rid\s+of)\s+(?:all\s+)?(?:of\s+)?"
    r"(?:the\s+|its\s+)?(?:tags|labels)\s+(?:from|on|of|off)\s+(?P<ref>.+)$",
    re.I,
)
_DROP_TAG = re.compile(
    r"^(?:(?:remove|delete|drop|take|strip)\s+(?:the\s+)?(?:#?(?P<tag>[\w-]+)\s+(?:tag|label)"
    r"|(?:tag|label)\s+#?(?P<tag2>[\w-]+)|#(?P<tag3>[\w-]+))|untag\s+#?(?P<tag4>[\w-]+))"
    r"\s+(?:from|off|on)\s+(?P<ref>.+?)(?:\s+off)?$",
    re.I,
)
_CLEAR_DUE = re.compile(
    r"^(?:remove|delete|clear|drop|erase|take\s+off|take|get\s+rid\s+of)\s+(?:the\s+|its\s+)?"
    rf"(?:due\s+date|deadline|date|due)\s+(?:from|on|of|off|for)\s+(?P<ref>.+?)(?:\s+off)?$"
    rf"|^(?P<ref2>.+?)\s+(?:doesn'?t|does\s+not|don'?t)\s+need\s+a\s+{FIELD}(?:\s+any\s*more)?$",
    re.I,
)


def field_clear(text: str) -> tuple[Reference, Changes] | None:
    """ "clear the tags on X", "take the admin tag off X", "remove the due date from X"."""
    text = text.rstrip(" .!")
    match = _CLEAR_TAGS.match(text)
    if match:
        return parse_reference(match.group("ref")), Changes(clear_tags=True, is_special=True)
    match = _DROP_TAG.match(text)
    if match:
        tag = next(g for g in match.group("tag", "tag2", "tag3", "tag4") if g).lower()
        ref = parse_reference(match.group("ref"))
        return ref, Changes(remove_tags=(tag,), is_special=True)
    match = _CLEAR_DUE.match(text)
    if match:
        ref = parse_reference(match.group("ref") or match.group("ref2"))
        return ref, Changes(clear_due=True, is_special=True)
    return None


_REOPEN = [
    re.compile(
        r"^(?P<ref>.+?)\s+(?:is\s*n'?t|is\s+not|isn'?t|wasn'?t|was\s+not|aren'?t|are\s+not)\s+"
        r"(?:really\s+|actually\s+)?(?:done|finished|complete[d]?)(?:\s+(?:after\s+all|yet|actually))?"
        r"(?:\s*,?\s*(?:re-?open\s+it|undo\s+(?:it|that)|put\s+it\s+back))?[\s.!]*$",
        re.I,
    ),
    re.compile(
        r"^(?:put|move|bring|add)\s+(?P<ref>.+?)\s+back(?:\s+(?:on|onto|to|in)\s+(?:my|the)\s+"
        r"(?:list|tasks|open\s+tasks))?[\s.!]*$",
        re.I,
    ),
    re.compile(r"^(?:bring|get)\s+back\s+(?P<ref>.+?)(?:\s*,.*)?$", re.I),
    re.compile(
        r"^i\s+still\s+(?:need|have|want)\s+to\s+(?P<ref>.+?)\s*,?\s*(?:so\s+)?(?:undo|re-?open)\s+"
        r"(?:it|that)[\s.!]*$",
        re.I,
    ),
    re.compile(
        r"^(?:mark|set)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:not\s+(?:done|finished|complete[d]?)|"
        r"undone|open|incomplete|to\s+do|unfinished)[\s.!]*$",
        re.I,
    ),
    re.compile(r"^(?:re-?open|un-?complete|undo|unfinish)\s+(?P<ref>.+)$", re.I),
]


def reopen(text: str) -> Reference | None:
    """ "Call Dad isn't finished after all", "put call dad back on my list"."""
    for pattern in _REOPEN:
        match = pattern.match(text.strip())
        if match:
            return parse_reference(match.group("ref"))
    return None


_WHEN_DUE = re.compile(
    r"^(?:when(?:'s|\s+is|\s+was|\s+are)|what'?s\s+the\s+(?:due\s+date|deadline)\s+(?:of|for|on))\s+"
    r"(?P<ref>.+?)(?:\s+(?:due|due\s+by|supposed\s+to\s+be\s+done))?\s*\??$"
    r"|^when\s+(?:do|should|must)\s+i\s+(?:need\s+to\s+|have\s+to\s+)?(?P<ref2>.+?)(?:\s+by)?\s*\??$",
    re.I,
)
_DID_I = re.compile(
    r"^(?:did\s+i|have\s+i|had\s+i)\s+(?:already\s+)?(?P<ref>.+?)(?:\s+(?:yet|already))?\s*\?*$"
    r"|^(?:is|are)\s+(?P<ref2>.+?)\s+(?:done|finished|complete[d]?)(?:\s+yet)?\s*\?*$",
    re.I,
)


def task_question(text: str) -> Reference | None:
    """ "when is the dentist due?", "did I book the flights?": read one task, change nothing."""
    match = _WHEN_DUE.match(text) or _DID_I.match(text)
    if match is None:
        return None
    raw = match.group("ref") or match.group("ref2")
    past = re.match(rf"^{_PAST_ALT}\s+(?P<rest>.+)$", raw, re.I)
    if past:
        raw = past.group("rest")
    return parse_reference(raw)


__all__ = [
    "completion",
    "field_clear",
    "priority_statement",
    "relative_shift",
    "reopen",
    "task_question",
]
