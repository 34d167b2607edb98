"""The self-check notebooks: their stored outputs (what the book shows) are still what the checks
produce on the example machines, proven by nbval in strict mode.

The tunnel cell probes the real loopback port 8889, which depends on the machine running the
test, so it carries the nbval-ignore-output tag; every other cell's output is compared.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

NOTEBOOKS = {
    "lessons/selfcheck-laptop.ipynb": "sites/dsmlp/machines/laptop",
    "lessons/selfcheck-server.ipynb": "sites/dsmlp/machines/server",
}


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_stored_outputs_are_current(notebook: str, tmp_path) -> None:
    # The kernel copies the example machine into a temporary folder; TMPDIR keeps it in the test's own
    # folder, removed with it even when nbval stops the kernel before its exit handlers run.
    env = {**os.environ, "SELFCHECK_MACHINE": str(ROOT / NOTEBOOKS[notebook]), "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-current-env", "-o", "addopts=", "--rootdir", str(tmp_path), notebook],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, ("the stored example outputs are not what the checks produce now: after changing a "
                                  "check's wording or the course's assignment, run scripts/refresh_examples.py\n"
                                  + proc.stdout[-5000:] + proc.stderr[-2000:])
    assert " passed" in proc.stdout


def test_notebooks_hold_no_secret() -> None:
    import re

    for notebook in NOTEBOOKS:
        text = (ROOT / notebook).read_text(encoding="utf-8")
        assert not re.search(r"token=[0-9a-f]{32,}", text)
        assert "PRIVATE KEY-----" not in text
