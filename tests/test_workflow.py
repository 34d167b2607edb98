"""The GitHub Actions workflow validates offline against its schema (check-jsonschema's vendored copy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from realssh import require


def test_workflow_matches_the_schema() -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    require(exe.exists(), "check-jsonschema is not installed")
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    proc = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_student_side_on_three_systems_and_two_pythons() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for needle in ("ubuntu-latest", "macos-latest", "windows-latest", '"3.9"', '"3.13"', "make test", "deploy-pages"):
        assert needle in text, needle
    # Every test file the matrix names exists (a renamed file must not silently drop out).
    for name in ("test_engine.py", "test_cli.py", "test_properties.py", "test_collect.py"):
        assert (ROOT / "tests" / name).exists()
