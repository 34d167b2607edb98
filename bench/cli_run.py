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
20 ms to every figure before. The runs are interleaved: each round runs every process of one
interpreter once, in turn, so a neighbour's load falls on a run and its baseline alike (this
machine is shared); each figure is the median over the rounds.

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
GOAL = 1.3  # a full laptop run within 1.3x its floor (issue 15; decision 0004 says where it stands)


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


def _medians(commands, runs: int):
    """Each command's median wall time over `runs` interleaved rounds (after one warm-up round)."""
    for argv in commands:
        _once(argv)  # warm: bytecode, caches, the OS's file cache
    times = [[] for _ in commands]
    for _ in range(runs):
        for argv, kept in zip(commands, times):
            kept.append(_once(argv))
    return [statistics.median(kept) for kept in times]


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
    print(f"this environment: {sys.executable}\nstudent's python3: {args.python}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_pyz import build

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        return _measure(args, str(build(Path(folder) / "selfcheck.pyz")))


def _measure(args: argparse.Namespace, pyz: str) -> int:
    py, base_py = sys.executable, args.python
    floor = _floor_script()
    groups = [  # (label, argv, the row it is a ratio of, goal)
        [("venv: python -c pass", [py, "-c", "pass"], None, 0.0),
         ("venv: floor (start ssh -V, ssh -G, git status; wait)", [py, "-c", floor], 0, 0.0),
         ("venv: python -c 'import checks'", [py, "-c", "import checks"], 0, 0.0),
         ("venv: python -m checks --side laptop  / floor", [py, "-m", "checks", "--side", "laptop"], 1, GOAL),
         ("venv: python -m checks --side server  / bare start", [py, "-m", "checks", "--side", "server"], 0, 0.0)],
        [("python3 -I -c pass", [base_py, "-I", "-c", "pass"], None, 0.0),
         ("python3 -I floor (start ssh -V, ssh -G, git status; wait)", [base_py, "-I", "-c", floor], 0, 0.0),
         ("python3 -I selfcheck.pyz --side laptop  / floor", [base_py, "-I", pyz, "--side", "laptop"], 1, GOAL),
         ("python3 -I selfcheck.pyz --side server  / bare start", [base_py, "-I", pyz, "--side", "server"], 0, 0.0)],
    ]
    print(f"{'process':<60} {'median':>11} {'ratio':>7}   ({args.runs} interleaved runs each)")
    summary = []
    for group in groups:
        values = _medians([argv for _, argv, _, _ in group], args.runs)
        for (label, _, of, goal), value in zip(group, values):
            ratio = value / values[of] if of is not None else 1.0
            goal_text = f"goal <= {goal:.2f}x" if goal else ""
            print(f"{label:<60} {value * 1000:8.1f} ms {ratio:6.2f}x  {goal_text}".rstrip(), flush=True)
            if goal:
                run = label.split("  /")[0]
                summary += [(f"{run} / floor", ratio, goal), (f"{run} / bare start (for scale)", value / values[0], 0.0)]
    for label, ratio, goal in summary:  # collected by bench/run_all.py
        print(f"ratio: start-up, {label}|{ratio:.2f}|{goal:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
