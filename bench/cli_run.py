"""The CLI's full run of all local checks, as a process, against `python -c pass` in the same run.

Each figure is the median of N runs of a whole process; every ratio is against a bare start of
the same interpreter, measured here, in the same command, on the same machine.

- `selfcheck`: `python -m checks` with this environment's Python (the package as installed here),
  laptop side and server side, and `import checks` alone.
- `selfcheck.pyz`: the single file as a student runs it: the system's `python3` (`--python`;
  not this virtual environment, whose site-packages import our own editable-install hook at every
  start) with `-I`.
- the floor (decision 0002, restated in issue 15): the same interpreter doing nothing but start
  the external programs a laptop run needs (`ssh -V`, `ssh -G <login host>`, `git config` for the
  filters to switch off, `git status`),
  concurrently, and wait for them. The goal is a full laptop run within 1.3x its floor; the bare
  start (`-c pass`) is printed for scale.

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def _floor_script() -> str:
    """A script that starts the programs a laptop run starts, all at once, and waits for them."""
    from checks import expectations

    host = expectations.load().login_host
    config = Path.home() / ".ssh" / "config"
    from checks.probes.repo import SAFE_GIT

    programs = [["ssh", "-V"], ["ssh", "-G", "-F", str(config) if config.is_file() else os.devnull, "--", host],
                ["git", *SAFE_GIT, "config", "-z", "--name-only", "--get-regexp", "^filter\\."],
                ["git", *SAFE_GIT, "status", "--porcelain=v2", "--branch", "--untracked-files=no",
                 "--ignore-submodules=all"]]
    found = [[shutil.which(argv[0]) or argv[0], *argv] for argv in programs]
    return ("import os\n"
            "out = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), "
            "(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]\n"
            f"pids = [os.posix_spawn(exe, argv, os.environ, file_actions=out) for exe, *argv in {found!r}]\n"
            "for pid in pids:\n    os.waitpid(pid, 0)\n")


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

    def row(label: str, argv, baseline=None, goal: str = "") -> float:
        value = _median(argv, args.runs)
        ratio = value / baseline if baseline else 1.0
        rows.append((label, value, ratio, goal))
        print(f"{label:<60} {value * 1000:8.1f} ms {ratio:6.2f}x  {goal}".rstrip(), flush=True)
        return value

    floor = _floor_script()
    print(f"{'process':<60} {'median':>11} {'ratio':>7}")
    bare = row("venv: python -c pass", [py, "-c", "pass"])
    venv_floor = row("venv: floor (start ssh -V, ssh -G, git status; wait)", [py, "-c", floor], bare)
    row("venv: python -c 'import checks'", [py, "-c", "import checks"], bare)
    row("venv: python -m checks --side laptop  / floor", [py, "-m", "checks", "--side", "laptop"], venv_floor,
        "goal <= 1.30x")
    row("venv: python -m checks --side server  / bare start", [py, "-m", "checks", "--side", "server"], bare)
    base_bare = row("python3 -I -c pass", [base_py, "-I", "-c", "pass"])
    base_floor = row("python3 -I floor (start ssh -V, ssh -G, git status; wait)", [base_py, "-I", "-c", floor],
                     base_bare)
    row("python3 -I selfcheck.pyz --side laptop  / floor", [base_py, "-I", pyz, "--side", "laptop"], base_floor,
        "goal <= 1.30x")
    row("python3 -I selfcheck.pyz --side server  / bare start", [base_py, "-I", pyz, "--side", "server"], base_bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
