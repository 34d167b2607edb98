"""A student's path, from the built site: download the self-check notebooks (and the single file),
open them anywhere, run them top to bottom.

The book is built for real with a published address (`html.baseurl`) that points at a plain HTTP
server on loopback, which then serves the built site, as GitHub Pages would. The notebooks run in
real kernels (nbclient) whose Python cannot import the package: the kernel starts without `site`
processing, so the course's editable install is invisible, as on a student's machine.
"""

from __future__ import annotations

import http.server
import json
import shutil
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import nbformat
import pytest
from conftest import ROOT, build_book
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = ["lessons/selfcheck-laptop.ipynb", "lessons/selfcheck-server.ipynb"]


class Site:
    """The built book, served over HTTP on loopback (bound before the build, so the address can
    be written into the book), stopped by the fixture that started it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Site":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("journey")
    book = work / "book"
    shutil.copytree(ROOT, book, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__"))
    served = Site(work / "out" / "_build" / "html")
    config = book / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n# added by the test\nhtml:\n  baseurl: {served.url}\n",
                      encoding="utf-8")
    proc = build_book(book, work / "out")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    served.start()
    yield served
    served.stop()


def _download(url: str, dest: Path) -> Path:
    with urllib.request.urlopen(url, timeout=10) as answer:
        dest.write_bytes(answer.read())
    return dest


@pytest.fixture
def bare_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Path]:
    """A kernel spec whose Python cannot import `checks`: no `site` (so no editable install), the
    toolchain's packages on PYTHONPATH for ipykernel alone, and a home folder of its own."""
    import site as site_module

    home = tmp_path / "home"
    home.mkdir()
    spec = tmp_path / "jupyter" / "kernels" / "bare"
    spec.mkdir(parents=True)
    packages = [p for p in site_module.getsitepackages() if Path(p).is_dir()]
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python without the course package", "language": "python",
        "env": {"PYTHONPATH": ":".join(packages), "HOME": str(home), "IPYTHONDIR": str(tmp_path / "ipython")},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return {"home": home}


def _run(notebook: Path) -> List[str]:
    """Every output text of the notebook run top to bottom; an exception in any cell fails."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="bare", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            texts.append(out.get("text", "") if out.get("output_type") == "stream" else json.dumps(out.get("data", {})))
    return texts


def test_the_downloaded_notebooks_carry_the_books_address(site: Site) -> None:
    for name in NOTEBOOKS:
        text = urllib.request.urlopen(site.url + "_sources/" + name, timeout=10).read().decode()
        assert f'BOOK = \\"{site.url}\\"' in text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_with_the_single_file_beside_it_runs_top_to_bottom(site: Site, bare_kernel, tmp_path: Path,
                                                                      name: str) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    notebook = _download(site.url + "_sources/" + name, folder / Path(name).name)
    _download(site.url + "selfcheck.pyz", folder / "selfcheck.pyz")
    texts = _run(notebook)
    assert "ready (from selfcheck.pyz beside this notebook)" in texts[0]


def test_a_notebook_alone_fetches_the_single_file_from_the_book(site: Site, bare_kernel, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    notebook = _download(site.url + "_sources/" + NOTEBOOKS[0], folder / "selfcheck-laptop.ipynb")
    texts = _run(notebook)
    assert "ready (downloaded from the book to ~/selfcheck.pyz)" in texts[0]
    served = urllib.request.urlopen(site.url + "selfcheck.pyz", timeout=10).read()
    assert (bare_kernel["home"] / "selfcheck.pyz").read_bytes() == served


def test_without_an_address_or_a_file_every_cell_says_what_to_do(bare_kernel, tmp_path: Path) -> None:
    folder = tmp_path / "alone"
    folder.mkdir()
    notebook = shutil.copy(ROOT / NOTEBOOKS[0], folder / "selfcheck-laptop.ipynb")
    texts = _run(Path(notebook))
    assert texts and all("No self-checks found: download selfcheck.pyz from the book" in t for t in texts)
    assert not (bare_kernel["home"] / "selfcheck.pyz").exists()
