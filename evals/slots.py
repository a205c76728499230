"""Slot values and helpers shared by the corpus generators (evals/generate*.py)."""

from __future__ import annotations

import random
from typing import Any

NOW = "2026-11-24T09:00:00"  # a Tuesday
Case = dict[str, Any]

# (title, past tense, gerund, a short way to name it)
TASKS = [
    ("Call the plumber", "called the plumber", "calling the plumber", "the plumber"),
    ("Pay the gas bill", "paid the gas bill", "paying the gas bill", "the gas bill"),
    ("Email the landlord", "emailed the landlord", "emailing the landlord", "the landlord"),
    ("Book the flights", "booked the flights", "booking the flights", "the flights"),
    ("Buy a birthday card", "bought a birthday card", "buying a birthday card", "the card"),
    ("Water the plants", "watered the plants", "watering the plants", "the plants"),
    ("Renew the passport", "renewed the passport", "renewing the passport", "the passport"),
    ("Send the invoice", "sent the invoice", "sending the invoice", "the invoice"),
    ("Clean the garage", "cleaned the garage", "cleaning the garage", "the garage"),
    ("Return the library books", "returned the library books", "returning the library books",
     "the library books"),
    ("Fix the bike", "fixed the bike", "fixing the bike", "the bike"),
    ("Write the report", "wrote the report", "writing the report", "the report"),
]  # fmt: skip
DATES = [
    ("", None),
    (" tomorrow", "2026-11-25"),
    (" by friday", "2026-11-27"),
    (" on monday", "2026-11-30"),
    (" next week", "2026-11-30"),
    (" in 3 days", "2026-11-27"),
    (" by Dec 5", "2026-12-05"),
]
PRIORITIES = [
    ("", "medium"),
    (", high priority", "high"),
    (", not urgent", "low"),
    (", low priority", "low"),
    (" - it's urgent", "high"),
    (", no rush", "low"),
    (", critical", "high"),
]
POLITE = ["", "please ", "hey, ", "can you ", "ok "]
POLITE_END = ["", " please", " thanks", "!"]


def typo(word: str, rng: random.Random) -> str:
    """One adjacent-letter swap inside a word of five letters or more (never the first)."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def case(
    kind: str, n: int, turn: str | list[str], expect: Case, setup: list[Case] | None = None
) -> Case:
    out: Case = {"id": f"gen-{kind}-{n:04d}", "now": NOW}
    if setup:
        out["setup"] = setup
    out["turns"] = [turn] if isinstance(turn, str) else turn
    out["expect"] = expect
    return out


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def setup_for(rng: random.Random, chosen: tuple[str, ...]) -> list[Case]:
    others = [t for t in TASKS if t[0] != chosen[0]]
    picked = [chosen, *rng.sample(others, 2)]
    rng.shuffle(picked)
    return [{"title": t[0], "due_date": "2026-11-26", "tags": ["home"]} for t in picked]


def naming(task: tuple[str, ...], rng: random.Random, *, typos: bool) -> str:
    title, _, _, short = task
    name = rng.choice([lower_first(title), short, f"{short} task", f'"{title}"'])
    if typos and rng.random() < 0.3 and not name.startswith('"'):
        words = name.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        words[longest] = typo(words[longest], rng)
        name = " ".join(words)
    return name
