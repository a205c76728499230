"""Turn exported fine-tuning data back into an eval suite: `suite_from_dataset IN.jsonl OUT.jsonl`.

Each OpenAI-format line becomes one case (its user turns, its changing tool calls, the tasks as
the calls left them, and the tasks as the calls first saw them as setup), so the conversations
a model is trained on can also check it: `agent_eval OUT.jsonl --backend YOUR-MODEL`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agentcore.evals.from_calls import case_from_openai_line


class Command(BaseCommand):
    help = "Write an agent_eval suite from an OpenAI-format fine-tuning file (export_dataset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="A file written by export_dataset --format openai")
        parser.add_argument("out", help="The suite to write (JSON Lines)")
        parser.add_argument("--prefix", default="line", help="Case ids are PREFIX-N")

    def handle(self, *args: Any, **options: Any) -> None:
        source, out = Path(options["dataset"]), Path(options["out"])
        cases, noted = [], 0
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc}") from exc
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CommandError(f"{source}:{number}: invalid JSON: {exc.msg}") from exc
            case, notes = case_from_openai_line(line, case_id=f"{options['prefix']}-{number}")
            cases.append(case)
            noted += bool(notes)
        try:
            out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from exc
        self.stdout.write(
            f"{out}: {len(cases)} cases; {noted} with a setup inferred from after-states"
        )
