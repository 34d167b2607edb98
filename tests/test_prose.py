"""The book says things in its own words: no run of ten prose words is shared with the seed lesson.

The seed (the course's original lesson) is a source of facts, not of sentences. Its text is not in
this repository; tests/data/seed-shingles.txt holds a hash of each of its 10-word prose runs
(scripts/seed_shingles.py). Commands, code and URLs are left out on both sides.
"""

from __future__ import annotations

import json
import sys
from typing import Dict, List, Set

from conftest import DATA, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from seed_shingles import RUN, prose_words, shingles

# One sentence of the seed, quoted to prove the fingerprints and the detector work together.
SEED_SENTENCE = ("Servers are great, as they give you access to RAM, CPU, and GPU resources that far "
                 "exceed those of your personal computer.")


def seed_runs() -> Set[str]:
    lines = (DATA / "seed-shingles.txt").read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def book_sources() -> Dict[str, str]:
    """Every page's Markdown: the .md pages, the sites' snippets and the notebooks' Markdown cells."""
    out = {}
    for folder in ("lessons", "book", "sites"):
        for path in sorted((ROOT / folder).rglob("*.md")):
            if "_ext" in path.parts or "machines" in path.parts:
                continue
            out[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
        for path in sorted((ROOT / folder).rglob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            out[str(path.relative_to(ROOT))] = "\n\n".join(
                "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return out


def shared_runs(markdown: str, seed: Set[str]) -> List[str]:
    words = prose_words(markdown)
    return [" ".join(words[i:i + RUN]) for i in range(len(words) - RUN + 1)
            if shingles(words[i:i + RUN]) & seed]


def test_the_detector_finds_a_sentence_of_the_seed() -> None:
    assert len(seed_runs()) > 1000
    assert shared_runs(SEED_SENTENCE, seed_runs()), "the fingerprints no longer match the seed"
    assert not shared_runs("Servers give you far more memory and processors than a laptop does, "
                           "and they keep running while it sleeps.", seed_runs())


def test_no_page_shares_ten_words_with_the_seed() -> None:
    seed = seed_runs()
    sources = book_sources()
    assert any(name.endswith("jupyter.md") for name in sources) and len(sources) > 10
    found = {name: runs for name, text in sources.items() if (runs := shared_runs(text, seed))}
    assert found == {}
