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


AXE = VENDOR.parent / "axe-core"


def test_axe_core_matches_its_recorded_digest_and_names_its_release():
    digest, name = (AXE / "SHA256SUMS").read_text().split()
    assert name == "axe.min.js"
    assert hashlib.sha256((AXE / name).read_bytes()).hexdigest() == digest
    version = (AXE / "VERSION").read_text().strip()
    assert (AXE / "axe.min.js").read_text()[:40].startswith(f"/*! axe v{version}\n")
    assert f"axe-core {version}" in (AXE / "README.md").read_text()
    assert "Mozilla Public License" in (AXE / "LICENSE").read_text()


def test_no_page_template_loads_axe_core():
    """axe-core audits pages in the browser tests; it is never shipped to users' pages."""
    templates = Path(__file__).resolve().parent.parent / "templates"
    for path in templates.rglob("*.html"):
        assert "axe" not in path.read_text(), path
