"""What the `ssh` checks share: where the lesson explains them, how paths are shown and quoted,
and the one way `--fix` changes a file."""

from __future__ import annotations

from pathlib import Path

from ...context import Context
from ...platform import FixRefused

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

DOCS = "lessons/ssh-keys.html"


def home_rel(ctx: Context, path: Path) -> str:
    """A path as the student would type it: ~/.ssh/id_ed25519."""
    return ctx.shown(path)


def shell_path(ctx: Context, path: Path) -> str:
    """A path as a command argument for the student's shell."""
    text = home_rel(ctx, path) if not ctx.platform.is_windows else str(path)
    return f'"{text}"' if " " in text else text


def tighten(ctx: Context, path: Path, mode: int) -> str:
    """With --fix, take away the permission bits `mode` does not allow, and record it. Never
    touches content, never follows a link, never leaves ~ and ~/.ssh (see Platform.tighten).
    Returns a line for the result's details ("" when there is nothing to say)."""
    if not ctx.options.fix or ctx.platform.is_windows:
        return ""
    try:
        before, after = ctx.platform.tighten(ctx.home, path, mode)
    except FixRefused as exc:
        return f"--fix did not change {home_rel(ctx, path)}: {exc.reason}"
    if before == after:
        return ""
    ctx.note_change(f"chmod {after:04o} {path} (was {before:04o})")
    return f"--fix changed {home_rel(ctx, path)} to mode {after:04o} (it was {before:04o})"


def icacls_fix(ctx: Context, path: Path, principals: List[str]) -> List[str]:
    p = f'"{path}"'
    commands = [f"icacls {p} /inheritance:r", f'icacls {p} /grant:r "%USERNAME%:F"']
    commands += [f'icacls {p} /remove:g "{who}"' for who in principals]
    return commands
