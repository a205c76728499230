"""English date phrases → ISO dates, against the agent's clock (pure functions).

The engine must find the date phrase inside a sentence (so that it can be cut out of a task
title) and then resolve it. Finding is done with our own regular expressions, because
`dateparser.search` guesses dates inside ordinary words. Resolving explicit and "in N days"
phrases is left to `dateparser`; weekdays, "next week" and "end of the month" follow our own
rule, because dateparser gets them wrong or differently from what the eval suite expects:

- a bare weekday ("Friday", "by Friday", "on Friday") is the next such day after today, never
  today; "next Friday" and "this Friday" mean the same coming day ("this Friday" on a Friday
  is today);
- "next week" is next Monday; "this week", when listing, runs from today through Sunday;
- "end of the week" is this week's Friday (Sunday at the weekend); "end of the month" is its
  last day.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dateparser

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES = {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_WD = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues|weds|thurs?)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)
_NUMBER = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_CORE = (
    r"\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s*\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:,?\s*\d{{4}})?"
    r"|(?:on|by|due|before|until|to|for)\s+the\s+\d{1,2}(?:st|nd|rd|th)\b"
    r"(?:\s+of\s+(?:the|this|next)\s+month)?"
    r"|(?:the\s+)?day\s+after\s+tomorrow|today|tonight|tomorrow|tmrw|end\s+of\s+(?:the\s+)?day"
    rf"|in\s+{_NUMBER}\s+(?:day|week|month)s?"
    r"|(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?:week|month)|eow|eom"
    r"|(?:this|next)\s+(?:weekend|week|month)"
    rf"|(?:(?:this|next|coming|the\s+coming)\s+)?{_WD}"
)
_PREFIX = r"(?:(?:due|by|on|before|until|till|til|for)\s+)?(?:(?:by|on)\s+)?"
DATE_PHRASE = re.compile(rf"\b{_PREFIX}(?P<core>{_CORE})\b", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class DateMatch:
    """A date phrase found in a text, with its span so callers can cut it out."""

    start: int
    end: int
    phrase: str
    """The core phrase without its preposition, e.g. "friday" for "by Friday"."""
    day: date


def coming_weekday(today: date, weekday: int, *, allow_today: bool = False) -> date:
    """The next `weekday` (0 = Monday) after today; today itself only when allowed."""
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not allow_today:
        ahead = 7
    return today + timedelta(days=ahead)


def end_of_week(today: date) -> date:
    """This week's Friday; at the weekend, Sunday (the week is Monday to Sunday)."""
    if today.weekday() <= 4:
        return coming_weekday(today, 4, allow_today=True)
    return coming_weekday(today, 6, allow_today=True)


def end_of_month(today: date) -> date:
    first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_next - timedelta(days=1)


def day_of_month(today: date, day: int, *, next_month: bool = False) -> date | None:
    """ "the 5th": this month's if still ahead (today counts), else next month's."""
    first = today.replace(day=1)
    if next_month or day < today.day:
        first = end_of_month(today) + timedelta(days=1)
    try:
        return first.replace(day=day)
    except ValueError:
        return None


def week_bounds(today: date, *, next_week: bool = False) -> tuple[date, date]:
    """(first, last) day of this week from today, or of the whole next week, for listing."""
    if next_week:
        monday = coming_weekday(today, 0)
        return monday, monday + timedelta(days=6)
    return today, coming_weekday(today, 6, allow_today=True)


def _weekday_index(word: str) -> int | None:
    word = word.lower()
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    return _WEEKDAY_ALIASES.get(word)


def _own_rule(phrase: str, today: date) -> date | None:
    """The phrases whose meaning we fix ourselves instead of asking dateparser."""
    words = phrase.replace("the ", "").split()
    text = " ".join(words)
    if text in {"today", "tonight", "end of day"}:
        return today
    if text in {"tomorrow", "tmrw"}:
        return today + timedelta(days=1)
    if text in {"end of week", "end of this week", "eow", "this week"}:
        return end_of_week(today)
    if text in {"end of month", "end of this month", "eom"}:
        return end_of_month(today)
    if text == "next week":
        return coming_weekday(today, 0)
    if text == "next month":
        return end_of_month(today) + timedelta(days=1)
    if text == "this weekend":
        return coming_weekday(today, 5, allow_today=True)
    if text == "next weekend":
        return coming_weekday(today, 5, allow_today=True) + timedelta(days=7)
    ordinal = re.fullmatch(
        r"(?:(?:on|by|due|before|until|to|for) )?(\d{1,2})(?:st|nd|rd|th)"
        r"(?: of (this|next) month)?",
        text,
    )
    if ordinal:
        return day_of_month(today, int(ordinal.group(1)), next_month=ordinal.group(2) == "next")
    index = _weekday_index(words[-1]) if words else None
    if index is not None:
        return coming_weekday(today, index, allow_today=words[0] == "this")
    return None


@functools.lru_cache(maxsize=512)
def _resolve_cached(phrase: str, now: datetime) -> date | None:
    own = _own_rule(phrase, now.date())
    if own is not None:
        return own
    parsed = dateparser.parse(
        phrase,
        languages=["en"],
        settings={
            "RELATIVE_BASE": now,
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "MDY",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return parsed.date() if parsed is not None else None


def resolve(phrase: str, now: datetime) -> date | None:
    """Resolve one date phrase ("friday", "in 3 days", "Dec 5") to a date, or None.

    Results are cached per (phrase, minute): dateparser costs about half a millisecond a
    call once warm, and a conversation re-parses the same message on every step.
    """
    key = re.sub(r"\s+", " ", phrase.strip().lower())
    return _resolve_cached(key, now.replace(second=0, microsecond=0, tzinfo=None))


def find_dates(text: str, now: datetime) -> list[DateMatch]:
    """Every resolvable date phrase in `text`, left to right."""
    found: list[DateMatch] = []
    for match in DATE_PHRASE.finditer(text):
        day = resolve(match.group("core"), now)
        if day is not None:
            found.append(
                DateMatch(
                    start=match.start(),
                    end=match.end(),
                    phrase=match.group("core").lower(),
                    day=day,
                )
            )
    return found


def format_day(day: date) -> str:
    """ "Fri 2026-11-27": the weekday helps a person check the engine's reading."""
    return f"{WEEKDAYS[day.weekday()][:3].title()} {day.isoformat()}"


def parse_iso(value: object) -> date | None:
    """A tool result's `due_date`, tolerantly (None for anything that is not ISO)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def warm_up() -> None:
    """Load dateparser's language data now (about 100 ms once) rather than in a user's turn."""
    resolve("in 2 days", datetime(2000, 1, 3))
