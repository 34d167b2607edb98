"""Collect 10,000 student reports into a CSV, against reading the same files with json.loads alone.

Goal (issue 8): 10,000 reports in at most 2 s. The reports are real `selfcheck --json` output
(every check, a laptop-side run), copied with different users.

Run: .venv/bin/python bench/collect_reports.py [--reports N]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    args = parser.parse_args()
    out = io.StringIO()
    cli(["--side", "laptop", "--json", "--user", "template"], stdout=out, stderr=io.StringIO())
    template = json.loads(out.getvalue())
    folder = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    try:
        for i in range(args.reports):
            template["user"] = f"student{i:05d}"
            (folder / f"{i:05d}.json").write_text(json.dumps(template))
        size = sum(p.stat().st_size for p in folder.iterdir())
        started = time.perf_counter()
        for path in folder.iterdir():
            json.loads(path.read_bytes())
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        code = cli(["collect", str(folder), "--csv", str(folder / "grades.csv")], stdout=io.StringIO(),
                   stderr=io.StringIO())
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.reports} reports ({size / 1e6:.1f} MB): json.loads alone {baseline:.2f} s | collect to CSV "
          f"{elapsed:.2f} s ({elapsed / baseline:.2f}x) | goal <= 2 s | exit {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
