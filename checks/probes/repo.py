"""The git working tree the student is in, and how to ask git about it without running anything
the repository says.

A repository's config can name programs that `git status` runs: `core.fsmonitor`, the clean
and process filters of `filter.<driver>` (for files marked in .gitattributes), and hooks such as
post-index-change when the index is rewritten. Every git command here switches them off on its
command line (`-c`), takes no optional locks (so `.git/index` is never rewritten), and leaves
submodules alone (each has a config of its own).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

NO_HOOKS = "/dev/null"  # a hooks folder that holds no hook, on every system git runs on

SAFE_GIT = ("--no-optional-locks", "-c", "core.fsmonitor=false", "-c", "core.useBuiltinFSMonitor=false",
            "-c", f"core.hooksPath={NO_HOOKS}")

FILTERS_QUERY = ("git", *SAFE_GIT, "config", "-z", "--name-only", "--get-regexp", r"^filter\.")


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


def filter_drivers(ctx: Context) -> Optional[List[str]]:
    """The names of the filter drivers the repository's config defines ([], or None when one has
    a name that cannot be written on a command line). `git config` itself runs nothing."""

    def compute() -> Optional[List[str]]:
        proc = ctx.run(FILTERS_QUERY, timeout=10)
        names = []
        for key in proc.stdout.split("\0") if proc.returncode == 0 else []:
            match = re.fullmatch(r"filter\.(.+)\.[^.]+", key.strip())
            if match:
                names.append(match.group(1))
        if any("=" in name or "\n" in name for name in names):
            return None
        return sorted(set(names))

    return ctx.memo("git.filters", compute)


STATUS_ARGS = ("status", "--porcelain=v2", "--branch", "--untracked-files=no", "--ignore-submodules=all")


def safe_git(args: List[str], filters: List[str]) -> List[str]:
    """A git command line that runs no fsmonitor, hook or filter program and writes nothing."""
    off: List[str] = []
    for name in filters:
        for key in ("clean", "smudge", "process"):
            off += ["-c", f"filter.{name}.{key}="]
        off += ["-c", f"filter.{name}.required=false"]
    return ["git", *SAFE_GIT, *off, *args]
