"""The vendored Chart.js is the release its VERSION and README name, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "chartjs"


def test_chartjs_files_match_their_recorded_digests():
    recorded = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        recorded[name] = digest
    assert set(recorded) == {"chart.umd.min.js", "chart.umd.min.js.map"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_chartjs_banner_readme_and_version_file_name_the_same_release():
    version = (VENDOR / "VERSION").read_text().strip()
    banner = (VENDOR / "chart.umd.min.js").read_text()[:200]
    assert f"Chart.js v{version}\n" in banner
    assert f"Chart.js {version}" in (VENDOR / "README.md").read_text()
    assert "MIT" in (VENDOR / "LICENSE.md").read_text()
    assert "sourceMappingURL=chart.umd.min.js.map" in (VENDOR / "chart.umd.min.js").read_text()
