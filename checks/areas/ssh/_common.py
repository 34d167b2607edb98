"""What the `ssh` checks share: where the lesson explains them, how paths are shown, and the one
way `--fix` changes a file."""

from __future__ import annotations

from pathlib import Path

from ...context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

DOCS = "lessons/ssh-keys.html"


def home_rel(ctx: Context, path: Path) -> str:
    """A path as the student would read it: ~/.ssh/id_ed25519."""
    return ctx.shown(path)


def tighten(ctx: Context, path: Path, mode: int) -> None:
    """With --fix, chmod to a stricter mode and record it. Never touches content."""
    if not ctx.options.fix or ctx.platform.is_windows:
        return
    before = ctx.platform.stat(path).mode
    if before & ~mode & 0o777 == 0:
        return
    ctx.platform.chmod(path, before & mode)
    ctx.note_change(f"chmod {before & mode:04o} {path} (was {before:04o})")


def lines_said(lines: Sequence[str]) -> str:
    """Config lines as the fix text shows them beside the command that writes them."""
    quoted = [f'"{line.strip()}"' for line in lines]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else quoted[0]
