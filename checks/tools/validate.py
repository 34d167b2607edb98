"""`selfcheck validate FILE`: an instructor's assignment file, checked before students meet it.

The same validation a run does (the schema, types, ranges: checks/expectations.py), plus what only
grading needs: every id in `checks` and `points` names a check or an area. Exit status 0 when
the file can be used, 2 (with what is wrong) when it cannot.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Sequence, TextIO

    from ..expectations import Expectations


def problems(exp: Expectations) -> List[str]:
    """What a parsed assignment names that no check is (empty when everything is known)."""
    from ..registry import unknown_selectors

    found = []
    if not exp.checks:
        found.append("checks is empty: expected at least one check id or area")
    unknown = unknown_selectors(exp.checks)
    if unknown:
        found.append(f"checks names no check: {', '.join(unknown)} (run 'selfcheck --list' for the ids)")
    unknown = unknown_selectors([name for name, _ in exp.points])
    if unknown:
        found.append(f"points names no check: {', '.join(unknown)} (run 'selfcheck --list' for the ids)")
    return found


def main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    from .. import expectations
    from ..course import setting
    from .grading import requirements
    from .reports import read_bounded

    if len(argv) != 1 or argv[0].startswith("-"):
        stderr.write("usage: selfcheck validate FILE.toml  (checks an assignment file; exit 0 valid, 2 not)\n")
        return 0 if list(argv) in (["-h"], ["--help"]) else 2
    path = argv[0]
    raw, why = read_bounded(path, limit=1 << 20)
    if raw is None:
        stderr.write(f"selfcheck validate: {path} {why}\n")
        return 2
    try:
        exp = expectations.parse(raw, source=path)
    except expectations.ExpectationsError as exc:
        stderr.write(f"selfcheck validate: {exc}\n")
        return 2
    found = problems(exp)
    if found:
        stderr.write(f"selfcheck validate: {path}: " + "; ".join(found) + "\n")
        return 2
    reqs = requirements(exp)
    halves = {h: sum(1 for r in reqs if r.half == h) for h in ("laptop", "server")}
    total = sum(r.points for r in reqs)
    stdout.write(f"{path}: assignment {exp.id} ({exp.title}) is valid: {len(reqs)} scored checks "
                 f"({halves['laptop']} on the laptop, {halves['server']} on the server), {total:g} points\n")
    if exp.id == setting().assignment:
        stdout.write(f"It is the course's assignment ({setting().source}).\n")
    return 0
