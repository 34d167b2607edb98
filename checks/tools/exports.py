"""What an instructor takes away from `selfcheck collect`: the CSV, the cohort summary (text and
SVG) and Gradescope's results.json. Nothing here decides a grade (tools/grading.py does)."""

from __future__ import annotations

import html
import re

from .._record import Factory, Record
from .grading import HALVES, Requirement, Student

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

    from .grading import Graded

STATUSES = ("pass", "warn", "fail", "skip", "error")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # newlines too: one line per row


class Class(Record, frozen=False):
    """Everything the exports show, gathered by tools/collect.py."""

    students: List[Student]  # the rows: roster order first when there is a roster
    reqs: List[Requirement]
    assignment: str
    setting: str  # where the assignment came from, said to the instructor
    rejected: List[Any] = Factory(factory=list)
    extra: List[Student] = Factory(factory=list)  # reports from students not on the roster
    roster: bool = False
    roster_columns: List[str] = Factory(factory=list)
    due: str = ""

    @property
    def expected(self) -> List[str]:
        return [h for h in HALVES if any(r.half == h for r in self.reqs)]


def cell(value: Any, limit: int = 2000) -> Any:
    """A CSV cell a spreadsheet shows as text: no control characters, and nothing it would read
    as a formula (a cell starting with = + - @ gets a leading apostrophe, as OWASP advises)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text) is not None:
        text = _CONTROL.sub(" ", text)
    if len(text) > limit:
        text = text[:limit] + "…"
    if text[:1] in _FORMULA:
        text = "'" + text
    return text


_FORMULA = frozenset("=+-@\t\r")


def number(value: float) -> Any:
    return int(value) if float(value).is_integer() else round(value, 2)


def _status(g: Graded, points: float) -> str:
    """The check's cell: its status, and for a skip that earned nothing, why."""
    status = g[0]
    if status in _PLAIN_STATUS:
        return status
    if status == "skip" and g[1] < points:
        return "skip: blocked" if g[2].startswith("blocked") else "skip: not run"
    return str(cell(status, 40))


_PLAIN_STATUS = frozenset(("pass", "warn", "fail", "error", "absent", "no report"))


def field(value: Any) -> str:
    """One CSV field: made safe by `cell`, then quoted as the csv module's QUOTE_MINIMAL would
    (a safe cell holds no line break, so only a comma or a quote needs quoting)."""
    text = str(cell(value))
    if '"' in text or "," in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(cls: Class, handle: TextIO) -> None:
    """One row per student: score, what cost points, flags, both halves, a column per scored check.

    Written by hand rather than with the csv module: students with the same outcomes share their
    score, reasons and status cells (grading shares one tuple per outcome), so those are quoted
    once per distinct outcome, not once per student. tests/test_collect.py reads it back with the
    csv module."""
    head = ["user", *cls.roster_columns, "status", "assignment", "score", "max_score", "late", "flags", "halves",
            "reasons", "laptop_file", "laptop_created", "server_file", "server_created"]
    lines = [",".join(field(h) for h in head + [r.name for r in cls.reqs])]
    extra = {id(s) for s in cls.extra}
    expected, assignment, reqs = cls.expected, field(cls.assignment), cls.reqs
    outcomes: Dict[Tuple[int, ...], Tuple[str, str, str]] = {}
    for s in cls.students:
        key = tuple(map(id, s.graded))
        known = outcomes.get(key)
        if known is None:
            lost = "; ".join(f"{r.half} {r.check}: {g[2]}" for r, g in zip(reqs, s.graded) if g[1] < r.points)
            known = outcomes[key] = (field(number(s.score)) + "," + field(number(s.max_score)), field(lost),
                                     ",".join(field(_status(g, r.points)) for g, r in zip(s.graded, reqs)))
        scores, lost_field, statuses = known
        flags = list(s.flags) + (["not on the roster"] if cls.roster and id(s) in extra and s.identified else [])
        halves = ",".join(field(x) for h in HALVES
                          for x in ((s.halves[h].file, s.halves[h].created) if h in s.halves else ("", "")))
        head_cells = [field(s.user or s.key), *(field((s.roster or {}).get(c, "")) for c in cls.roster_columns),
                      field(s.state(expected)), assignment, scores, field("; ".join(s.late)), field("; ".join(flags)),
                      field("; ".join(s.disagreements) or ("agree" if len(s.halves) == 2 else ""))]
        lines.append(",".join([*head_cells, lost_field, halves, statuses]))
    handle.write("\n".join(lines) + "\n")


def summary_text(cls: Class) -> str:
    """The cohort at a glance: who is complete, what costs points, what is flagged."""
    from collections import Counter

    students = cls.students
    states = Counter(s.state(cls.expected).split(" ")[0] for s in students)
    total = sum(r.points for r in cls.reqs)
    lines = [f"Assignment {cls.assignment} ({cls.setting}): {len(cls.reqs)} scored checks, {number(total)} points",
             f"{len(students)} students: " + ", ".join(f"{states[k]} {k}" for k in
                                                      ("complete", "partial", "missing", "unidentified") if states[k])
             + f"; {len(cls.rejected)} report file(s) skipped"]
    scored = sorted(s.score for s in students if s.halves)
    if scored:
        lines.append(f"Scores of students with a report: median {number(scored[len(scored) // 2])} of {number(total)}, "
                     f"lowest {number(scored[0])}, highest {number(scored[-1])}")
    flagged = [s for s in students if s.flags]
    if flagged:
        lines.append(f"Flagged: {len(flagged)} student(s) (see the CSV's flags column; a report is self-reported)")
    both = [s for s in students if len(s.halves) == 2]
    if both:
        kinds = Counter(d.split(":")[0] for s in both for d in s.disagreements)
        said = ", ".join(f"{k} {kinds[k]}" for k in ("key", "python", "packages") if kinds[k]) or "none"
        lines.append(f"Halves disagree ({len(both)} students with both): {said}")
    if cls.due:
        late = [s for s in students if s.late]
        lines.append(f"Late after {cls.due}: {len(late)} student(s) — judged by each report's own 'created' "
                     "time, which the student's computer wrote (self-reported)")
    if cls.extra and cls.roster:
        names = [s.key for s in cls.extra if s.identified]
        if names:
            lines.append(f"Not on the roster: {', '.join(names[:20])}" + (" …" if len(names) > 20 else ""))
    table = cohort(cls)
    width = max([len(c) for c in table] + [5])
    lines.append(f"{'check':<{width}}  " + "  ".join(f"{k:>6}" for k in (*STATUSES, "absent")))
    for name, row in sorted(table.items(), key=lambda kv: (-(kv[1]["fail"] + kv[1]["error"] + kv[1]["absent"]), kv[0])):
        lines.append(f"{name:<{width}}  " + "  ".join(f"{row[k]:>6}" for k in (*STATUSES, "absent")))
    return "\n".join(lines) + "\n"


def cohort(cls: Class) -> Dict[str, Dict[str, int]]:
    from .grading import cohort as _cohort

    return _cohort([s for s in cls.students if s.halves], cls.reqs)


_SVG_COLORS = {"pass": "#1e6b34", "warn": "#b7791f", "fail": "#a4141d", "skip": "#8a8a8a", "error": "#6b1f7a",
               "absent": "#d0d0d0"}


def summary_svg(cls: Class) -> str:
    """A stacked horizontal bar per scored check: where the class is stuck. Standard library only."""
    table = cohort(cls)
    label_w, bar_w, row_h, top = 260, 460, 24, 50
    total = max(len([s for s in cls.students if s.halves]), 1)
    height = top + row_h * len(table) + 40
    kinds = (*STATUSES, "absent")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 20} {height}" '
             f'role="img" aria-labelledby="t d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
             '<title id="t">Self-check results by check</title>',
             f'<desc id="d">{html.escape(_describe(table, total))}</desc>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">{total} students</text>']
    x = float(label_w)
    for status in kinds:  # legend: colour and word, never colour alone
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{_SVG_COLORS[status]}"/>'
                     f'<text x="{x + 16}" y="19">{status}</text>')
        x += 70
    for i, (name, row) in enumerate(table.items()):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(name)}</text>')
        x = float(label_w)
        for status in kinds:
            if row[status]:
                w = bar_w * row[status] / total
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                             f'fill="{_SVG_COLORS[status]}"><title>{html.escape(name)}: {row[status]} {status}'
                             '</title></rect>')
                x += w
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _describe(table: Dict[str, Dict[str, int]], total: int) -> str:
    def bad(row: Dict[str, int]) -> int:
        return row["fail"] + row["error"] + row["absent"]

    worst = sorted(table.items(), key=lambda kv: -bad(kv[1]))[:3]
    said = "; ".join(f"{name}: {bad(row)} of {total} not passing" for name, row in worst if bad(row))
    return f"Bars per check, split by status, for {total} students. " + (f"Most problems: {said}." if said else
                                                                          "No check fails.")


SELF_REPORTED = ("A self-check report records what the student's computer said when they ran it; "
                 "the student controls the file, so it is self-reported evidence, not proof.")


def gradescope(student: Optional[Student], cls: Class, problems: Sequence[str] = ()) -> Dict[str, Any]:
    """Gradescope's results.json for one student: every scored check is a test, always present.

    With no student (nothing usable was uploaded), every test scores 0 and `output` says why."""
    tests: List[Dict[str, Any]] = []
    graded = student.graded if student is not None else []
    for i, req in enumerate(cls.reqs):
        g = graded[i] if graded else None
        earned = g[1] if g is not None else 0.0
        said = f"{g[0]}: {g[2]}" if g is not None and g[2] else (g[0] if g is not None else "no report")
        tests.append({"name": f"{req.check} ({req.half})", "number": str(i + 1), "score": float(earned),
                      "max_score": float(req.points), "status": "passed" if earned >= req.points else "failed",
                      "output": said, "visibility": "visible"})
    lines: List[str] = []
    if student is None:
        lines.append("No usable self-check report was uploaded, so nothing could be graded.")
    else:
        lines.append(f"Self-check reports of {student.user or 'an unnamed student'} for {cls.assignment}: "
                     f"{student.state(cls.expected)}.")
        lines += [f"Flag: {f}" for f in student.flags] + [f"Halves disagree: {d}" for d in student.disagreements]
        if student.late:
            lines.append("Late (by the report's own time, self-reported): " + "; ".join(student.late))
    lines += [f"Not used: {p}" for p in problems]
    lines.append(SELF_REPORTED)
    return {"score": float(sum(t["score"] for t in tests)), "output": "\n".join(lines), "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
