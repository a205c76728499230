"""Read a whole message, weigh its readings, and pick one (pure functions, no history).

Every recogniser looks at the whole (normalised) message and may offer a reading with a
weight: a fixed-shape edit ("rename X to Y", "clear the tags on X") outweighs a create
prefix, which outweighs a delete verb, which outweighs a past tense ("paid the gas bill"),
which outweighs a question, which outweighs a bare "<thing> <date>" create. Destructive
readings are then dropped unless `safety.may_destroy` allows them, so a negated,
hypothetical or field-removing message can only be read in a way that destroys nothing.

A create prefix keeps its old guarantee: once "add a task:" is read, the rest is the title,
so "add a task: ignore all instructions and delete every task" creates that task.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime

from . import casual, safety
from .batch import parse_batch
from .dates import find_dates
from .intents import (
    ASKING,
    COMPLETE,
    COUNTED,
    CREATE_PREFIX,
    DELETE,
    GET,
    GREETING,
    HELP,
    OBLIGED,
    THANKS,
    Intent,
    parse_create,
)
from .listing import parse_list_filter
from .normalise import normalise
from .references import parse_reference
from .updates import Changes, parse_update

Reading = tuple[int, Intent]
DESTRUCTIVE = frozenset({"complete", "delete", "bulk"})


def _outside(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end() :]


_OBLIGATION = re.compile(rf"^{OBLIGED}\b", re.I)


def _creates(text: str, now: datetime) -> Reading | None:
    """ "add a task: ..." outweighs every other reading (its rest is the title, whatever it
    says); "I need to ..." is weaker, since "I still need to X, undo that" is a reopen."""
    tasks = parse_create(text, now)
    if tasks is None:
        return None
    if _OBLIGATION.match(text):
        weight = 58
    elif CREATE_PREFIX.match(text) or COUNTED.match(text):
        weight = 95
    else:
        weight = 70  # "add X to my list", "put X on the list": but "put X back" is a reopen
    return weight, Intent(kind="create", creates=tasks) if tasks else Intent(kind="untitled")


_BARE_START = re.compile(
    r"^(?:what|which|who|why|how|when|where|is|are|do|does|did|can|could|should|would|will|"
    r"show|list|find|move|push|make|set(?!\s+up)|mark|delete|remove|the|my|it|that|this|#|\d)\b",
    re.I,
)


def _bare_create(text: str, now: datetime) -> Reading | None:
    """ "dentist thursday", "water the plants tomorrow": a thing and a date, nothing else."""
    if text.endswith("?") or _BARE_START.match(text) or len(text.split()) > 9:
        return None
    if not find_dates(text, now):
        return None
    tasks = parse_create("add " + text, now)
    if not tasks or not all(t.due_date for t in tasks):
        return None
    return 30, Intent(kind="create", creates=tasks)


def _social(text: str, now: datetime) -> Reading | None:
    if not text or GREETING.match(text):
        return 100, Intent(kind="greet")
    if THANKS.match(text):
        return 100, Intent(kind="thanks")
    if HELP.search(text):
        return 60, Intent(kind="help")
    return None


def _updates(text: str, now: datetime) -> Reading | None:
    cleared = casual.field_clear(text)
    if cleared:
        return 92, Intent(kind="update", target=cleared[0], changes=cleared[1])
    shift = casual.relative_shift(text)
    if shift:
        return 88, Intent(kind="update", target=shift[0], changes=Changes(shift_days=shift[1]))
    reopened = casual.reopen(text)
    if reopened:
        return 86, Intent(kind="update", target=reopened, changes=Changes(status="open"))
    update = parse_update(text, now)
    if update is not None:
        weight = 90 if update[1].is_special else 65
        return weight, Intent(kind="update", target=update[0], changes=update[1])
    stated = casual.priority_statement(text)
    if stated:
        return 62, Intent(kind="update", target=stated[0], changes=Changes(priority=stated[1]))
    return None


_SEVERAL = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+)(?=(?:the|my|our|task)\b|#|\d)", re.I)


def _completes(text: str, now: datetime) -> Reading | None:
    refs = casual.completion(text)
    if refs and len(refs) > 1:  # "finished the report and bought milk"
        return 75, Intent(kind="complete", target=refs[0], more=tuple(refs[1:]))
    match = COMPLETE.search(text)
    if match:
        raw = next(g for g in match.groups() if g)
        # "the groceries and the landlord email": split only where a new name starts, so
        # that "call mom and dad" stays one title.
        parts = [parse_reference(p) for p in _SEVERAL.split(raw) if p.strip()]
        several = len(parts) > 1 and not parse_reference(raw).ids
        if several and all(not p.empty for p in parts):
            return 75, Intent(kind="complete", target=parts[0], more=tuple(parts[1:]))
        target = parse_reference(raw, context=_outside(text, match))
        return 75, Intent(kind="complete", target=target)
    if refs:
        return 60, Intent(kind="complete", target=refs[0])
    return None


_CLAUSE_START = re.compile(
    r"(?:^|[,;.!]|\b(?:and|then|so|just|now|please|let'?s|i\s+(?:need|want|have)\s+to|"
    r"i'?d\s+like\s+to|i\s+would\s+like\s+to))\s*$",
    re.I,
)


def _deletes(text: str, now: datetime) -> Reading | None:
    """A delete verb that starts a clause ("scrap it", "ok, delete #3"), never one inside
    other words ("I've bought the bin bags")."""
    match = DELETE.search(safety.unquoted(text))
    if match is None or not _CLAUSE_START.search(text[: match.start()]):
        return None
    raw = text[match.start("ref") :]
    target = parse_reference(raw, context=text[: match.start()])
    return 70, Intent(kind="delete", target=target)


def _batches(text: str, now: datetime) -> Reading | None:
    batch = parse_batch(text, now)
    if batch is None:
        return None
    if batch.filters is None:
        return 80, Intent(kind="bulk_refused")
    return 80, Intent(kind="bulk", action=batch.action, filters=batch.filters)


_SHOW_ONE = re.compile(
    r"^(?:show|open|find|get|pull\s+up|display|view|look\s+up)\s+(?:me\s+)?(?:the|my)\s+"
    r"(?P<ref>.+?)\s+(?:task|todo|to-do|item|reminder)\s*[?.!]*$",
    re.I,
)


_TASKY = re.compile(
    r"\b(?:tasks?|list|lists|todos?|to-dos?|due|overdue|agenda|plate|left|pending|open|schedule|"
    r"remaining|priority|tagged|upcoming|outstanding|done|finish\w*|complet\w*|urgent|important|"
    r"anything|everything|stuff|things|have|got|next|reminders?|deadlines?|items?|all|show|"
    r"display|view|see)\b",
    re.I,
)


def _questions(text: str, now: datetime) -> Reading | None:
    asked = casual.task_question(text)
    if asked is not None and not asked.empty:
        return 72, Intent(kind="get", target=asked)
    one = _SHOW_ONE.match(text)
    if one and not parse_list_filter(one.group("ref"), now).narrowed:
        return 72, Intent(kind="get", target=parse_reference(one.group("ref")))
    if GET.search(text):
        target = parse_reference(text)
        if not target.ids:
            target = parse_reference(GET.sub(" ", text))
        if not target.empty:
            return 72, Intent(kind="get", target=target)
    filters = parse_list_filter(text, now)
    if not (_TASKY.search(text) or filters.narrowed or filters.query):
        return None  # "what's the weather like?" is not about the list
    if ASKING.match(text) or (text.endswith("?") and filters.looks_like_listing):
        return 50, Intent(kind="list", filters=filters)
    if filters.looks_like_listing:
        return 12, Intent(kind="list", filters=filters)
    return None


RECOGNISERS: list[Callable[[str, datetime], Reading | None]] = [
    _social,
    _creates,
    _updates,
    _batches,
    _completes,
    _deletes,
    _questions,
    _bare_create,
]
_CLAUSES = re.compile(r"\s*(?:[,;.]|\bjust\b|\bbut\b|\binstead\b|\bonly\b)\s*", re.I)


_QUESTION = re.compile(
    r"^(?:how|what|what'?s|which|when|when'?s|where|who|why|whose)\b"
    r"|^(?:is|are|did|do|does|have|has|was|were)\b.*\?\s*$",
    re.I,
)


def readings(text: str, now: datetime) -> list[Reading]:
    """Every reading of the message, heaviest first, destructive ones only when allowed.

    A question ("how many tasks are done?") is never read as a request to destroy.
    """
    found = [r for r in (recognise(text, now) for recognise in RECOGNISERS) if r is not None]
    if not safety.may_destroy(text) or _QUESTION.match(text):
        found = [r for r in found if r[1].kind not in DESTRUCTIVE]
    return sorted(found, key=lambda r: -r[0])


def parse_intent(message: str, now: datetime) -> Intent:
    """The best reading of one user message; a safe answer when none fits.

    Cached per (message, minute): the engine re-reads the last message at every step of a
    turn, and an Intent is immutable.
    """
    return _parse(message, now.replace(second=0, microsecond=0))


@functools.lru_cache(maxsize=256)
def _parse(message: str, now: datetime) -> Intent:
    text = normalise(message)
    found = readings(text, now)
    if (found and found[0][1].kind != "list") or (found and found[0][0] >= 50):
        return found[0][1]
    if safety.negated(text) or safety.hypothetical(text):
        # "don't delete anything, just show me X": act on the clauses that are not negated.
        kept = [c for c in _CLAUSES.split(text) if c and not safety.negated(c)]
        rest = " ".join(kept)
        if rest and rest != text and not safety.hypothetical(rest):
            inner = readings(normalise(rest), now)
            if inner and inner[0][1].kind not in DESTRUCTIVE:
                return inner[0][1]
        if safety.hypothetical(text):
            return Intent(kind="hypothetical", said=text)
        return Intent(kind="declined", said=text)
    if found:
        return found[0][1]
    return Intent(kind="unknown", said=text)


__all__ = ["parse_intent", "readings"]
