"""Every parser that reads model text runs in time linear in its length.

Each parser gets adversarial inputs of 100 kB and of 1 MB in a child process (so a hang
cannot take the test run with it: the child has a generous deadline). The check is on the
growth of CPU time, not on a duration: ten times the input may cost at most ~25 times the
work (linear is 10, quadratic 100), measured as the best of two runs to shed noise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskweb.settings")
import django
django.setup()
from agentcore.toolcall_parsing import parse_arguments, parse_tool_calls
from agentcore.backends.wire import apply_tool_call_deltas, finish_tool_calls
from tasks.templatetags.taskweb import markdown_html, render_markdown

def inputs(n):
    return {
        "fence then spaces": "```" + " " * n,
        "fence then newlines": "```json\n" + "\n" * n,
        "many fences": "```" * (n // 3),
        "fences with spaces": "``` " * (n // 4),
        "unclosed tags": "<tool_call>" * (n // 11),
        "tag then spaces": "<tool_call>" + " " * n + "x",
        "nested brackets": "[" * n,
        "many braces": "{" * n,
        "half objects": '{"a":' * (n // 5),
        "lists then junk": ("[1," * 250 + "x") * (n // 1001),
        "open string": '["' + "a" * n,
        "long line": "a" * n,
        "emphasis": "*a_" * (n // 3),
        "links": "[a](" * (n // 4),
        "angles": "<" * n,
        "entities": "&#" * (n // 2),
        "quotes": "> " * (n // 2),
    }

PARSERS = {
    "tool calls": lambda text: parse_tool_calls(text, {"create_task"}),
    "markdown": markdown_html,
    "markdown filter": render_markdown,
    "json arguments": parse_arguments,
    "streamed arguments": lambda text: finish_tool_calls(apply_tool_call_deltas(
        {}, [{"index": 0, "function": {"name": "create_task", "arguments": text}}])),
}

def cost(parser, text):
    best = None
    for _ in range(2):
        start = time.process_time()
        parser(text)
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return best

small, large = inputs(100_000), inputs(1_000_000)
out = {}
for pname, parser in PARSERS.items():
    for iname in small:
        out[f"{pname} / {iname}"] = [cost(parser, small[iname]), cost(parser, large[iname])]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_each_parser_grows_linearly_on_a_megabyte_of_adversarial_text():
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    costs = json.loads(done.stdout.strip().splitlines()[-1])
    superlinear = {}
    for case, (small, large) in costs.items():
        # Below 20 ms for 1 MB, noise dominates and no quadratic parser gets there.
        if large > 0.02 and large > 25 * max(small, 0.001):
            superlinear[case] = (round(small, 4), round(large, 4))
    assert superlinear == {}
