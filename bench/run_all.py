"""Run every benchmark in bench/, one after the other, print their figures, then the goals' ratios
together, aligned (each is a ratio against a baseline measured in the same benchmark's run).

A benchmark reports a ratio with a line `ratio: <what>|<ratio>|<goal>` (goal 0: printed for scale).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFIX = "ratio: "


def main() -> int:
    status = 0
    ratios = []
    for script in sorted(HERE.glob("*.py")):
        if script.name == "run_all.py" or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(PREFIX):
                what, ratio, goal = line[len(PREFIX):].rstrip("\n").rsplit("|", 2)
                ratios.append((what, float(ratio), float(goal)))
            else:
                print(line, end="", flush=True)
        status |= proc.wait(timeout=1800)
    print("== ratios (each against its baseline in the same run)")
    width = max((len(what) for what, _, _ in ratios), default=0)
    for what, ratio, goal in ratios:
        verdict = ("met" if ratio <= goal else "NOT met") if goal else "for scale"
        shown = f"goal <= {goal:.2f}x  {verdict}" if goal else verdict
        print(f"{what:<{width}}  {ratio:6.2f}x  {shown}")
    return status


if __name__ == "__main__":
    sys.exit(main())
