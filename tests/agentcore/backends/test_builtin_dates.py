"""Dates against a fixed clock: Tuesday 2026-11-24, 09:00, unless a test says otherwise."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from agentcore.backends.builtin.dates import find_dates, format_day, resolve, week_bounds

TUESDAY = datetime(2026, 11, 24, 9, 0)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("friday", "2026-11-27"),
        ("next monday", "2026-11-30"),
        ("tuesday", "2026-12-01"),
        ("this tuesday", "2026-11-24"),
        ("wednesday", "2026-11-25"),
        ("coming sunday", "2026-11-29"),
        ("tomorrow", "2026-11-25"),
        ("today", "2026-11-24"),
        ("tonight", "2026-11-24"),
        ("the day after tomorrow", "2026-11-26"),
        ("in 3 days", "2026-11-27"),
        ("in two weeks", "2026-12-08"),
        ("in a week", "2026-12-01"),
        ("next week", "2026-11-30"),
        ("end of month", "2026-11-30"),
        ("the end of the month", "2026-11-30"),
        ("end of the week", "2026-11-27"),
        ("this weekend", "2026-11-28"),
        ("next month", "2026-12-01"),
        ("dec 5", "2026-12-05"),
        ("december 5th", "2026-12-05"),
        ("5th of december", "2026-12-05"),
        ("2026-12-05", "2026-12-05"),
        ("12/5", "2026-12-05"),
        ("nov 1", "2027-11-01"),
        ("on the 15th", "2026-12-15"),
        ("by the 24th", "2026-11-24"),
        ("on the 2nd of next month", "2026-12-02"),
    ],
)
def test_phrases_resolve_against_tuesday_the_24th(phrase, expected):
    assert resolve(phrase, TUESDAY) == date.fromisoformat(expected)


def test_by_friday_resolves_to_the_coming_friday():
    [match] = find_dates("review the proposal by Friday", TUESDAY)
    assert match.day == date(2026, 11, 27)
    assert match.phrase == "friday"


def test_a_weekday_named_on_that_weekday_means_next_week():
    friday = datetime(2026, 11, 27, 17, 0)
    assert resolve("friday", friday) == date(2026, 12, 4)
    assert resolve("this friday", friday) == date(2026, 11, 27)


def test_next_week_from_sunday_is_the_following_day():
    assert resolve("next week", datetime(2026, 11, 29, 20, 0)) == date(2026, 11, 30)


def test_end_of_week_at_the_weekend_is_sunday():
    assert resolve("end of the week", datetime(2026, 11, 28, 11, 0)) == date(2026, 11, 29)


def test_end_of_month_in_december_is_new_years_eve():
    assert resolve("end of month", datetime(2026, 12, 2)) == date(2026, 12, 31)


def test_a_month_day_already_past_this_year_means_next_year():
    assert resolve("dec 1", datetime(2027, 1, 6, 9, 0)) == date(2027, 12, 1)


def test_this_week_for_listing_runs_from_today_through_sunday():
    assert week_bounds(TUESDAY.date()) == (date(2026, 11, 24), date(2026, 11, 29))
    assert week_bounds(TUESDAY.date(), next_week=True) == (date(2026, 11, 30), date(2026, 12, 6))


def test_the_preposition_is_part_of_the_span_so_titles_lose_it():
    text = "call mom due by Friday"
    [match] = find_dates(text, TUESDAY)
    assert text[match.start : match.end] == "due by Friday"


def test_words_that_only_look_like_dates_are_not_dates():
    assert find_dates("may I have a task list", TUESDAY) == []
    assert find_dates("read the 1st chapter", TUESDAY) == []


def test_format_day_names_the_weekday():
    assert format_day(date(2026, 11, 27)) == "Fri 2026-11-27"
