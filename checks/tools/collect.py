"""Collect a class's JSON reports: scores, a CSV, a cohort summary (text and SVG), Gradescope.

`selfcheck collect DIR-OR-FILES... [--assignment ID] [--roster FILE] [--due DATETIME]
[--csv FILE|-] [--summary] [--svg FILE] [--gradescope results.json|FOLDER]`

The assignment is the course's (the one setting in the book's `_config.yml`, which the single file
carries: see checks/course.py) unless `--assignment` names another. Every file is read safely and
validated (tools/reports.py); one that cannot be graded is listed with the reason, never a crash,
and the rest are graded (tools/grading.py): a student's laptop and server reports are two halves
of one row, and where they disagree is said (tools/halves.py). A report is what the student's
machine said when they ran the checks, in a file the student controls: self-reported evidence,
not proof.

Exit status: 0 at least one student graded; 1 nothing usable; 2 a usage error or an output that
cannot be written.
"""

from __future__ import annotations

import argparse
import contextlib
import os

from .._record import Factory, Record
from .grading import Grader
from .reports import Rejected, Submission, load, report_files, validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, Iterator, List, NoReturn, Optional, Sequence, Set, TextIO, Tuple

    from ..expectations import Expectations
    from .exports import Class
    from .grading import Student


class Collection(Record, frozen=False):
    """The usable reports, and the files that were skipped with the reason."""

    submissions: List[Submission] = Factory(factory=list)
    rejected: List[Rejected] = Factory(factory=list)


def collect(paths: Iterable[str], assignment: Optional[str] = None, now: Optional[float] = None,
            packages: Iterable[str] = (), grader: Optional[Grader] = None) -> Collection:
    """Read and validate every report under `paths` (reports for another assignment are skipped).

    `packages`: the assignment's packages, the only ones kept from each report's package list.
    `grader`: scores each report as it is read, so that what it said need not be kept (a class's
    reports are held in memory together)."""
    import time

    from ..registry import all_checks
    from .reports import normal_name

    known = frozenset(spec.id for spec in all_checks())
    listed = frozenset(normal_name(name) for name in packages)
    now = time.time() if now is None else now
    out = Collection()
    with _no_cycle_collector():
        for path, follow in report_files(paths):
            doc, why, size = load(path, follow=follow)
            sub = None
            if not why:
                sub, why = validate(doc, path, known, now, assignment, size, listed)
            if sub is None:
                out.rejected.append(Rejected(path, why))
                continue
            if grader is not None:  # scored now: keep only what joining the halves reads (tools/halves.py)
                grader.grade_report(sub)
                statuses = sub.statuses
                # one update, not two trips through Record.__setattr__ (a class has thousands)
                vars(sub).update(summaries=_NOTHING,
                                 statuses={cid: statuses[cid] for cid in _JOINED if cid in statuses})
            out.submissions.append(sub)
    return out


_NOTHING: Dict[str, Any] = {}  # what a graded report keeps of its summaries (never written to)
_JOINED = ("ssh.key.pair", "ssh.authorized_keys")  # the statuses tools/halves.py reads


@contextlib.contextmanager
def _no_cycle_collector() -> Iterator[None]:
    """Parsed reports and grades hold no reference cycles: pausing the cycle collector saves its
    repeated full passes over a class's thousands of live objects (a third of the time)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def grade_class(collection: Collection, exp: Expectations, setting: str, roster: Optional[List[Dict[str, str]]] = None,
                roster_columns: Sequence[str] = (), due: Optional[Tuple[float, str]] = None,
                single: bool = False, grader: Optional[Grader] = None) -> Class:
    """Group the reports into students, score them, join their halves, apply the roster and the due time."""
    from .exports import Class
    from .grading import apply_roster, group, mark_late, requirements
    from .halves import disagreements

    reqs = requirements(exp)
    students = group(collection.submissions, single=single)
    grader = grader or Grader(reqs)
    for student in students:
        grader.grade(student)
        laptop, server = student.halves.get("laptop"), student.halves.get("server")
        if laptop is not None and server is not None:
            student.disagreements = disagreements(laptop, server, exp.packages)
        if due is not None:
            mark_late(student, due[0])
    extra: List[Student] = []
    if roster is not None:
        students, extra = apply_roster(students, roster)
        for student in students:
            if not student.graded:
                grader.grade(student)
        students += extra
    return Class(students, reqs, exp.id, setting, list(collection.rejected), extra, roster is not None,
                 list(roster_columns), due[1] if due else "")


class OutputError(Exception):
    """An output that cannot be written: one sentence, exit status 2."""


def _write(path: str, text: str) -> None:
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a folder")
    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _gradescope_names(students: Sequence[Student], taken: Optional[Set[str]] = None) -> List[str]:
    """A file name per student that never collides, not even on a case-insensitive file system
    ("Ana" and "ana", "a/b" and "a_b"): a name that had to change, or would collide, gets a hash."""
    import hashlib
    import re

    reserved = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
    taken = set() if taken is None else taken
    names = []
    for student in students:
        key = student.user or student.key
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", key).strip("._")[:60] or "student"
        if safe != key or safe.lower() in taken or safe.upper() in reserved:
            safe = f"{safe}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
        while safe.lower() in taken:  # two different keys with the same hash prefix: practically never
            safe += "_"
        taken.add(safe.lower())
        names.append(f"{safe}.json")
    return names


def write_gradescope(cls: Class, target: str, problems: Sequence[str]) -> int:
    """results.json for one submission (a path ending in .json), else a folder with one per student.
    Returns how many files were written."""
    import json

    from .exports import gradescope

    def dump(doc: Dict[str, Any]) -> str:
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    if target.lower().endswith(".json"):
        usable = [s for s in cls.students if s.halves]
        _write(target, dump(gradescope(usable[0] if usable else None, cls, problems)))
        return 1
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write into {target}: {exc.strerror or exc}") from None
    for student, name in zip(cls.students, _gradescope_names(cls.students)):
        _write(os.path.join(target, name), dump(gradescope(student, cls)))
    return len(cls.students)


def read_roster(path: str) -> Tuple[List[Dict[str, str]], List[str]]:
    """(rows, the columns besides `user`) of a roster CSV; UsageError when it cannot be used."""
    import csv
    import io

    from ..files import FileProblem, read_text

    try:
        text = read_text(path, 16 << 20, what="a roster").text
    except FileProblem as exc:
        raise UsageError(f"the roster {path} {exc.reason}") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() if isinstance(c, str) else "" for c in (reader.fieldnames or [])]
    if "user" not in columns:
        raise UsageError(f"the roster {path} has no 'user' column (its columns: {', '.join(columns) or 'none'})")
    reader.fieldnames = columns
    try:
        rows = [{k: (v if isinstance(v, str) else "") for k, v in row.items() if isinstance(k, str)} for row in reader]
    except csv.Error as exc:
        raise UsageError(f"the roster {path} is not a CSV file ({exc})") from None
    return rows, [c for c in columns if c and c != "user"]


class UsageError(ValueError):
    """A usage mistake: one sentence, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (run 'selfcheck collect --help' for the options)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="selfcheck collect", description="Grade a class's JSON self-check reports.")
    parser.add_argument("paths", nargs="+", help="report files, or folders searched for *.json")
    parser.add_argument("--assignment", metavar="ID|FILE.toml",
                        help="grade this assignment (default: the course's, set in the book's _config.yml; "
                             "'' accepts reports of any assignment)")
    parser.add_argument("--roster", metavar="FILE", help="a CSV with a 'user' column: a row for every student on it")
    parser.add_argument("--due", metavar="DATETIME", help="mark halves made after this time as late, e.g. "
                                                          "2026-11-20T23:59Z (by the report's own, self-reported time)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per student ('-' for standard output)")
    parser.add_argument("--summary", action="store_true", help="print the cohort summary")
    parser.add_argument("--svg", metavar="FILE", help="write the cohort summary as an SVG bar chart")
    parser.add_argument("--gradescope", metavar="PATH",
                        help="write Gradescope's results.json: one file for one submission (a path ending in "
                             ".json), or a folder with one per student")
    return parser


def main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    try:
        with _no_cycle_collector():
            return _main(argv, stdout, stderr)
    except UsageError as exc:
        stderr.write(f"selfcheck collect: {exc}\n")
        return 2
    except OutputError as exc:
        stderr.write(f"selfcheck collect: {exc}\n")
        return 2
    except BrokenPipeError:  # `--csv - | head`: the reader has what it wanted
        _quiet(stdout)
        return 0
    except OSError as exc:
        if os.name == "nt" and exc.errno == 22:  # Windows says EINVAL for a pipe closed by its reader
            _quiet(stdout)
            return 0
        raise


def _quiet(stream: TextIO) -> None:
    """Point a closed pipe at the null device, so Python's final flush says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    from .. import expectations
    from ..course import setting
    from .grading import parse_due, requirements

    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout):
            ns = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    missing = [p for p in ns.paths if not os.path.exists(p) and not os.path.islink(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if ns.assignment:
        where = "given with --assignment"
        name = ns.assignment
    else:
        where, name = setting().source, setting().assignment
    try:
        exp = expectations.load(name)
    except expectations.ExpectationsError as exc:
        raise UsageError(str(exc)) from None
    due = None
    if ns.due is not None:
        when, shown = parse_due(ns.due)
        if when is None:
            raise UsageError(shown)
        due = (when, shown)
    roster, columns = read_roster(ns.roster) if ns.roster else (None, [])
    grader = Grader(requirements(exp))
    collection = collect(ns.paths, None if ns.assignment == "" else exp.id,
                         packages=[name for name, _ in exp.packages], grader=grader)
    single = bool(ns.gradescope and ns.gradescope.lower().endswith(".json"))
    cls = grade_class(collection, exp, where, roster, columns, due, single=single, grader=grader)
    for item in collection.rejected:
        stderr.write(f"skipped {item.file}: {item.reason}\n")
    _hint_other_assignments(collection, exp.id, stderr)
    if ns.csv:
        from .exports import write_csv

        if ns.csv == "-":
            write_csv(cls, stdout)
            stdout.flush()
        else:
            import io

            buffer = io.StringIO()
            write_csv(cls, buffer)
            _write(ns.csv, buffer.getvalue())
    if ns.svg:
        from .exports import summary_svg

        _write(ns.svg, summary_svg(cls))
    if ns.gradescope:
        write_gradescope(cls, ns.gradescope, [f"{r.file}: {r.reason}" for r in collection.rejected])
    if ns.summary or not (ns.csv or ns.svg or ns.gradescope):
        from .exports import summary_text

        stdout.write(summary_text(cls))
        stdout.flush()
    graded = [s for s in cls.students if s.halves]
    stderr.write(f"{len(graded)} student(s) graded from {len(collection.submissions)} report(s); "
                 f"{len(collection.rejected)} file(s) skipped\n")
    return 0 if graded else 1


def _hint_other_assignments(collection: Collection, assignment: str, stderr: TextIO) -> None:
    from collections import Counter

    others = Counter(r.reason.split("'")[1] for r in collection.rejected
                     if r.reason.startswith("is a report for '") and r.reason.count("'") >= 2)
    if others:
        said = ", ".join(f"{name} ({n})" for name, n in others.most_common(5))
        stderr.write(f"note: {sum(others.values())} report(s) are for another assignment than {assignment}: {said}; "
                     "grade those with --assignment ID\n")
