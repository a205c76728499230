"""The security suite: its helpers, and the browser helpers of tests/live, importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "live"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
