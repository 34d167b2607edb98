"""Grade 10,000 student reports into a CSV, against reading the same files with json.loads alone.

Goal (issue 15): `selfcheck collect` at most 1.5x `json.loads` over the same files (1.66x before
grading learnt halves, scores and integrity flags). The reports are real `selfcheck --json` output
(every check, a laptop-side and a server-side run), copied with different users: a class of
5,000 students, each with both halves. Each side is timed several times,
interleaved, and the fastest run of each is compared, in CPU time (process_time) as well as wall time:
on a shared machine, the least disturbed.

Run: .venv/bin/python bench/collect_reports.py [--reports N] [--repeat R]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.cli import main as cli  # noqa: E402

GOAL = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--halves", type=int, choices=(1, 2), default=2,
                        help="2: each student sends a laptop and a server report; 1: a laptop report each")
    args = parser.parse_args()
    templates = []
    for side in ("laptop", "server")[:args.halves]:
        out = io.StringIO()
        cli(["--side", side, "--json", "--user", "template"], stdout=out, stderr=io.StringIO())
        templates.append(json.loads(out.getvalue()))
    folder = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    reports = folder / "reports"
    reports.mkdir()
    try:
        for i in range(args.reports):  # a class: each student's halves
            template = templates[i % args.halves]
            template["user"] = f"student{i // args.halves:05d}"
            (reports / f"{i:05d}.json").write_text(json.dumps(template))
        size = sum(p.stat().st_size for p in reports.iterdir())
        baseline, elapsed, code = [], [], 0
        for _ in range(args.repeat):
            started = (time.perf_counter(), time.process_time())
            for path in reports.iterdir():
                json.loads(path.read_bytes())
            baseline.append((time.perf_counter() - started[0], time.process_time() - started[1]))
            started = (time.perf_counter(), time.process_time())
            code = cli(["collect", str(reports), "--csv", str(folder / "grades.csv")], stdout=io.StringIO(),
                       stderr=io.StringIO())
            elapsed.append((time.perf_counter() - started[0], time.process_time() - started[1]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    wall = min(e[0] for e in elapsed) / min(b[0] for b in baseline)
    cpu = min(e[1] for e in elapsed) / min(b[1] for b in baseline)
    print(f"{args.reports} reports, {args.halves} per student ({size / 1e6:.1f} MB): "
          f"json.loads alone {min(b[0] for b in baseline):.2f} s | "
          f"collect to CSV {min(e[0] for e in elapsed):.2f} s | {wall:.2f}x wall, {cpu:.2f}x CPU "
          f"(goal <= {GOAL}x) | exit {code}")
    print(f"ratio: collect {args.reports} reports / json.loads over the same files (wall)|{wall:.2f}|{GOAL:.2f}")
    print(f"ratio: collect {args.reports} reports / json.loads over the same files (CPU)|{cpu:.2f}|0.00")
    return 0


if __name__ == "__main__":
    sys.exit(main())
