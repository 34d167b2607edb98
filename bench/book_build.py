"""Clean build time of the book against a no-change rebuild, side by side, with their ratio.

Run: .venv/bin/python bench/book_build.py [--repeat N]
Both builds run here, in this process's command, into one temporary directory: the first from
nothing (notebooks executed, every page written), then again with nothing changed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _build(out: Path) -> float:
    exe = Path(sys.executable).with_name("jupyter-book")
    started = time.perf_counter()
    subprocess.run([str(exe), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                   check=True, capture_output=True, timeout=900, cwd=str(ROOT))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    clean, rebuild = [], []
    for _ in range(args.repeat):
        out = Path(tempfile.mkdtemp(prefix="bench-book-"))
        try:
            clean.append(_build(out))
            rebuild.append(_build(out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    c, r = min(clean), min(rebuild)
    print(f"book: clean build {c:.2f} s | no-change rebuild {r:.2f} s | rebuild/clean {r / c:.2f}x "
          f"(best of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
