"""Write the fingerprints of the seed lesson's 10-word runs, for tests/test_prose.py.

The seed (the course's original lesson, a source of facts) is not part of this repository; only
a hash of each run of ten consecutive prose words is kept, so the test can prove the book says
things in its own words without shipping the seed's text. Run after the seed changes:

    .venv/bin/python scripts/seed_shingles.py ../shared/seed/lesson-01-servers.md
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Iterable, List, Set

RUN = 10
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed-shingles.txt"


def prose_words(markdown: str) -> List[str]:
    """The prose words of a Markdown text: code, commands, URLs and markup left out."""
    text = re.sub(r"(?ms)^\s*(```|~~~).*?^\s*\1[^\n]*$", " ", markdown)  # fenced blocks
    text = re.sub(r"`[^`\n]*`", " ", text)  # inline code
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # link targets
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>\n]+>", " ", text)  # HTML tags and <placeholders>
    text = re.sub(r"\{[a-z-]+\}", " ", text)  # MyST roles and directive names
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("\u2019", "'"))


def shingles(words: List[str], run: int = RUN) -> Set[str]:
    """A short hash of every run of `run` consecutive words."""
    return {hashlib.sha256(" ".join(words[i:i + run]).encode()).hexdigest()[:16]
            for i in range(len(words) - run + 1)}


def write(seed: Path, out: Path = OUT) -> Iterable[str]:
    found = sorted(shingles(prose_words(seed.read_text(encoding="utf-8"))))
    out.write_text("# sha256[:16] of each 10-word prose run of the seed lesson (scripts/seed_shingles.py)\n"
                   + "\n".join(found) + "\n", encoding="utf-8")
    return found


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: seed_shingles.py <seed lesson .md>")
    print(f"{len(list(write(Path(sys.argv[1]))))} runs written to {OUT}")
