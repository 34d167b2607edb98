"""`selfcheck collect` survives any class folder: 1,000 reports, 10% broken in assorted ways.

Every good report is graded, every bad one is named with a reason, and nothing crashes or hangs
(the command runs as a process with a time bound; a FIFO and a link to /dev/zero are among them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import ROOT
from test_collect import EXP, report

BROKEN = {  # kind -> how to make one (10 of each)
    "truncated JSON": lambda p, i: p.write_text(report(f"t{i}")[:200]),
    "not UTF-8 or UTF-16": lambda p, i: p.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(64)),
    "nested 100,000 deep": lambda p, i: p.write_text("[" * 100_000 + "]" * 100_000),
    "wrong types": lambda p, i: p.write_text(json.dumps(
        [{"schema": "1"}, {"schema": 1, "tool_version": 1}, {"schema": 1, "tool_version": "0.1.0", "results": {}},
         {"schema": 1, "tool_version": "0.1.0", "results": [], "side": 42},
         {"schema": 1, "tool_version": "0.1.0", "side": "laptop", "assignment": EXP.id, "results": ["x"]},
         {"schema": 1, "tool_version": "0.1.0", "side": "laptop", "assignment": EXP.id, "results": [{"id": 1, "status": "pass"}]},
         [1, 2], None, "report", 3.5][i])),
    "a FIFO": lambda p, i: os.mkfifo(p),
    "a link to /dev/zero": lambda p, i: p.symlink_to("/dev/zero"),
    "2 GB (sparse)": lambda p, i: os.truncate(p.open("wb").name, 2 << 30),
    "a huge field": lambda p, i: p.write_text(report(f"h{i}").replace('"env.side said pass"', json.dumps("x" * 500_000))),
    "empty": lambda p, i: p.write_bytes(b""),
    "text, not JSON": lambda p, i: p.write_text("user,status\nana,pass\n"),
}


def test_a_class_folder_of_1000_reports_with_100_broken(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    good = set()
    for i in range(450):  # 450 students, each with a laptop and a server report, in nested folders
        sub = folder / f"section{i % 7}" / ("deep/" * (i % 3))
        sub.mkdir(parents=True, exist_ok=True)
        for side in ("laptop", "server"):
            path = sub / f"s{i:03d}-{side}.json"
            path.write_text(report(f"s{i:03d}", side))
            good.add(str(path))
    bad = {}
    broken = folder / "broken"
    broken.mkdir()
    for kind, make in BROKEN.items():
        for i in range(10):
            path = broken / f"{kind.replace(' ', '_').replace('/', '_')}-{i}.json"
            make(path, i)
            bad[str(path)] = kind
    assert len(good) + len(bad) == 1000
    proc = subprocess.run([sys.executable, "-m", "checks", "collect", str(folder), "--csv", str(tmp_path / "g.csv"),
                           "--summary"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    skipped = {}
    for line in proc.stderr.splitlines():
        if line.startswith("skipped "):
            path, _, reason = line[len("skipped "):].partition(": ")
            skipped[path] = reason
    assert set(skipped) == set(bad), set(bad) ^ set(skipped)  # every bad one named, no good one
    import csv

    rows = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))
    used = {r[f"{h}_file"] for r in rows for h in ("laptop", "server") if r[f"{h}_file"]}
    assert used == good  # every good one graded
    assert len(rows) == 450 and all(r["status"] == "complete" and r["score"] == r["max_score"] for r in rows)
    figures = Counter((bad[p], reason.split(" (")[0]) for p, reason in skipped.items())
    print("\n1,000 reports: 900 graded into 450 students; 100 skipped:")
    for (kind, reason), n in sorted(figures.items()):
        print(f"  {n:>3}  {kind:<20}  {reason}")
