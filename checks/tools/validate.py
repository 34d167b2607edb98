"""`selfcheck validate FILE`: an instructor's assignment file, checked before students meet it.

The same validation a run with `--expectations FILE` does (a regular file of at most 1 MB; the
schema, types, ranges, and every id in `checks` and `points` naming a check or an area:
checks/expectations.py), and then what it scores. Exit status 0 when the file can be used, 2
(with what is wrong) when it cannot.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence, TextIO


def main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    from .. import expectations
    from ..course import setting
    from .grading import requirements

    if len(argv) != 1 or argv[0].startswith("-"):
        stderr.write("usage: selfcheck validate FILE.toml  (checks an assignment file; exit 0 valid, 2 not)\n")
        return 0 if list(argv) in (["-h"], ["--help"]) else 2
    path = argv[0]
    try:
        exp = expectations.load_file(path)  # what a run with --expectations FILE does
    except expectations.ExpectationsError as exc:
        stderr.write(f"selfcheck validate: {exc}\n")
        return 2
    reqs = requirements(exp)
    halves = {h: sum(1 for r in reqs if r.half == h) for h in ("laptop", "server")}
    total = sum(r.points for r in reqs)
    stdout.write(f"{path}: assignment {exp.id} ({exp.title}) is valid: {len(reqs)} scored checks "
                 f"({halves['laptop']} on the laptop, {halves['server']} on the server), {total:g} points\n")
    if exp.id == setting().assignment:
        stdout.write(f"It is the course's assignment ({setting().source}).\n")
    return 0
