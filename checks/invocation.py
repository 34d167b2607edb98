"""How the student started the checker, so every command it prints can be pasted as it is.

The book gives students the single file (`python3 selfcheck.pyz`); a clone runs `python3 -m
checks`; `pip install .` gives a `selfcheck` command. Help text, "Confirm with" lines and fixes
that re-run the checker use the same form the student just typed. The rules live in
`checks.shell` (`Invocation`, and each shell's `python` and `selfcheck`), which the checks use too.
"""

from __future__ import annotations

import os
from pathlib import Path

from .shell import Invocation, for_platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def python_command(windows: Optional[bool] = None) -> str:
    """The Python launcher a student types: `py` on Windows (python3 is often the Store stub there)."""
    return for_platform(os.name == "nt" if windows is None else windows, Path("."), Invocation.current()).python


def command(argv0: Optional[str] = None, windows: Optional[bool] = None) -> str:
    """The command that runs the checker, as the student started it (the single file by default)."""
    import sys

    invocation = Invocation.current() if argv0 is None else Invocation.of(argv0, sys.executable or "")
    return for_platform(os.name == "nt" if windows is None else windows, Path("."), invocation).selfcheck()
