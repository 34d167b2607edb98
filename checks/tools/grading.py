"""Grading a class: one row per student, two halves per student, a fixed set of scored checks.

The anchors are Gradescope and otter-grader: a fixed set of tests, each worth fixed points, every
test present in every student's result.

- **Requirements.** Every check the assignment selects, on each half where it runs: the laptop
  half for checks that run on the laptop, the server half for checks that run on the server (or
  the login node). A check that contacts the login host (`--live`) is required only when the
  assignment names it by id. Points come from the assignment's `points` table (1 each otherwise).
- **Halves.** A student's laptop report grades the laptop half and their server report the
  server half; neither replaces the other. Among reports for the same half, one with a trusted
  time beats one without, a server beats the login node, and then the newest wins.
- **Scores.** pass and warn earn the points; fail and error earn nothing; a required check absent
  from the report earns nothing and is named; a skip "blocked by" a failed check, or for running
  on the wrong machine, earns nothing; any other skip is the check saying it does not apply there,
  and earns the points. A missing half earns nothing for its checks. The denominator is always
  the whole set.
"""

from __future__ import annotations

from .._record import Factory, Record
from .reports import Submission

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

    from ..expectations import Expectations

HALVES = ("laptop", "server")
BLOCKED = "blocked by: "  # the runner's words (checks/runner.py): public in every report
WRONG_SIDE = "runs on the "
NEEDS_LIVE = "contacts the login host"


class Requirement(Record):
    """One scored test: a check on one half, worth some points."""

    half: str
    check: str
    points: float

    @property
    def name(self) -> str:
        return f"{self.half}:{self.check}"


def requirements(exp: Expectations) -> List[Requirement]:
    """The assignment's scored tests, in report order: every check it selects, on each half where it runs."""
    from ..registry import select

    named = set(exp.checks)
    out: List[Requirement] = []
    for half in HALVES:
        sides = ("laptop",) if half == "laptop" else ("server", "jumpbox")
        for spec in select(exp.checks):
            if spec.live and spec.id not in named:
                continue
            if any(side in spec.sides for side in sides):
                out.append(Requirement(half, spec.id, exp.points_for(spec.id)))
    return out


if TYPE_CHECKING:
    # How one requirement scored for one student: (the report's status, or "absent" / "no report";
    # the points earned; why it earned nothing, or what a skip said). A tuple: a class of 300
    # students has 10,000 of them, and a Record's generic __init__ would be most of collect's time.
    Graded = Tuple[str, float, str]


class Student(Record, frozen=False):
    """One row: a student, their two halves, and what they scored."""

    key: str  # the cluster username, or "?<file>" for a report that names none
    user: str
    halves: Dict[str, Submission] = Factory(factory=dict)
    superseded: List[Tuple[Submission, Submission]] = Factory(factory=list)  # (older, the one used)
    flags: List[str] = Factory(factory=list)
    disagreements: List[str] = Factory(factory=list)
    late: List[str] = Factory(factory=list)
    graded: List[Graded] = Factory(factory=list)  # one per requirement, in the same order
    max_score: float = 0.0
    roster: Optional[Dict[str, str]] = None  # the roster row, when there is a roster and they are on it

    @property
    def identified(self) -> bool:
        return not self.key.startswith("?")

    @property
    def score(self) -> float:
        return sum(g[1] for g in self.graded)

    def state(self, expected: Sequence[str]) -> str:
        """complete, partial (no <half> report), missing, or unidentified."""
        if not self.halves:
            return "missing"
        if not self.identified:
            return "unidentified"
        absent = [h for h in expected if h not in self.halves]
        return f"partial (no {' or '.join(absent)} report)" if absent else "complete"


def _rank(sub: Submission) -> Tuple[int, int, float, str]:
    """Higher wins: a trusted time first, then a server over the login node, then the newest."""
    return (1 if sub.trusted_time else 0, 1 if sub.side != "jumpbox" else 0,
            sub.created_at if sub.trusted_time and sub.created_at is not None else 0.0, sub.file)


def group(submissions: Iterable[Submission], single: bool = False) -> List[Student]:
    """One Student per cluster username (unidentified reports stay apart); the best report per half.

    `single`: every report belongs to one submitter (one Gradescope submission), whatever it names.
    """
    students: Dict[str, Student] = {}
    for sub in submissions:
        key = "submission" if single else (sub.user or "?" + sub.file)
        student = students.get(key)
        if student is None:
            # every field given in order: Record's quick path (a class has thousands of students)
            student = students[key] = Student(key, sub.user, {}, [], [], [], [], [], 0.0, None)
        elif single and sub.user and student.user and sub.user != student.user:
            note = f"the reports name different users ({student.user}, {sub.user})"
            if note not in student.flags:
                student.flags.append(note)
        if single and not student.user:
            student.user = sub.user
        prior = student.halves.get(sub.half)
        if prior is None:
            student.halves[sub.half] = sub
            continue
        older, newer = sorted((prior, sub), key=_rank)
        student.halves[sub.half] = newer
        student.superseded.append((older, newer))
    for student in students.values():
        for half in HALVES:
            winner = student.halves.get(half)
            if winner is not None:
                student.flags += [f"{half} report: {flag}" for flag in winner.flags]
        for older, _newer in student.superseded:  # a forged time is worth knowing even when it lost
            student.flags += [f"{older.half} report {older.file} (not used): {flag}" for flag in older.flags
                              if flag.startswith("created ")]
    return sorted(students.values(), key=lambda s: (not s.identified, s.key))


class Grader:
    """Scores students against one assignment's requirements (see the module's rules).

    Students who fail a check mostly fail it with the same words, and most pass: one tuple serves
    every student with the same outcome, so grading a class costs a dictionary lookup per check."""

    def __init__(self, reqs: Sequence[Requirement]) -> None:
        self.reqs = list(reqs)
        self.max_score = sum(req.points for req in reqs)
        self.memo: Dict[Any, Graded] = {}
        self.by_half = [(half, [(i, req.check, ("pass", req.points, ""), ("warn", req.points, ""))
                                for i, req in enumerate(reqs) if req.half == half]) for half in HALVES]
        self.items = dict(self.by_half)
        self.absent = {half: [_grade_one(req, "no report", "") for req in reqs if req.half == half] for half in HALVES}
        # where each half's scores go in a student's row; when the requirements list the laptop
        # half first (as `requirements` does), a row is the two halves' scores one after the other
        self.slots = [(half, [i for i, *_ in items]) for half, items in self.by_half]
        self.in_order = [i for _, slots in self.slots for i in slots] == list(range(len(self.reqs)))

    def grade_report(self, sub: Submission) -> List[Graded]:
        """The scored checks of the report's half, in requirement order (kept on the report)."""
        if sub.graded is not None:
            return sub.graded
        graded: List[Graded] = []
        memo = self.memo
        statuses = sub.statuses
        summaries = sub.summaries
        for i, check, passed, warned in self.items[sub.half]:
            status = statuses.get(check)
            if status == "pass":  # the common case first: a class mostly passes
                graded.append(passed)
            elif status == "warn":
                graded.append(warned)
            else:
                said = summaries.get(check) if status is not None else ""  # as Submission.summary reads it
                key = (i, status, said if type(said) is str else "")
                found = memo.get(key)
                if found is None:
                    found = memo[key] = _grade_one(self.reqs[i], status, key[2])
                graded.append(found)
        sub.graded = graded
        return graded

    def grade(self, student: Student) -> None:
        halves = student.halves
        scored = [self.absent[half] if halves.get(half) is None else self.grade_report(halves[half])
                  for half, _ in self.slots]
        if self.in_order:
            graded = [g for part in scored for g in part]
        else:
            graded = [("", 0.0, "")] * len(self.reqs)
            for (_, slots), part in zip(self.slots, scored):
                for i, g in zip(slots, part):
                    graded[i] = g
        student.graded = graded
        student.max_score = self.max_score


def grade(student: Student, reqs: Sequence[Requirement]) -> None:
    """Score every requirement for one student."""
    Grader(reqs).grade(student)


def _grade_one(req: Requirement, status: Optional[str], summary: str) -> Graded:
    if status == "pass" or status == "warn":
        return (status, req.points, "")
    if status == "no report":
        return ("no report", 0.0, f"no {req.half} report")
    if status is None:
        return ("absent", 0.0, f"absent from the {req.half} report")
    said = summary if len(summary) <= 160 else summary[:160] + "…"
    if status == "skip":
        if said.startswith(BLOCKED):
            return (status, 0.0, f"blocked by {said[len(BLOCKED):]}")
        if said.startswith(WRONG_SIDE):
            return (status, 0.0, f"not run where it applies ({said})")
        if said.startswith(NEEDS_LIVE):
            return (status, 0.0, "not run: the assignment asks for --live")
        return (status, req.points, f"skipped: {said}")
    if status in ("fail", "error"):
        return (status, 0.0, said or status)
    return (status, 0.0, "a status selfcheck never writes")


def failures(student: Student, reqs: Sequence[Requirement]) -> List[str]:
    """The reasons behind every point not earned: "<half> <check id>: <summary>"."""
    return [f"{req.half} {req.check}: {g[2]}" for req, g in zip(reqs, student.graded) if g[1] < req.points]


def mark_late(student: Student, due: float) -> None:
    """Name the halves whose own `created` is after the due time (self-reported)."""
    import time

    for half in HALVES:
        sub = student.halves.get(half)
        if sub is None:
            continue
        if sub.created_at is None:
            student.late.append(f"{half} (its time does not parse)")
        elif sub.created_at > due:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sub.created_at))
            student.late.append(f"{half} ({stamp})")


def apply_roster(students: List[Student], roster: List[Dict[str, str]]) -> Tuple[List[Student], List[Student]]:
    """(a row per roster student, in roster order, with `missing` ones; the students not on it)."""
    by_key = {s.key: s for s in students if s.identified}
    rows: List[Student] = []
    seen = set()
    for entry in roster:
        user = entry.get("user", "").strip()
        if not user or user in seen:
            continue
        seen.add(user)
        student = by_key.get(user) or Student(user, user)
        student.roster = entry
        rows.append(student)
    extra = [s for s in students if s.key not in seen]
    return rows, extra


def parse_due(text: str) -> Tuple[Optional[float], str]:
    """(seconds since the epoch, how it was read) for --due; (None, why) when it cannot be read.

    ISO 8601: "2026-11-20T23:59Z", "2026-11-20 23:59:00+02:00"; without a zone it is this
    computer's local time (and the output says which instant that is)."""
    from datetime import datetime, timezone

    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        return None, f"--due {text!r} is not a date and time such as 2026-11-20T23:59Z"
    local = when.tzinfo is None
    if local:
        when = when.astimezone()
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.timestamp(), stamp + (" (read as this computer's local time)" if local else "")


def cohort(students: Sequence[Student], reqs: Sequence[Requirement]) -> Dict[str, Dict[str, int]]:
    """For each requirement: how many students' reports pass, warn, fail, skip, error, or lack it."""
    table: Dict[str, Dict[str, int]] = {}
    for i, req in enumerate(reqs):
        row = {k: 0 for k in ("pass", "warn", "fail", "skip", "error", "absent")}
        for s in students:
            if not s.graded:
                continue
            status = s.graded[i][0]
            row[status if status in row else "absent"] += 1
        table[req.name] = row
    return table

