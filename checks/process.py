"""Running a program for a check: bounded in time, in a process group of its own, never raising.

A check asks a program (ssh, git, nvidia-smi) a question; it must not leave anything behind. The
program starts in a new session (POSIX) or process group (Windows), and a timeout kills the
whole group, so a child it started (a `sleep` from a config file, say) dies with it.
"""

from __future__ import annotations

import os
import subprocess

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Sequence, Tuple

GRACE = 2.0  # seconds to collect what a killed group had written


class Completed(Record):
    """The outcome of a subprocess run through the context."""

    argv: Tuple[str, ...]
    returncode: Optional[int]  # None when it could not run or timed out
    stdout: str = ""
    stderr: str = ""
    missing: bool = False  # the program is not installed (or not on PATH)
    timed_out: bool = False
    error: str = ""  # why it could not start, when it could not

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout or "") + (self.stderr or "")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else ""


def kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill a program and everything in its process group (its session, on POSIX)."""
    if os.name == "nt":
        try:  # /T: the whole tree the program started; /F: console programs ignore a polite request
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, timeout=GRACE * 2)
        except (OSError, subprocess.SubprocessError):
            pass
    else:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:  # the group is already gone
            pass
    try:
        proc.kill()
    except OSError:
        pass


def _reap(proc: subprocess.Popen[str]) -> None:
    try:
        proc.wait(GRACE)
    except subprocess.TimeoutExpired:  # unkillable (stuck in the kernel): leave it, never hang
        pass


def run_program(command: Sequence[str], shown: Sequence[str], *, timeout: float, input: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Completed:
    """Run `command` (`shown` is how the result names it); a timeout kills its whole group."""
    argv = tuple(shown)
    group = ({"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)} if os.name == "nt"
             else {"start_new_session": True})
    try:
        proc = subprocess.Popen(
            list(command), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            env=dict(env) if env is not None else None, cwd=cwd, **group)
    except FileNotFoundError:
        return Completed(argv, None, missing=True, error=f"{argv[0]} is not installed")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in an argument or the environment
        return Completed(argv, None, error=f"{argv[0]} could not start: {getattr(exc, 'strerror', None) or exc}")
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        try:  # what it wrote before it was killed; a grandchild that left the group may hold the pipes
            out, err = proc.communicate(timeout=GRACE)
        except subprocess.TimeoutExpired:
            out, err = "", ""
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            _reap(proc)
        return Completed(argv, None, _text(out), _text(err), timed_out=True, error=f"no answer within {timeout:g} s")
    except BaseException:
        kill_group(proc)
        _reap(proc)
        raise
    return Completed(argv, proc.returncode, _text(out), _text(err))
