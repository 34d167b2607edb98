"""Running a program for a check: bounded in time, in a process group of its own, never raising.

A check asks a program (ssh, git, nvidia-smi) a question; it must not leave anything behind. The
program starts in a new session (POSIX) or process group (Windows), and a timeout kills the
whole group, so a child it started (a `sleep` from a config file, say) dies with it.

A command-line run knows early which programs its checks will ask (`ssh -V`, `git config`):
`start_ahead` starts one then, exactly as the check would (the same command line, environment
and folder), and the check's `run_program` collects that process instead of starting another;
its time bound still counts from when the check asks. What no check asks for is killed, with
its group, by `discard_ahead` (runner.run calls it; so does an exit handler).
"""

from __future__ import annotations

import os
import subprocess

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

    _Key = Tuple[Tuple[str, ...], Optional[Tuple[Tuple[str, str], ...]], Optional[str]]

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


def find_program(name: str, path: str) -> Optional[str]:
    """shutil.which's POSIX rule over the folders of a PATH value, without importing shutil (and
    bz2 and lzma with it); Windows' rules (PATHEXT, the current folder) are shutil's."""
    folders = [p for p in path.split(os.pathsep) if p]
    if os.name == "nt":
        import shutil

        return shutil.which(name, path=os.pathsep.join(folders))
    for folder in dict.fromkeys(folders):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def _key(command: Sequence[str], env: Optional[Mapping[str, str]], cwd: Optional[str]) -> _Key:
    return tuple(command), (tuple(sorted(env.items())) if env is not None else None), cwd


_AHEAD: Dict[_Key, subprocess.Popen[str]] = {}  # started by start_ahead, not yet asked for
_AT_EXIT = False  # discard_ahead is registered to run at exit


def _start(command: Sequence[str], shown: Tuple[str, ...], input: Optional[str], env: Optional[Mapping[str, str]],
           cwd: Optional[str]) -> Union[subprocess.Popen[str], Completed]:
    """The started program, or a Completed that says why it could not start."""
    group = ({"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)} if os.name == "nt"
             else {"start_new_session": True})
    try:
        return subprocess.Popen(
            list(command), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            env=dict(env) if env is not None else None, cwd=cwd, **group)
    except FileNotFoundError:
        return Completed(shown, None, missing=True, error=f"{shown[0]} is not installed")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in an argument or the environment
        return Completed(shown, None, error=f"{shown[0]} could not start: {getattr(exc, 'strerror', None) or exc}")


def start_ahead(command: Sequence[str], *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> None:
    """Start `command` now for a check that will run exactly it later (see the module's note).
    One that cannot start is left for the check to start, and say why."""
    key = _key(command, env, cwd)
    if key in _AHEAD:
        return
    proc = _start(command, tuple(command), None, env, cwd)
    if isinstance(proc, Completed):
        return
    global _AT_EXIT
    if not _AT_EXIT:  # once per process
        import atexit

        atexit.register(discard_ahead)
        _AT_EXIT = True
    _AHEAD[key] = proc


def finished_ahead(command: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
                   cwd: Optional[str] = None) -> bool:
    """Was `command` started ahead, and has it exited (so collecting it will not wait)?"""
    proc = _AHEAD.get(_key(command, env, cwd))
    return proc is not None and proc.poll() is not None


def discard_ahead() -> List[Tuple[str, ...]]:
    """Kill (with its group) and reap every program started ahead that no check asked for; their
    command lines."""
    discarded = []
    while _AHEAD:
        key, proc = _AHEAD.popitem()
        discarded.append(key[0])
        if proc.poll() is None:
            kill_group(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        _reap(proc)
    return discarded


def run_program(command: Sequence[str], shown: Sequence[str], *, timeout: float, input: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Completed:
    """Run `command` (`shown` is how the result names it); a timeout kills its whole group."""
    argv = tuple(shown)
    ahead = _AHEAD.pop(_key(command, env, cwd), None) if input is None and _AHEAD else None
    proc = ahead or _start(command, argv, input, env, cwd)
    if isinstance(proc, Completed):
        return proc
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
