"""Programs started ahead (checks/process.py): a command-line run starts `ssh -V`, `git config`
and `ssh -G` while it loads, and the checks collect those processes instead of starting their
own. The same command, environment and folder are collected; anything else starts afresh; the
time bound still holds; whatever no check asks for is killed with its group."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

from checks import process


def _logging(tmp_path: Path) -> tuple:
    """A command that appends a line to a log each time it starts, then prints `hi`."""
    log = tmp_path / "started.log"
    return ["/bin/sh", "-c", f"echo started >> '{log}'; echo hi"], log


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_program_started_ahead_is_collected_not_started_again(tmp_path: Path) -> None:
    command, log = _logging(tmp_path)
    env = {"PATH": os.environ.get("PATH", "")}
    process.start_ahead(command, env=env, cwd=str(tmp_path))
    done = process.run_program(command, ["sh"], timeout=10, env=dict(env), cwd=str(tmp_path))
    assert done.ok and done.stdout == "hi\n" and done.argv == ("sh",)
    assert _starts(log) == 1
    assert process.discard_ahead() == []  # collected: nothing left to discard


def test_another_environment_or_folder_starts_its_own(tmp_path: Path) -> None:
    command, log = _logging(tmp_path)
    env = {"PATH": os.environ.get("PATH", "")}
    process.start_ahead(command, env=env, cwd=str(tmp_path))
    process.run_program(command, command, timeout=10, env={**env, "SHELL": "/nonexistent"}, cwd=str(tmp_path))
    process.run_program(command, command, timeout=10, env=env, cwd=str(ROOT))
    assert _starts(log) == 3
    assert process.discard_ahead() == [tuple(command)]


def test_a_collected_program_keeps_its_time_bound(tmp_path: Path) -> None:
    command = ["/bin/sh", "-c", "sleep 30"]
    process.start_ahead(command, cwd=str(tmp_path))
    done = process.run_program(command, command, timeout=0.2, cwd=str(tmp_path))
    assert done.timed_out and done.returncode is None and done.error == "no answer within 0.2 s"


def test_what_no_check_asks_for_is_killed_with_its_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = ["/bin/sh", "-c", f"sleep 30 & echo $! > '{pids}'; wait"]
    process.start_ahead(command, cwd=str(tmp_path))
    (proc,) = process._AHEAD.values()
    for _ in range(500):  # the shell writes its child's pid at once
        if pids.exists() and pids.read_text().strip():
            break
        time.sleep(0.01)
    child = int(pids.read_text())
    assert process.discard_ahead() == [tuple(command)]
    assert proc.returncode is not None  # reaped
    # The child was killed with the group (SIGKILL arrives at once, the exit a moment later):
    # it is gone, or a zombie waiting for init.
    state = Path(f"/proc/{child}/stat")

    def dead() -> bool:
        try:
            return state.read_text().split(") ", 1)[1].startswith("Z")
        except OSError:
            return True

    for _ in range(1000):
        if dead():
            break
        time.sleep(0.01)
    assert dead()


def test_a_command_line_run_starts_each_program_once(tmp_path: Path) -> None:
    """A laptop run with ssh and git behind logging wrappers: ssh -V, ssh -G and git config each
    start once (started ahead, then collected), and git status once."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "programs.log"
    for name in ("ssh", "git"):
        real = subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True, text=True).stdout.strip()
        assert real, f"{name} is needed for this test"
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\necho "{name} $*" >> \'{log}\'\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home)}
    env.pop("SELFCHECK_MACHINE", None)
    proc = subprocess.run([sys.executable, "-m", "checks", "--side", "laptop", "--json"], cwd=str(ROOT), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    started = log.read_text().splitlines()
    assert sum(line.startswith("ssh -V") for line in started) == 1, started
    assert sum(line.startswith("ssh -G") for line in started) == 1, started
    assert sum(" config -z --name-only" in line for line in started) == 1, started
    assert sum(" status --porcelain=v2" in line for line in started) == 1, started
    assert len(started) == 4, started
