"""The git working tree the student is in."""

from __future__ import annotations

from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def top_level(cwd: Path) -> Optional[Path]:
    """The working tree's top folder: the nearest folder holding `.git`, or None.

    One `git status` says everything else; finding the top this way saves a second process
    (`git rev-parse --show-toplevel`) on every run, and tells "not a repository" from other
    failures whatever language git speaks.
    """
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return None
