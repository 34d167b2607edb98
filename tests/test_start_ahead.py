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


def test_a_run_that_stops_early_leaves_nothing_started(tmp_path: Path) -> None:
    """An expectations file that cannot be used is exit 2 after ssh -V and git config were started
    ahead: they are killed, not left to the exit handler; so is what a run with --only did not need."""
    import io

    from checks.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["--expectations", str(bad), "--side", "laptop"], stdout=out, stderr=err) == 2
    assert process._AHEAD == {}
    assert main(["--only", "env.side", "--side", "laptop"], stdout=out, stderr=err) in (0, 1)
    assert process._AHEAD == {}


def test_a_run_starts_its_programs_ahead(monkeypatch, tmp_path: Path) -> None:
    """The command line's laptop run starts ssh -V, git config and ssh -G ahead (git status too
    when git config has already exited); the checks collect them (the first test shows how, the
    command-line test that nothing runs twice), and nothing is left when the run ends."""
    import io

    import checks.runner
    from checks.cli import main

    started = []

    def recorded(command, **kwargs):
        started.append(tuple(command[1:]))
        process.start_ahead(command, **kwargs)

    monkeypatch.setattr(checks.runner, "start_ahead", recorded)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["--side", "laptop", "--json"], stdout=io.StringIO(), stderr=io.StringIO()) in (0, 1)
    assert ("-V",) in started
    assert any(c[0] == "-G" for c in started)
    assert any("config" in c and r"^filter\." in c for c in started)
    assert process._AHEAD == {}
