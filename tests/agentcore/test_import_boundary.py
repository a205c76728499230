"""agentcore is a library: importing it must not import Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_agentcore_imports_without_django():
    code = (
        "import sys, pkgutil, importlib, agentcore\n"
        "import agentcore.backends.fallback, agentcore.backends.builtin\n"
        "import agentcore.backends.ollama, agentcore.backends.openai_compat\n"
        "import agentcore.testing, agentcore.specs, agentcore.loop\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_agentcore_module_mentions_django_imports():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agentcore").rglob("*.py")
        if "import django" in path.read_text() or "from django" in path.read_text()
    ]
    assert offenders == []
