"""Keeping the code in sync: committed, and neither ahead of nor behind its upstream."""

from __future__ import annotations

import re

from ..context import Context
from ..model import Fix, Verdict, passed, skipped, warned
from ..probes.repo import STATUS_ARGS, filter_drivers, safe_git, top_level
from ..registry import check

COMMIT_PUSH = "Commit your changes and push them"
PUSH = "Push your commits"
PULL = "Pull the new commits"


@check("git.sync", title="Code in sync with its repository", docs="lessons/remote-development.html#guidelines",
       fixes=(COMMIT_PUSH, PUSH, PULL))
def sync(ctx: Context) -> Verdict:
    """Is your work committed, and neither ahead of nor behind its upstream (as of your last fetch)?

    The lesson's first guideline: the code on your computer and on the server should be the
    same, through frequent commits, pushes and pulls.
    """
    top = top_level(ctx.cwd)
    filters = filter_drivers(ctx) if top is not None else []
    if filters is None:
        return skipped("the repository's config names a filter that cannot be switched off safely, so git status "
                       "is not run (the checker never runs commands from your files)")
    status = ctx.run(safe_git(list(STATUS_ARGS), filters), timeout=10)
    if status.missing:
        return skipped("git is not installed here")
    if not status.ok:
        if top is None:
            return skipped(f"{ctx.shown(ctx.cwd)} is not inside a git repository")
        return skipped(f"git status failed: {(status.stderr or status.error).strip()}")
    shown = ctx.shown(top or ctx.cwd)
    changed = [ln for ln in status.stdout.splitlines() if ln[:1] in ("1", "2", "u")]
    ab = re.search(r"^# branch\.ab \+(\d+) -(\d+)", status.stdout, re.M)
    head = re.search(r"^# branch\.head (\S+)", status.stdout, re.M)
    branch = head.group(1) if head else "?"
    ahead, behind = (int(ab.group(1)), int(ab.group(2))) if ab else (0, 0)
    observed = {"repository": shown, "branch": branch, "changed": len(changed), "ahead": ahead, "behind": behind}
    if changed:
        return warned(f"{len(changed)} file(s) changed but not committed in {top}: the other side cannot see them",
                      Fix.under(COMMIT_PUSH, ":", ["git add -A", 'git commit -m "Work in progress"', "git push"]),
                      observed=observed)
    if ab is None:
        return warned(f"branch {branch} has no upstream: it is not pushed anywhere the other side can pull from",
                      Fix.under(PUSH, " (and set the upstream):", [f"git push -u origin {ctx.shell.quote(branch)}"]),
                      observed=observed)
    if ahead and behind:
        return warned(f"branch {branch} is {ahead} commit(s) ahead of and {behind} behind its upstream",
                      Fix.under(PULL, ", then push yours:", ["git pull --rebase", "git push"]), observed=observed)
    if ahead:
        return warned(f"branch {branch} has {ahead} commit(s) not pushed", Fix.under(PUSH, ":", ["git push"]),
                      observed=observed)
    if behind:
        return warned(f"branch {branch} is {behind} commit(s) behind its upstream (as of your last fetch)",
                      Fix.under(PULL, ":", ["git pull"]), observed=observed)
    return passed(f"branch {branch} is committed and in step with its upstream (as of your last fetch)",
                  observed=observed)
