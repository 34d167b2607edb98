"""Everything a check reads comes through a `Context`.

Home directory, `/proc` and `/sys` roots, environment variables, `PATH` and the subprocess
runner, sockets and the clock: tests point a context at fixture trees and real servers, and
no check reads the real machine behind its back.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ._record import Factory, Record
from .expectations import Expectations
from .files import Text, read_optional, read_text
from .platform import Platform
from .process import Completed, find_program, run_program
from .redact import Redactor
from .shell import Invocation, Shell, for_platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

    _T = TypeVar("_T")


class DiskUsage(Record):
    """Bytes on a file system, as `shutil.disk_usage` gives them."""

    total: int
    used: int
    free: int


def disk_usage(path: Path) -> DiskUsage:
    """`shutil.disk_usage`, without importing shutil on POSIX (it is os.statvfs there)."""
    if not hasattr(os, "statvfs"):
        import shutil

        return DiskUsage(*shutil.disk_usage(path))
    st = os.statvfs(path)
    return DiskUsage(st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize,
                     st.f_bavail * st.f_frsize)


class Options(Record, frozen=False):
    """What the student asked for on the command line (or in `checks.run`)."""

    url: Optional[str] = None
    user: Optional[str] = None
    pubkey: Optional[str] = None
    live: bool = False
    fix: bool = False
    timeout: float = 3.0
    verbose: bool = False
    compare: Optional[str] = None


class Context(Record, frozen=False):
    """The one door through which checks see the machine."""

    expectations: Expectations
    side: str = "laptop"
    side_reason: str = ""
    home: Path = Factory(factory=Path.home)
    procfs: Path = Path("/proc")
    sysfs: Path = Path("/sys")
    env: Mapping[str, str] = Factory(factory=lambda: dict(os.environ))
    platform: Platform = Factory(factory=Platform.current)
    options: Options = Factory(factory=Options)
    cwd: Path = Factory(factory=Path.cwd)
    python_path: List[str] = Factory(factory=lambda: list(__import__("sys").path))  # where packages live
    hostname: str = ""
    root: Optional[Path] = None  # a simulated machine's folder: paths under it are shown from "/"
    python_version: str = Factory(factory=lambda: ".".join(map(str, __import__("sys").version_info[:3])))
    disk_usage: Callable[[Path], Any] = None  # type: ignore[assignment]
    net: Any = None  # loopback probes (checks.probes.net); tests may stand in
    clock: Callable[[], float] = time.time
    redactor: Redactor = Factory(factory=Redactor)
    changes: List[str] = Factory(factory=list)  # what --fix did, in order
    invocation: Invocation = Factory(factory=Invocation.current)  # how the checker was started
    _hidden = ("disk_usage", "net")

    def __post_init__(self) -> None:
        self._memo: Dict[Any, Any] = {}
        self._lock = threading.Lock()
        self._key_locks: Dict[Any, threading.Lock] = {}
        if self.disk_usage is None:
            self.disk_usage = disk_usage
        if self.net is None:
            from .probes import net

            self.net = net

    @property
    def shell(self) -> Shell:
        """The student's shell here, which every printed command is written for."""
        return for_platform(self.platform.is_windows, self.home, self.invocation, self.root)

    # -- shared probes ---------------------------------------------------------------------

    def memo(self, key: Any, compute: Callable[[], _T]) -> _T:
        """Compute a probe once per run; several checks read the same `ssh -G`, say.

        Checks run concurrently, so each key has its own lock: the second caller waits for the
        first one's answer instead of running the same subprocess again.
        """
        with self._lock:
            if key in self._memo:
                return self._memo[key]  # type: ignore[no-any-return]  # stored by compute() for this key
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._memo:
                    return self._memo[key]  # type: ignore[no-any-return]  # as above
            value = compute()
            with self._lock:
                self._memo[key] = value
            return value

    # -- programs ----------------------------------------------------------------------------

    @property
    def path_dirs(self) -> List[str]:
        return [p for p in self.env.get("PATH", "").split(os.pathsep) if p]

    def which(self, name: str) -> Optional[str]:
        """The program `name` as found on this context's PATH, or None."""
        return find_program(name, self.env.get("PATH", ""))

    def run(self, argv: Sequence[str], timeout: float = 10.0, input: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None) -> Completed:
        """Run a program with a time bound; never raises for a missing or hung program.

        The program starts in a session (a process group) of its own, and a timeout kills that
        whole group: nothing it started outlives the check. `env` adds to the context's variables.
        """
        argv = tuple(str(a) for a in argv)
        exe = self.which(argv[0]) if os.sep not in argv[0] else argv[0]
        if exe is None:
            return Completed(argv, None, missing=True, error=f"{argv[0]} is not on PATH")
        return run_program((exe,) + argv[1:], argv, timeout=timeout, input=input,
                           env={**self.env, **(env or {})}, cwd=str(self.cwd))

    # -- files -------------------------------------------------------------------------------

    def proc_path(self, *parts: str) -> Path:
        return self.procfs.joinpath(*parts)

    def sys_path(self, *parts: str) -> Path:
        return self.sysfs.joinpath(*parts)

    def read_text(self, path: Path, limit: int = 1 << 20) -> Optional[str]:
        """A small text file's content (its first `limit` bytes), or None when it cannot be read.

        For procfs, sysfs and runtime files: only a regular file is read, never a pipe or a device.
        """
        return read_optional(path, limit)

    def read_file(self, path: Path, limit: int = 1 << 20, what: str = "read here") -> Text:
        """A student's text file, whole, in whichever encoding it was saved; raises FileProblem
        for a file that is missing, not a regular file, unreadable, or larger than `limit`."""
        return read_text(path, limit, what=what)

    def shown(self, path: object) -> str:
        """A path as the student knows it: from "~" under the home, from "/" on a simulated machine."""
        text = str(path)
        for base, label in ((self.home, "~"), (self.root, "")):
            if base is not None:
                prefix = str(base).rstrip("/\\")
                if text == prefix:
                    return label or "/"
                if text.startswith(prefix + "/"):
                    return label + text[len(prefix):]
        return text

    def note_change(self, what: str) -> None:
        """Record something `--fix` changed, so the report says what it did."""
        self.changes.append(what)

    # -- secrets -----------------------------------------------------------------------------

    def secret(self, value: Optional[str]) -> None:
        """Register a value (a Jupyter token) that must never appear in any output."""
        self.redactor.add(value)
