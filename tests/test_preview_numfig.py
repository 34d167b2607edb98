"""The preview's figure numbers follow an edit: numfig numbers figures across the book, and the
preview (scripts/preview.py) rebuilds in one long-lived Sphinx, which keeps doctrees between
builds (its own pickled cache, and the preview's kept doctrees for numfig's walk). A figure added
to an earlier page renumbers the later pages' figures, and removing it numbers them back."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

FIGURE = """
```{figure} images/port-forward.svg
:alt: A figure added by the test.

A caption added by the test.
```
"""


def _numbers(html: Path) -> list:
    return re.findall(r'<span class="caption-number">Fig\. (\d+) ?</span>', html.read_text(encoding="utf-8"))


def test_a_figure_added_to_an_earlier_page_renumbers_later_pages(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(ROOT, book, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__"))
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from preview import Preview
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    preview = Preview(book, tmp_path / "preview", quiet=True)
    preview.build()
    html = tmp_path / "preview" / "html" / "lessons"
    before = (_numbers(html / "cluster.html"), _numbers(html / "jupyter.html"))
    assert before == (["1"], ["2"]), before  # numbered across the book, in toctree order
    setup = book / "lessons" / "setup.md"  # the first lesson page, before both
    original = setup.read_text(encoding="utf-8")
    setup.write_text(original + FIGURE, encoding="utf-8")
    preview.build()
    assert _numbers(html / "setup.html") == ["1"]
    assert (_numbers(html / "cluster.html"), _numbers(html / "jupyter.html")) == (["2"], ["3"])
    setup.write_text(original, encoding="utf-8")
    preview.build()
    assert (_numbers(html / "cluster.html"), _numbers(html / "jupyter.html")) == before
