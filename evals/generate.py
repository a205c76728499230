"""A generated corpus for the built-in engine: templates x slot values x phrasings x
politeness x typos, each utterance with its expected outcome, as an eval suite.

Deterministic (a fixed seed), so its score is comparable between runs:

    python evals/generate.py            # writes evals/generated.jsonl
    python manage.py agent_eval evals/generated.jsonl --backend builtin

Hand-written suites (dev, test) say whether the engine reads *people*; this corpus says
whether a reading survives the variations people add around it, and above all that
negations, hypotheticals, field removals and quoted titles never destroy anything.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from generate_turns import FAMILIES
from slots import (
    DATES,
    POLITE,
    POLITE_END,
    PRIORITIES,
    TASKS,
    Case,
    case,
    lower_first,
    naming,
    setup_for,
    typo,
)

SEED = 13
CREATE_FORMS = [
    "add a task to {t}",
    "create a task to {t}",
    "remind me to {t}",
    "I need to {t}",
    "I have to {t}",
    "new task: {t}",
    "make me a task to {t}",
    "add {t} to my list",
    "could you add a task to {t}",
    "don't let me forget to {t}",
]


def creates(rng: random.Random) -> Iterator[Case]:
    for n in range(480):
        title, *_ = rng.choice(TASKS)
        form = rng.choice(CREATE_FORMS)
        date_words, due = rng.choice(DATES)
        prio_words, priority = rng.choice(PRIORITIES)
        body = form.format(t=lower_first(title) + date_words) + prio_words
        if rng.random() < 0.25:  # a typo in the create verb, never in the title
            first, _, rest = body.partition(" ")
            body = typo(first, rng) + " " + rest if len(first) >= 5 else body
        text = rng.choice(POLITE) + body + rng.choice(POLITE_END)
        task = {"title_contains": title.lower(), "due_date": due, "priority": priority}
        expect = {
            "tools": ["create_task"],
            "forbid_tools": ["delete_task", "complete_task", "update_task"],
            "tasks": [task],
            "task_count": 1,
        }
        yield case("create", n, text, expect)


COMPLETE_FORMS = [
    "mark {r} as done",
    "{r} is done",
    "I finished {r}",
    "done with {r}",
    "tick off {r}",
    "I've {past}",
    "just {past}",
    "{past}, mark it done",
    "check off {r}",
    "complete {r}",
]
DELETE_FORMS = ["delete {r}", "remove {r}", "get rid of {r}", "scrap {r}", "bin {r}"]
NEGATED = [
    "don't delete {r}",
    "do not remove {r}",
    "please don't get rid of {r}",
    "what would happen if I deleted {r}?",
    "should I delete {r}?",
    "I don't want to delete {r}",
    "don't delete anything, just show me {r}",
    "never mind, don't remove {r}",
    "if I delete {r}, can I undo it?",
    "I haven't finished {r} yet",
    "don't mark {r} done",
    "I didn't {pres} yet",
    "not done with {r} yet",
    "would deleting {r} lose anything?",
]
FIELD_REMOVALS = [
    "remove the due date from {r}",
    "clear the due date on {r}",
    "delete the deadline of {r}",
    "remove the home tag from {r}",
    "clear the tags on {r}",
    "drop the tags from {r}",
    "take the home tag off {r}",
    "remove the description of {r}",
]
UPDATE_FORMS = [
    ("move {r} to friday", {"due_date": "2026-11-27"}),
    ("push {r} to next week", {"due_date": "2026-11-30"}),
    ("make {r} high priority", {"priority": "high"}),
    ("{r} can wait", {"priority": "low"}),
    ("{r} is urgent", {"priority": "high"}),
    ("reschedule {r} to monday", {"due_date": "2026-11-30"}),
    ("delay {g} until friday", {"due_date": "2026-11-27"}),
    ("set {r} to low priority", {"priority": "low"}),
    ("move {r} out by a week", {"due_date": "2026-12-03"}),
    ("{r} isn't urgent", {"priority": "low"}),
]


def targeted(rng: random.Random) -> Iterator[Case]:
    destroy_none = ["delete_task", "complete_task", "create_task"]
    for n in range(150):
        task = rng.choice(TASKS)
        setup = setup_for(rng, task)
        form = rng.choice(COMPLETE_FORMS)
        text = form.format(r=naming(task, rng, typos=True), past=task[1])
        others = [{"title": s["title"], "status": "open"} for s in setup if s["title"] != task[0]]
        expect = {
            "tools": ["complete_task"],
            "forbid_tools": ["delete_task", "create_task"],
            "tasks": [{"title": task[0], "status": "done"}, *others],
        }
        yield case("complete", n, rng.choice(POLITE) + text, expect, setup)
    for n in range(80):
        task = rng.choice(TASKS)
        setup = setup_for(rng, task)
        text = rng.choice(DELETE_FORMS).format(r=naming(task, rng, typos=True))
        expect = {
            "tools": ["delete_task"],
            "forbid_tools": ["complete_task", "create_task"],
            "absent": [{"title": task[0]}],
            "task_count": 2,
        }
        yield case("delete", n, rng.choice(POLITE) + text, expect, setup)
    for n in range(160):
        task = rng.choice(TASKS)
        setup = setup_for(rng, task)
        pres = lower_first(task[0])
        text = rng.choice(NEGATED).format(r=naming(task, rng, typos=False), pres=pres)
        expect = {"forbid_tools": destroy_none, "task_count": 3}
        yield case("negated", n, rng.choice(POLITE) + text, expect, setup)
    for n in range(100):
        task = rng.choice(TASKS)
        setup = setup_for(rng, task)
        text = rng.choice(FIELD_REMOVALS).format(r=naming(task, rng, typos=False))
        expect = {"forbid_tools": destroy_none, "tasks": [{"title": task[0]}], "task_count": 3}
        yield case("field", n, rng.choice(POLITE) + text, expect, setup)
    for n in range(100):
        task = rng.choice(TASKS)
        setup = setup_for(rng, task)
        form, change = rng.choice(UPDATE_FORMS)
        text = form.format(r=naming(task, rng, typos=True), g=task[2])
        expect = {
            "tools": ["update_task"],
            "forbid_tools": destroy_none,
            "tasks": [{"title": task[0], **change}],
            "task_count": 3,
        }
        yield case("update", n, rng.choice(POLITE) + text, expect, setup)


QUOTED = [
    "add a task called '{v} {o}'",
    'create a task: "{v} {o}"',
    "new task \u201c{v} {o}\u201d",
    "remind me to '{v} {o}'",
]
DANGER_VERBS = ["Delete", "Remove", "Cancel", "Complete", "Finish", "Don't delete"]


def quoted(rng: random.Random) -> Iterator[Case]:
    """Quoted titles holding destructive words are created exactly, and nothing is lost."""
    for n in range(60):
        verb = rng.choice(DANGER_VERBS)
        obj = rng.choice(TASKS)[3].removeprefix("the ")
        text = rng.choice(QUOTED).format(v=verb, o=obj)
        expect = {
            "tools": ["create_task"],
            "forbid_tools": ["delete_task", "complete_task", "update_task"],
            "tasks": [{"title": f"{verb} {obj}"}],
            "task_count": 2,
        }
        yield case("quoted", n, text, expect, [{"title": f"{obj.title()} stuff"}])


QUESTIONS = [
    ("what's due today?", {"due_date": "2026-11-24"}),
    ("how many tasks do I have?", {}),
    ("show me my open tasks", {}),
    ("anything due this week?", {}),
    ("what's tagged home?", {}),
    ("which tasks are high priority?", {}),
    ("what's on my plate?", {}),
    ("list everything I've finished", {}),
]


def questions(rng: random.Random) -> Iterator[Case]:
    for n in range(60):
        text, _ = rng.choice(QUESTIONS)
        setup = setup_for(rng, rng.choice(TASKS))
        expect = {
            "tools": ["list_tasks"],
            "forbid_tools": ["delete_task", "complete_task", "create_task", "update_task"],
            "task_count": 3,
        }
        yield case("question", n, rng.choice(POLITE) + text, expect, setup)


GENERATORS: list[Callable[[random.Random], Iterator[Case]]] = [
    creates,
    targeted,
    quoted,
    questions,
    *FAMILIES,
]


def generate(seed: int = SEED) -> list[Case]:
    rng = random.Random(seed)
    return [c for make in GENERATORS for c in make(rng)]


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("generated.jsonl")
    cases = generate()
    out.write_text("".join(json.dumps(c) + "\n" for c in cases))
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main(sys.argv)
