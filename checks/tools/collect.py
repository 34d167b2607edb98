"""Collect students' JSON reports: a CSV of statuses, a cohort summary (text and SVG), Gradescope.

`selfcheck collect DIR-OR-FILES... --csv grades.csv [--summary] [--svg chart.svg]
[--gradescope results.json] [--assignment ID]`

Every report is validated (schema, tool version, assignment); malformed, duplicate and
other-assignment reports are listed with the reason, never a crash. A report is what the
student's machine said when they ran the checks: self-reported evidence, not proof.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
from collections import Counter
from pathlib import Path

from .._record import Factory, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple

STATUSES = ("pass", "warn", "fail", "skip", "error")


class Student(Record, frozen=False):
    user: str
    file: str
    created: str
    side: str
    host: str
    tool_version: str
    statuses: Dict[str, str]
    summaries: Dict[str, str]


class Collection(Record, frozen=False):
    students: List[Student] = Factory(factory=list)
    rejected: List[Tuple[str, str]] = Factory(factory=list)  # (file, reason)

    def check_ids(self, order: Sequence[str] = ()) -> List[str]:
        seen = {cid for s in self.students for cid in s.statuses}
        known = [cid for cid in order if cid in seen]
        return known + sorted(seen - set(known))


def _files(paths: Iterable[str]) -> List[str]:
    found: List[str] = []
    for raw in paths:
        if os.path.isdir(raw):
            for folder, _dirs, names in os.walk(raw):
                found += [os.path.join(folder, n) for n in names if n.endswith(".json")]
        else:
            found.append(raw)
    return sorted(found)


_STATUS_SET = frozenset(STATUSES)


def _read(doc: object, assignment: Optional[str]) -> Tuple[Optional[Tuple[Dict[str, str], Dict[str, str]]], str]:
    """((statuses, summaries), "") when the report can be used, else (None, the reason)."""
    if not isinstance(doc, dict):
        return None, "not a self-check report (the file holds no JSON object)"
    if doc.get("schema") != 1:
        return None, f"unknown report schema {doc.get('schema')!r} (this tool reads schema 1)"
    version = doc.get("tool_version")
    if not isinstance(version, str) or not version:
        return None, "no tool_version: not made by selfcheck"
    results = doc.get("results")
    if not isinstance(results, list):
        return None, "no results list"
    if assignment and doc.get("assignment") != assignment:
        return None, f"a report for {doc.get('assignment')!r}, not {assignment!r}"
    statuses: Dict[str, str] = {}
    summaries: Dict[str, str] = {}
    for item in results:  # one pass: validate and keep what the exports need
        try:
            cid, status = item["id"], item["status"]
        except (TypeError, KeyError):
            return None, "a result without a check id or a known status"
        if not isinstance(cid, str) or status not in _STATUS_SET:
            return None, "a result without a check id or a known status"
        statuses[cid] = status
        summaries[cid] = str(item.get("summary", ""))
    return (statuses, summaries), ""


def collect(paths: Iterable[str], assignment: Optional[str] = None) -> Collection:
    """Read, validate and de-duplicate reports (the newest report of each student wins)."""
    import gc

    # Parsed JSON holds no reference cycles: pausing the cycle collector saves its repeated
    # full passes over thousands of live report objects (a third of the time for a class).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _collect(paths, assignment)
    finally:
        if enabled:
            gc.enable()


def _collect(paths: Iterable[str], assignment: Optional[str]) -> Collection:
    out = Collection()
    by_user: Dict[str, Student] = {}
    for path in _files(paths):
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            out.rejected.append((path, f"cannot be read: {exc.strerror or exc}"))
            continue
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            out.rejected.append((path, f"not valid JSON ({str(exc).splitlines()[0][:80]})"))
            continue
        parsed, reason = _read(doc, assignment)
        if parsed is None:
            out.rejected.append((path, reason))
            continue
        user = str(doc.get("user") or "").strip() or Path(path).stem
        student = Student(user, path, str(doc.get("created", "")), str(doc.get("side", "")),
                          str(doc.get("host", "")), doc["tool_version"], *parsed)
        prior = by_user.get(user)
        if prior is not None:
            older, newer = sorted((prior, student), key=lambda s: (s.created, s.file))
            out.rejected.append((older.file, f"duplicate: {user} also sent {newer.file}, which is newer and is used"))
            by_user[user] = newer
        else:
            by_user[user] = student
    out.students = sorted(by_user.values(), key=lambda s: s.user)
    return out


def _registry_order() -> List[str]:
    from ..registry import all_checks

    return [spec.id for spec in all_checks()]


def write_csv(collection: Collection, handle: TextIO) -> None:
    ids = collection.check_ids(_registry_order())
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["user", "file", "created", "side", "tool_version", *STATUSES, "summary", *ids])
    for s in collection.students:
        tally = Counter(s.statuses.values())
        counts = [tally[status] for status in STATUSES]
        problems = counts[2] + counts[4]
        summary = "ok" if not problems else f"{problems} problem{'s' if problems != 1 else ''}"
        writer.writerow([s.user, s.file, s.created, s.side, s.tool_version, *counts, summary,
                         *(s.statuses.get(cid, "") for cid in ids)])


def cohort(collection: Collection) -> Dict[str, Dict[str, int]]:
    """For each check: how many students pass, warn, fail, skip, error."""
    table: Dict[str, Dict[str, int]] = {}
    for cid in collection.check_ids(_registry_order()):
        row = {status: 0 for status in STATUSES}
        for s in collection.students:
            if cid in s.statuses:
                row[s.statuses[cid]] += 1
        table[cid] = row
    return table


def summary_text(collection: Collection) -> str:
    table = cohort(collection)
    width = max([len(c) for c in table] + [5])
    lines = [f"{len(collection.students)} student report(s); {len(collection.rejected)} rejected",
             f"{'check':<{width}}  " + "  ".join(f"{s:>5}" for s in STATUSES)]
    for cid, row in sorted(table.items(), key=lambda kv: (-(kv[1]['fail'] + kv[1]['error']), kv[0])):
        lines.append(f"{cid:<{width}}  " + "  ".join(f"{row[s]:>5}" for s in STATUSES))
    return "\n".join(lines) + "\n"


_SVG_COLORS = {"pass": "#1e6b34", "warn": "#b7791f", "fail": "#a4141d", "skip": "#8a8a8a", "error": "#6b1f7a"}


def summary_svg(collection: Collection) -> str:
    """A stacked horizontal bar per check: where the class is stuck. Standard library only."""
    table = cohort(collection)
    label_w, bar_w, row_h, top = 230, 460, 24, 50
    total = max(len(collection.students), 1)
    height = top + row_h * len(table) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 20} {height}" '
             f'role="img" aria-labelledby="t d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
             '<title id="t">Self-check results by check</title>',
             f'<desc id="d">{html.escape(_describe(table, total))}</desc>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">{len(collection.students)} students</text>']
    x = float(label_w)
    for status in STATUSES:  # legend: colour and word, never colour alone
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{_SVG_COLORS[status]}"/>'
                     f'<text x="{x + 16}" y="19">{status}</text>')
        x += 70
    for i, (cid, row) in enumerate(table.items()):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(cid)}</text>')
        x = float(label_w)
        for status in STATUSES:
            if row[status]:
                w = bar_w * row[status] / total
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                             f'fill="{_SVG_COLORS[status]}"><title>{html.escape(cid)}: {row[status]} {status}</title></rect>')
                x += w
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _describe(table: Dict[str, Dict[str, int]], total: int) -> str:
    worst = sorted(table.items(), key=lambda kv: -(kv[1]["fail"] + kv[1]["error"]))[:3]
    said = "; ".join(f"{cid}: {row['fail'] + row['error']} of {total} failing" for cid, row in worst
                     if row["fail"] + row["error"])
    return f"Bars per check, split by status, for {total} students. " + (f"Most failures: {said}." if said else
                                                                          "No check fails.")


def gradescope(student: Student) -> Dict[str, object]:
    """Gradescope's results.json for one student: a test per check (skipped ones score nothing)."""
    tests: List[Dict[str, Any]] = []
    summaries = student.summaries
    for cid, status in student.statuses.items():
        applies = status != "skip"
        tests.append({"name": cid, "score": 1.0 if status in ("pass", "warn") else 0.0,
                      "max_score": 1.0 if applies else 0.0,
                      "status": "passed" if status in ("pass", "warn", "skip") else "failed",
                      "output": f"{status}: {summaries.get(cid, '')}"})
    return {"score": sum(t["score"] for t in tests if t["max_score"]), "visibility": "visible",
            "output": f"Self-check report of {student.user}, made {student.created} on the {student.side}. "
                      "It records what the student's machine said; it is self-reported.",
            "tests": tests}


def main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    parser = argparse.ArgumentParser(prog="selfcheck collect",
                                     description="Gather students' JSON self-check reports for grading.")
    parser.add_argument("paths", nargs="+", help="report files, or folders searched for *.json")
    parser.add_argument("--assignment", default="methodology-1", help="keep only this assignment's reports "
                                                                      "(default: methodology-1; '' for any)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per student ('-' for standard output)")
    parser.add_argument("--summary", action="store_true", help="print how many students pass each check")
    parser.add_argument("--svg", metavar="FILE", help="write the cohort summary as an SVG bar chart")
    parser.add_argument("--gradescope", metavar="PATH",
                        help="write Gradescope results.json (a folder of <user>.json when several reports)")
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    missing = [p for p in ns.paths if not os.path.exists(p)]
    if missing:
        stderr.write(f"selfcheck collect: no such file or folder: {', '.join(missing)}\n")
        return 2
    result = collect(ns.paths, ns.assignment or None)
    for file, reason in result.rejected:
        stderr.write(f"skipped {file}: {reason}\n")
    if ns.csv:
        if ns.csv == "-":
            write_csv(result, stdout)
        else:
            with open(ns.csv, "w", encoding="utf-8", newline="") as handle:
                write_csv(result, handle)
    if ns.summary:
        stdout.write(summary_text(result))
    if ns.svg:
        Path(ns.svg).write_text(summary_svg(result), encoding="utf-8")
    if ns.gradescope:
        target = Path(ns.gradescope)
        if len(result.students) == 1 and target.suffix == ".json":
            target.write_text(json.dumps(gradescope(result.students[0]), indent=1, sort_keys=True), encoding="utf-8")
        else:
            target.mkdir(parents=True, exist_ok=True)
            for student in result.students:
                safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in student.user)
                (target / f"{safe}.json").write_text(json.dumps(gradescope(student), indent=1, sort_keys=True),
                                                    encoding="utf-8")
    if not (ns.csv or ns.summary or ns.svg or ns.gradescope):
        stdout.write(summary_text(result))
    stderr.write(f"{len(result.students)} report(s) collected, {len(result.rejected)} skipped\n")
    return 0 if result.students else 1
