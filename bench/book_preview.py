"""The author's loop: the preview's rebuild after editing one page, against a clean build.

`make preview` (scripts/preview.py) keeps one Sphinx application loaded and rebuilds it in place
after each save. Here, on a copy of the book, in this command:
- clean build: `python -m sphinx` into an empty folder, as a new process (what `make book` does
  through Jupyter Book, without its checks);
- preview rebuild: the preview's builder after one page is edited (the figure the goal is about);
- a new `sphinx-build` process after the same edit, for scale: what stock sphinx-autobuild runs.
Goal: the preview's rebuild takes at most 0.15x the clean build.

Run: .venv/bin/python bench/book_preview.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from preview import Preview, write_conf  # noqa: E402

PAGE = "lessons/jupyter.md"
GOAL = 0.15


def _sphinx(src: Path, conf: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(conf), str(src), str(out)],
                   check=True, capture_output=True, timeout=900, cwd=str(src))
    return time.perf_counter() - started


def _edit(page: Path, n: int) -> None:
    page.write_text(page.read_text(encoding="utf-8") + f"\nAn edit, number {n}.\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    try:
        src = work / "book"
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__"))
        conf = write_conf(work / "conf", root=src)
        clean = min(_sphinx(src, conf, work / f"clean-{i}") for i in range(args.repeat))
        preview = Preview(src, work / "preview", quiet=True)
        preview.build()
        rebuilds = []
        for i in range(args.repeat):
            _edit(src / PAGE, i)
            rebuilds.append(preview.build())
        process = []
        for i in range(args.repeat):
            _edit(src / PAGE, 100 + i)
            process.append(_sphinx(src, conf, work / "clean-0"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rebuild, new_process = statistics.median(rebuilds), statistics.median(process)
    print(f"{'clean build (new sphinx process)':<46} {clean:6.2f} s  1.00x")
    print(f"{'preview rebuild after editing one page':<46} {rebuild:6.2f} s  {rebuild / clean:.2f}x  (goal <= {GOAL}x)")
    print(f"{'new sphinx process after the same edit':<46} {new_process:6.2f} s  {new_process / clean:.2f}x  "
          "(stock sphinx-autobuild, for scale)")
    print(f"ratio: book preview rebuild after editing one page / clean build|{rebuild / clean:.2f}|{GOAL:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
