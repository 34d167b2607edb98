"""Commands for the student's shell: the one place that knows bash/zsh from PowerShell.

A fix's `commands` are pasted as they are into the shell where the student runs the checker:
bash or zsh on macOS and Linux (`Posix`), Windows PowerShell 5.1 on Windows (`PowerShell`; the
same commands work in PowerShell 7). Checks never spell a shell's syntax themselves: they ask
`ctx.shell` for "make this file private", "append these lines", "stop that process", and get a
command that is right for that shell:

- paths under the home are written from the home, which the shell itself expands (`~/.ssh/x` in
  bash and zsh, `"$HOME\\.ssh\\x"` in PowerShell); `~` is never inside quotes, and never given to
  a Windows program, which would not expand it;
- arguments with spaces or special characters are quoted the shell's way;
- no bash-only syntax reaches PowerShell 5.1 (`&&`, `||`, `2>/dev/null`, `> file`, which would
  write UTF-16 there, `grep`, `%VAR%`);
- the checker is started again the way it was started this time (`py selfcheck.pyz`,
  `python3 -m checks`, ...).
"""

from __future__ import annotations

import re
from pathlib import Path

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, List, Optional, Sequence

# Files the book tells students to download, and the name the single file has there.
SINGLE_FILE = "selfcheck.pyz"


class Invocation(Record):
    """How the checker was started, so that printed commands start it the same way.

    kind: "pyz" (the single file), "module" (`python -m checks` from a clone), "script" (the
    installed `selfcheck` command), or "other" (a notebook, a test: the book's form is used).
    """

    kind: str = "other"
    program: str = ""  # the single file as the student typed it (sys.argv[0])
    store_python: bool = False  # Windows: the Microsoft Store's Python, which has no `py` launcher

    @classmethod
    def current(cls) -> "Invocation":
        """This process's invocation, read from sys.argv[0] and sys.executable."""
        import sys

        argv0 = sys.argv[0] if sys.argv and isinstance(sys.argv[0], str) else ""
        return cls.of(argv0, sys.executable or "")

    @classmethod
    def of(cls, argv0: str, executable: str = "") -> "Invocation":
        """The invocation that a program name (sys.argv[0]) and an interpreter path say."""
        import os

        store = "windowsapps" in executable.lower()
        base = os.path.basename(argv0).lower()
        if base.endswith(".pyz"):
            return cls("pyz", argv0, store)
        if base == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "checks":
            return cls("module", "", store)
        if base in ("selfcheck", "selfcheck.exe", "selfcheck-script.py"):
            return cls("script", "", store)
        return cls("other", "", store)


class Shell:
    """bash and zsh (POSIX sh syntax): the shell on macOS and Linux, and on the cluster."""

    name = "sh"
    label = "your terminal"

    def __init__(self, home: Path, invocation: Optional[Invocation] = None, root: Optional[Path] = None) -> None:
        self.home = Path(home)
        self.invocation = invocation or Invocation()
        self.root = root  # a simulated machine's folder: paths under it are shown from "/"

    # -- words and paths -------------------------------------------------------------------

    def quote(self, text: str, always: bool = False) -> str:
        """One argument, quoted only when it must be (single quotes: nothing inside expands)."""
        if not always and text and re.fullmatch(r"[A-Za-z0-9@%+=:,./_^-]+", text):
            return text
        return "'" + text.replace("'", "'\\''") + "'"

    def _relative(self, path: Path) -> Optional[str]:
        """The path below the home ("" for the home itself), or None when it is elsewhere."""
        import os

        for home in (self.home, Path(os.path.realpath(self.home))):
            try:
                rel = Path(path).relative_to(home)
            except ValueError:
                continue
            return rel.as_posix() if rel.parts else ""
        return None

    def _outside(self, path: Path) -> str:
        text = str(path)
        if self.root is not None:
            prefix = str(self.root).rstrip("/\\")
            if text.startswith(prefix + "/"):
                text = text[len(prefix):]
        return text

    def path(self, path: Path) -> str:
        """A path as an argument: `~/.ssh/id_ed25519`, `~/'.ssh/my key'`, or quoted when elsewhere."""
        rel = self._relative(path)
        if rel is None:
            return self.quote(self._outside(path))
        if rel == "":
            return "~"
        return "~/" + self.quote(rel)

    def config_path(self, path: Path) -> str:
        """A path as ssh's config takes it (ssh expands `~` itself); quoted when it has spaces."""
        rel = self._relative(path)
        text = ("~/" + rel if rel else "~") if rel is not None else self._outside(path).replace("\\", "/")
        return f'"{text}"' if " " in text else text

    # -- the checker and Python --------------------------------------------------------------

    @property
    def python(self) -> str:
        """The Python command a student types here."""
        return "python3"

    def selfcheck(self, *args: str) -> str:
        """The command that runs the checker again, the way it was started, with these arguments."""
        inv = self.invocation
        if inv.kind == "pyz":
            start = f"{self.python} {self.quote(inv.program)}"
        elif inv.kind == "module":
            start = f"{self.python} -m checks"
        elif inv.kind == "script":
            start = "selfcheck"
        else:
            start = f"{self.python} {SINGLE_FILE}"
        return " ".join([start, *args])

    def pip_install(self, requirements: Iterable[str]) -> str:
        return f"{self.python} -m pip install " + " ".join(self.quote(r, always=True) for r in requirements)

    def rewrite_bytes(self, path: Path, expression: str) -> str:
        """A Python one-liner that rewrites a file's bytes `d` as `expression` (in place, so the
        file keeps its permissions). The path is an argument, so the shell expands it."""
        code = f"import sys; p=sys.argv[1]; d=open(p,'rb').read(); open(p,'wb').write({expression})"
        return f'{self.python} -c "{code}" {self.path(path)}'

    # -- files ---------------------------------------------------------------------------------

    def chmod(self, mode: str, paths: Sequence[Path]) -> str:
        return f"chmod {mode} " + " ".join(self.path(p) for p in paths)

    def private(self, path: Path, remove: Sequence[str] = ()) -> List[str]:
        """Make a file readable and writable only by its owner (the student)."""
        return [self.chmod("600", [path])]

    def append_lines(self, path: Path, lines: Sequence[str]) -> str:
        """Append lines to a text file (after an empty line, in case the file lacks its last newline)."""
        return "printf '%s\\n' " + " ".join(self.quote(x) for x in ("", *lines)) + f" >> {self.path(path)}"

    def prepend_lines(self, path: Path, lines: Sequence[str]) -> List[str]:
        """Put lines at the top of a text file, keeping the rest (and the file's permissions)."""
        target = self.path(path)
        new = self.path(Path(str(path) + ".new"))
        return ["printf '%s\\n' " + " ".join(self.quote(x) for x in lines) + f" | cat - {target} > {new}",
                f"cat {new} > {target}", f"rm {new}"]

    def add_final_newline(self, path: Path) -> str:
        return f"echo >> {self.path(path)}"

    def take_ownership(self, path: Path) -> str:
        return f"sudo chown $(id -u) {self.path(path)}"

    def write_public_half(self, key: Path, pub: Path) -> str:
        return f"ssh-keygen -y -f {self.path(key)} > {self.path(pub)}"

    def move(self, source: Path, target: Path) -> str:
        return f"mv {self.path(source)} {self.path(target)}"

    def make_private_dir(self, path: Path) -> str:
        return f"mkdir -m 700 {self.path(path)}"

    def edit(self, path: Path) -> str:
        return f"nano {self.path(path)}"

    # -- processes, programs, the environment ----------------------------------------------------

    def stop_process(self, pid: int) -> str:
        return f"kill {int(pid)}"

    def unset(self, variable: str) -> str:
        return f"unset {variable}"

    def prepend_path(self, folder: str) -> str:
        return f'export PATH="{folder}:$PATH"'

    def largest_folders(self) -> str:
        """What is largest in the home: one level deep, biggest last (no glob: zsh stops on one
        that matches nothing)."""
        return "du -h -d 1 ~ 2>/dev/null | sort -h | tail"

    def port_owner(self, port: int) -> str:
        return f"lsof -nP -iTCP:{int(port)} -sTCP:LISTEN"

    def ssh_offers(self, target: str) -> str:
        """ssh's own account of which keys it offers and what the server answers."""
        return f"ssh -v {target} true 2>&1 | grep -E 'Offering|Authenticated|denied'"

    def install_public_key(self, pub: Path, target: str) -> str:
        """Append a public key to authorized_keys on the login host (asks the password once)."""
        return f"ssh-copy-id -i {self.path(pub)} {target}"


class PowerShell(Shell):
    """Windows PowerShell 5.1 (what Windows 10 and 11 open), whose commands also run in PowerShell 7."""

    name = "powershell"
    label = "PowerShell"

    def quote(self, text: str, always: bool = False) -> str:
        """Single quotes: nothing inside expands; a quote is doubled."""
        if not always and text and re.fullmatch(r"[A-Za-z0-9@%+=:./_^-]+", text) and not text.startswith(("-", "@")):
            return text
        return "'" + text.replace("'", "''") + "'"

    def path(self, path: Path) -> str:
        """`"$HOME\\.ssh\\id_ed25519"`: PowerShell expands $HOME inside double quotes, for every program."""
        rel = self._relative(path)
        if rel is None:
            return self.quote(self._outside(path).replace("/", "\\") if self.root is not None else str(path))
        inner = "$HOME" + "".join("\\" + part for part in rel.split("/") if part)
        inner = inner[:5] + re.sub(r'([`"$])', r"`\1", inner[5:])  # PowerShell's escape is the backtick
        return f'"{inner}"'

    @property
    def python(self) -> str:
        # `python3` on Windows is often the Store's stub that opens the Store; `py` is the launcher
        # python.org's installer adds. The Store's Python has no launcher, but does have `python`.
        return "python" if self.invocation.store_python else "py"

    def private(self, path: Path, remove: Sequence[str] = ()) -> List[str]:
        """One icacls command: drop inherited entries, give the student full control, and remove
        the explicit entries of the accounts given (as `*SID`, which icacls reads in any language).
        The user is named from the environment by PowerShell itself ($env:, not cmd's %VAR%)."""
        drop = "".join(f' /remove:g "*{sid}"' for sid in remove)
        return [f'icacls {self.path(path)} /inheritance:r /grant:r "$($env:USERDOMAIN)\\$($env:USERNAME):F"{drop}']

    def take_ownership(self, path: Path) -> str:
        return f'icacls {self.path(path)} /setowner "$($env:USERDOMAIN)\\$($env:USERNAME)"'

    def chmod(self, mode: str, paths: Sequence[Path]) -> str:
        raise ValueError("Windows has no mode bits: use private()")

    def append_lines(self, path: Path, lines: Sequence[str]) -> str:
        # ASCII, unlike Add-Content's ANSI default or its UTF-8 with a byte-order mark, which ssh
        # would read as part of the first keyword.
        values = ",".join(self.quote(x) if x else "''" for x in ("", *lines))
        return f"Add-Content -Path {self.path(path)} -Encoding ascii -Value {values}"

    def prepend_lines(self, path: Path, lines: Sequence[str]) -> List[str]:
        values = ",".join(self.quote(x) if x else "''" for x in lines)
        target = self.path(path)
        # Set-Content rewrites the file in place, so it keeps its access list.
        return [f"$rest = Get-Content -Path {target}",
                f"Set-Content -Path {target} -Encoding ascii -Value (@({values}) + $rest)"]

    def add_final_newline(self, path: Path) -> str:
        return self.rewrite_bytes(path, "d + b'\\n'")

    def write_public_half(self, key: Path, pub: Path) -> str:
        # `> file` in PowerShell 5.1 writes UTF-16, which ssh cannot read: write ASCII instead.
        return f"ssh-keygen -y -f {self.path(key)} | Out-File -Encoding ascii -FilePath {self.path(pub)}"

    def move(self, source: Path, target: Path) -> str:
        return f"Move-Item -Path {self.path(source)} -Destination {self.path(target)}"

    def make_private_dir(self, path: Path) -> str:
        return f"New-Item -ItemType Directory -Path {self.path(path)}"

    def edit(self, path: Path) -> str:
        return f"notepad {self.path(path)}"

    def stop_process(self, pid: int) -> str:
        return f"Stop-Process -Id {int(pid)} -Force"

    def unset(self, variable: str) -> str:
        return f"Remove-Item Env:{variable}"

    def prepend_path(self, folder: str) -> str:
        return f'$env:PATH = "{folder};$env:PATH"'

    def largest_folders(self) -> str:
        return ("Get-ChildItem -Path $HOME -Directory -Force | ForEach-Object { [pscustomobject]@{ GB = "
                "[math]::Round((Get-ChildItem -LiteralPath $_.FullName -Recurse -File -Force -ErrorAction "
                "SilentlyContinue | Measure-Object -Property Length -Sum).Sum / 1GB, 2); Folder = $_.Name } } | "
                "Sort-Object -Property GB | Select-Object -Last 10")

    def port_owner(self, port: int) -> str:
        return (f"Get-NetTCPConnection -LocalPort {int(port)} -State Listen | "
                "Select-Object -Property LocalAddress, LocalPort, OwningProcess")

    def ssh_offers(self, target: str) -> str:
        return f"ssh -v {target} true 2>&1 | Select-String -Pattern 'Offering|Authenticated|denied'"

    def install_public_key(self, pub: Path, target: str) -> str:
        # Windows has no ssh-copy-id. PowerShell ends each piped line with CR LF: the login node's
        # tr drops the CR, so authorized_keys gets a clean line.
        remote = ("umask 077; mkdir -p ~/.ssh && tr -d '\\r' >> ~/.ssh/authorized_keys")
        return f'Get-Content -Path {self.path(pub)} | ssh {target} "{remote}"'


def for_platform(windows: bool, home: Path, invocation: Optional[Invocation] = None,
                 root: Optional[Path] = None) -> Shell:
    """The student's shell where the checker runs: PowerShell on Windows, bash/zsh elsewhere."""
    return (PowerShell if windows else Shell)(home, invocation, root)
