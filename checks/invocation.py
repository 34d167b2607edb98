"""How the student started the checker, so every command it prints can be pasted as it is.

The book gives students the single file (`python3 selfcheck.pyz`); a clone runs `python3 -m
checks`; `pip install .` gives a `selfcheck` command. Help text, "Confirm with" lines and fixes
that re-run the checker use the same form the student just typed.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def python_command(windows: Optional[bool] = None) -> str:
    """The Python launcher a student types: `py` on Windows (python3 is often the Store stub there)."""
    return "py" if (os.name == "nt" if windows is None else windows) else "python3"


def command(argv0: Optional[str] = None, windows: Optional[bool] = None) -> str:
    """The command that runs the checker, as the student started it (the single file by default)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0 or "")
    py = python_command(windows)
    if name.endswith(".pyz"):
        return f"{py} {name if ' ' not in name else repr(name)}"
    if name in ("selfcheck", "selfcheck.exe", "selfcheck-script.py"):
        return "selfcheck"
    if name == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "checks":
        return f"{py} -m checks"
    return f"{py} selfcheck.pyz"  # a notebook or another program: the form the book teaches
