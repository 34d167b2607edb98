"""What the `ssh` checks share: where the lesson explains them, how paths are shown, and the one
way `--fix` changes a file."""

from __future__ import annotations

from pathlib import Path

from ...context import Context
from ...platform import FixRefused

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

DOCS = "lessons/ssh-keys.html"


def home_rel(ctx: Context, path: Path) -> str:
    """A path as the student would read it: ~/.ssh/id_ed25519."""
    return ctx.shown(path)


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


def lines_said(lines: Sequence[str]) -> str:
    """Config lines as the fix text shows them beside the command that writes them."""
    quoted = [f'"{line.strip()}"' for line in lines]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else quoted[0]
