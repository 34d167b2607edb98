"""`make preview`: the book served on loopback, rebuilt after an edit, with live reload injected.

The real preview (scripts/preview.py: Sphinx kept loaded, sphinx-autobuild's server) runs on a
copy of the book, on a free port, and is stopped by its process id.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT
from realssh import free_port, stop_process

pytestmark = pytest.mark.slow


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode("utf-8", "replace")


def _wait_for(url: str, text: str, proc: subprocess.Popen, bound: float = 180.0) -> str:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the preview stopped"
        try:
            page = _get(url)
            if text in page:
                return page
        except (OSError, http.client.HTTPException):  # a page read while the rebuild rewrites it
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never showed {text!r} within {bound:.0f} s")


def test_the_preview_serves_the_book_and_shows_an_edit(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(ROOT, book, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__"))
    port = free_port()
    log = open(tmp_path / "preview.log", "wb")
    proc = subprocess.Popen([sys.executable, str(book / "scripts" / "preview.py"), "--port", str(port)],
                            cwd=str(book), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/lessons/jupyter.html"
        first = _wait_for(url, "</html>", proc)
        assert "websocket-reload" in first  # sphinx-autobuild's live-reload script is injected
        page = book / "lessons" / "jupyter.md"
        page.write_text(page.read_text(encoding="utf-8") + "\nA sentence the preview must show: qzxv.\n",
                        encoding="utf-8")
        _wait_for(url, "A sentence the preview must show: qzxv.", proc)
        # The page is written before the rebuild reports itself: wait for the report too.
        deadline = time.monotonic() + 60
        while "Rebuilt in" not in (tmp_path / "preview.log").read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, "the preview never said it rebuilt"
            time.sleep(0.2)
    finally:
        stop_process(proc)
        log.close()
    assert "Rebuilt in" in (tmp_path / "preview.log").read_text(errors="replace")
