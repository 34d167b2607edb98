"""The CLI's full run of all local checks, as a process, against `python -c pass` in the same run.

Each figure is the median of N runs of a whole process; every ratio is against a bare start of
the same interpreter, measured here, in the same command, on the same machine.

- `selfcheck`: `python -m checks` with this environment's Python (the package as installed here),
  laptop side and server side, and `import checks` alone.
- `selfcheck.pyz`: the single file as a student runs it: the system's `python3` (`--python`;
  not this virtual environment, whose site-packages import our own editable-install hook at every
  start) with `-I`.
- the floor: importing only `argparse` and `subprocess`, which any command line that parses
  options and runs `ssh -V` needs, and a script that only starts `ssh -V` (with `os.posix_spawn`),
  so the figures can be read against what cannot be avoided (docs/decisions/0002-start-up-time.md).

Runs are warm, as a student's second run is: bytecode and the assignment cache are written by a
first run (PYTHONDONTWRITEBYTECODE is cleared for the measured processes). A process is waited for
with a blocking wait; `subprocess.run(timeout=...)` polls with growing sleeps, which added up to
20 ms to every figure before.

Run: .venv/bin/python bench/cli_run.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
BOUND = 120.0  # seconds: no run may hang the benchmark


def _once(argv) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(BOUND, proc.kill)
    timer.start()
    try:
        proc.wait()  # blocking: no polling granularity in the figure
    finally:
        timer.cancel()
    return time.perf_counter() - started


def _median(argv, runs: int) -> float:
    _once(argv)  # warm: bytecode, caches, the OS's file cache
    return statistics.median(_once(argv) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--python", default="/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable,
                        help="the interpreter a student would run selfcheck.pyz with (default: %(default)s)")
    args = parser.parse_args()
    py = sys.executable
    base_py = args.python
    print(f"this environment: {py}\nstudent's python3: {base_py}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_pyz import build

    pyz = str(build(Path(tempfile.mkdtemp()) / "selfcheck.pyz"))
    rows = []

    def row(label: str, argv, baseline=None) -> float:
        value = _median(argv, args.runs)
        ratio = f"{value / baseline:5.2f}x" if baseline else "1.00x"
        rows.append(f"{label:<52} {value * 1000:7.1f} ms  {ratio}")
        print(rows[-1], flush=True)
        return value

    bare = row("python -c pass", [py, "-c", "pass"])
    row("python -c 'import checks'", [py, "-c", "import checks"], bare)
    row("python -m checks --side laptop (all checks)", [py, "-m", "checks", "--side", "laptop"], bare)
    row("python -m checks --side server (all checks)", [py, "-m", "checks", "--side", "server"], bare)
    row("python -c 'import argparse, subprocess'", [py, "-c", "import argparse, subprocess"], bare)
    base_bare = row("python3 -I -c pass", [base_py, "-I", "-c", "pass"])
    row("python3 -I selfcheck.pyz --side laptop", [base_py, "-I", pyz, "--side", "laptop"], base_bare)
    row("python3 -I selfcheck.pyz --side server", [base_py, "-I", pyz, "--side", "server"], base_bare)
    row("python3 -I -c 'import argparse, subprocess'", [base_py, "-I", "-c", "import argparse, subprocess"],
        base_bare)
    ssh = shutil.which("ssh")
    if ssh and hasattr(os, "posix_spawn"):  # the least any run that asks `ssh -V` can cost
        spawn = (f"import os; os.waitpid(os.posix_spawn({ssh!r}, ['ssh', '-V'], {{}}, file_actions="
                 "[(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]), 0)")
        row("python3 -I -c '<posix_spawn ssh -V, nothing else>'", [base_py, "-I", "-c", spawn], base_bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
