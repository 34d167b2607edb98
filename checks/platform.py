"""The platform layer: the one place that knows which operating system this is.

Checks never read `sys.platform` or call `os.stat` for permissions themselves; they ask the
context's `Platform`. Windows-only code lives inside methods, so this module imports on every
system, and tests drive the Windows logic on Linux through a fake platform (tests/fakes.py).
"""

from __future__ import annotations

import os
import stat as _stat
import subprocess
import sys
from pathlib import Path

from ._record import Record
from .probes.acl import Acl, AclError, parse_sddl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

LINUX, MACOS, WINDOWS = "linux", "macos", "windows"


class FileInfo(Record):
    """What the permission checks need to know about one path."""

    path: Path
    exists: bool
    mode: int = 0  # permission bits only (st_mode & 0o7777)
    uid: int = -1
    is_file: bool = False
    is_dir: bool = False
    is_link: bool = False
    gid: int = -1


class FixRefused(Exception):
    """--fix did not change a path; `reason` says why (for the report, not a crash)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parts_below(home: Path, target: Path) -> Optional[Tuple[str, ...]]:
    """The names leading from the home to `target` (either as given or with links resolved), or
    None when the target is not below the home."""
    for base in (str(home), os.path.realpath(home)):
        base = base.rstrip("/\\") or "/"
        text = str(target)
        if text == base:
            return ()
        prefix = base if base.endswith(("/", "\\")) else base + os.sep
        if text.startswith(prefix):
            parts = tuple(text[len(prefix):].replace("\\", "/").split("/"))
            if all(p and p not in (".", "..") for p in parts):
                return parts
    return None


class Platform:
    """The real machine's platform, chosen once."""

    name: str = LINUX

    def __init__(self, name: Optional[str] = None, uid: Optional[int] = None) -> None:
        if name is None:
            if sys.platform.startswith("win"):
                name = WINDOWS
            elif sys.platform == "darwin":
                name = MACOS
            else:
                name = LINUX
        self.name = name
        self._uid = uid  # tests check another user's files as that user
        self._user_sid: Optional[str] = None

    @classmethod
    def current(cls) -> "Platform":
        return cls()

    @property
    def is_windows(self) -> bool:
        return self.name == WINDOWS

    @property
    def posix_modes(self) -> bool:
        """Whether mode bits mean what OpenSSH thinks they mean here."""
        return not self.is_windows

    def uid(self) -> int:
        if self._uid is not None:
            return self._uid
        getuid = getattr(os, "getuid", None)
        return getuid() if getuid else -1

    def group_is_private(self, gid: int, uid: int) -> bool:
        """Whether a group is the user's own: their primary group, named after them, no other members.

        Debian and Ubuntu's sshd accept group-writable files in such a group (their
        "user-group-modes" patch); upstream OpenSSH does not.
        """
        try:
            import grp
            import pwd

            user = pwd.getpwuid(uid)
            group = grp.getgrgid(gid)
        except (ImportError, KeyError):
            return False
        others = [m for m in group.gr_mem if m != user.pw_name]
        return user.pw_gid == gid and group.gr_name == user.pw_name and not others

    def user_name(self) -> str:
        import getpass

        try:
            return getpass.getuser()
        except Exception:
            return ""

    def stat(self, path: Path, follow: bool = True) -> FileInfo:
        try:
            st = os.stat(path) if follow else os.lstat(path)
        except OSError:
            return FileInfo(Path(path), False)
        try:
            is_link = _stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            is_link = False
        return FileInfo(Path(path), True, _stat.S_IMODE(st.st_mode), getattr(st, "st_uid", -1),
                        _stat.S_ISREG(st.st_mode), _stat.S_ISDIR(st.st_mode), is_link,
                        getattr(st, "st_gid", -1))

    def chmod(self, path: Path, mode: int) -> None:
        os.chmod(path, mode)

    def tighten(self, home: Path, target: Path, mask: int) -> Tuple[int, int]:
        """Remove the permission bits `mask` does not allow from the home, ~/.ssh or a file in
        it, and return (mode before, mode after); raises FixRefused with the reason otherwise.

        Only those paths, only the user's own regular files and folders, and never through a
        symbolic link: each step below the home is opened relative to the one above with
        O_NOFOLLOW, and the mode is set on what was opened (fchmod), so a path swapped for a link
        in between is not followed either. The mode only ever loses bits.
        """
        parts = _parts_below(home, target)
        if parts is None or len(parts) > 2 or (parts and parts[0] != ".ssh"):
            raise FixRefused("--fix changes only your home folder, ~/.ssh and the files in it")
        if not hasattr(os, "O_NOFOLLOW") or os.open not in os.supports_dir_fd:
            raise FixRefused("this system cannot open a file without following links")
        fds: List[int] = []
        try:
            fds.append(os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            for part in parts:
                st = os.stat(part, dir_fd=fds[-1], follow_symlinks=False)
                if _stat.S_ISLNK(st.st_mode):
                    raise FixRefused("it is a symbolic link, and --fix never changes anything through one")
                if not (_stat.S_ISREG(st.st_mode) or _stat.S_ISDIR(st.st_mode)):
                    raise FixRefused("it is not a regular file or folder")
                fds.append(os.open(part, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
                                   dir_fd=fds[-1]))
            st = os.fstat(fds[-1])
            if not (_stat.S_ISREG(st.st_mode) or _stat.S_ISDIR(st.st_mode)):
                raise FixRefused("it is not a regular file or folder")
            if st.st_uid != self.uid():
                raise FixRefused(f"it belongs to user id {st.st_uid}, not to you")
            before = _stat.S_IMODE(st.st_mode)
            after = before & mask & 0o777
            if after != before:
                os.fchmod(fds[-1], after)
            return before, after
        except FixRefused:
            raise
        except OSError as exc:
            import errno

            if exc.errno == errno.ELOOP:
                raise FixRefused("it is a symbolic link, and --fix never changes anything through one") from None
            if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
                raise FixRefused(f"not allowed ({exc.strerror})") from None
            raise FixRefused(f"it could not be changed ({exc.strerror or exc})") from None
        finally:
            for fd in fds:
                os.close(fd)

    # -- Windows ---------------------------------------------------------------------------

    def acl(self, path: Path) -> Optional[Acl]:
        """A file's owner and access list, by SID (Windows only); None when they cannot be read."""
        sid, sddl = self._powershell_acl(path)
        if sid and self._user_sid is None:
            self._user_sid = sid
        return parse_sddl(sddl) if sddl else None

    def user_sid(self) -> str:
        """The SID of the account running the checker (Windows only)."""
        if self._user_sid is None:
            sid, _ = self._powershell_acl(None)
            self._user_sid = sid
        return self._user_sid or ""

    def _powershell_acl(self, path: Optional[Path]) -> Tuple[str, str]:
        """(the user's SID, the file's SDDL) from one PowerShell run. The path travels in an
        environment variable, never inside the command text."""
        script = "[Security.Principal.WindowsIdentity]::GetCurrent().User.Value"
        if path is not None:
            script += "; (Get-Acl -LiteralPath $env:SELFCHECK_ACL_PATH).Sddl"
        env = dict(os.environ, SELFCHECK_ACL_PATH=str(path or ""))
        try:
            proc = subprocess.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script],
                                  capture_output=True, text=True, timeout=15, errors="replace", env=env,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return "", ""
        lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
        sid = lines[0] if lines and lines[0].startswith("S-1-") else ""
        sddl = next((line for line in lines[1:] if line.startswith(("O:", "G:", "D:"))), "")
        return sid, sddl


__all__ = ["Platform", "FileInfo", "Acl", "AclError", "LINUX", "MACOS", "WINDOWS"]
