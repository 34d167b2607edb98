"""Self-checks for the "Servers" lesson: SSH keys, the Jupyter tunnel, server resources.

In a notebook::

    import checks
    checks.run()                 # every check of the assignment, as a table
    checks.ssh()                 # one area
    checks.tunnel(url="http://dsmlp-login.ucsd.edu:12733/user/me/?token=...")
    checks.explain("Permission denied (publickey)")

In a terminal: ``python3 -m checks`` (or ``selfcheck``, or ``python3 selfcheck.pyz``).

Only the standard library is used (plus ``tomli`` on Python < 3.11), and nothing heavy is
imported until a check runs, so ``import checks`` stays cheap.
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Optional

    from .model import Report
    from .tools.explain import Explanation

__all__ = ["run", "ssh", "tunnel", "resources", "explain", "__version__"]


def run(assignment: Optional[str] = None, *, only: Optional[Iterable[str]] = None, **options: Any) -> Report:
    """Run the assignment's checks here and return a report (a table in Jupyter).

    Options are those of the command line: side, url, user, pubkey, home, procfs, sysfs, live,
    fix, timeout, verbose, compare, expectations (an `Expectations` object).
    """
    from . import runner

    if isinstance(only, str):
        only = [only]
    ctx = runner.make_context(assignment, **options)
    return runner.run(ctx, only)


def ssh(assignment: Optional[str] = None, **options: Any) -> Report:
    """Run the SSH key checks."""
    return run(assignment, only=["ssh"], **options)


def tunnel(url: Optional[str] = None, assignment: Optional[str] = None, **options: Any) -> Report:
    """Run the port-forward checks against the URL the launch script printed."""
    return run(assignment, only=["tunnel"], url=url, **options)


def resources(assignment: Optional[str] = None, **options: Any) -> Report:
    """Run the server resource checks (CPUs, memory, GPUs, disk)."""
    return run(assignment, only=["resources"], **options)


def explain(text: str) -> Explanation:
    """Explain an error message you saw: its cause, the fix, and the check that confirms it."""
    from .tools.explain import explain as _explain

    return _explain(text)
