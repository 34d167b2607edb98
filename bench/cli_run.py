"""The CLI's full run of all local checks, as a process, against `python -c pass` in the same run.

Also `import checks` alone. Each figure is the median of N runs; the ratio is against the bare
interpreter start measured here, in the same command, on the same machine.

Run: .venv/bin/python bench/cli_run.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _median(argv, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    base = _median([py, "-c", "pass"], args.runs)
    imp = _median([py, "-c", "import checks"], args.runs)
    # Every local check: laptop side (the tunnel probe finds nothing on 8889 and answers at once).
    full = _median([py, "-m", "checks", "--side", "laptop"], args.runs)
    server = _median([py, "-m", "checks", "--side", "server"], args.runs)
    # The student's way: the single file, with an isolated interpreter (no site-packages).
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_pyz import build

    import tempfile

    pyz = build(Path(tempfile.mkdtemp()) / "selfcheck.pyz")
    bare = _median([py, "-I", "-c", "pass"], args.runs)
    single = _median([py, "-I", str(pyz), "--side", "laptop"], args.runs)
    print(f"python -c pass          {base * 1000:7.1f} ms  1.00x")
    print(f"import checks           {imp * 1000:7.1f} ms  {imp / base:.2f}x")
    print(f"selfcheck (laptop side) {full * 1000:7.1f} ms  {full / base:.2f}x")
    print(f"selfcheck (server side) {server * 1000:7.1f} ms  {server / base:.2f}x")
    print(f"python -I -c pass       {bare * 1000:7.1f} ms  1.00x")
    print(f"python -I selfcheck.pyz {single * 1000:7.1f} ms  {single / bare:.2f}x  (laptop side)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
