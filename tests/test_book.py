"""The book builds for real, warning-free and offline, and a failing notebook fails it."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT, build_book

pytestmark = pytest.mark.slow

PAGES = ["index.html", "book/index.html", "lessons/remote-development.html", "lessons/dsmlp.html",
         "lessons/jupyter.html", "lessons/ssh-keys.html", "lessons/selfcheck-laptop.html",
         "lessons/selfcheck-server.html", "lessons/assignment-1.html", "book/troubleshooting.html",
         "book/cheat-sheet.html", "book/resources.html", "book/instructors.html"]


def test_expected_pages_exist(built_book: Path) -> None:
    for page in PAGES:
        assert (built_book / page).is_file(), f"{page} was not built"


def test_build_reported_no_warning(built_book: Path) -> None:
    log = (built_book.parent.parent / "build.log").read_text()
    assert "build succeeded" in log
    assert not re.search(r"\bWARNING\b", log), log
    assert "ERROR" not in log


class _Loads(HTMLParser):
    """Collects what a browser would fetch when it opens the page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and (a.get("rel") or "") in ("stylesheet", "preload", "icon"):
            self.urls.append(a["href"])


def test_no_page_loads_anything_from_the_web(built_book: Path) -> None:
    remote = []
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts:
            continue  # theme templates, not pages
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        remote += [f"{page.relative_to(built_book)}: {u}" for u in parser.urls if re.match(r"(https?:)?//", u)]
    assert remote == []


def test_single_file_checker_ships_with_the_site(built_book: Path) -> None:
    assert (built_book / "selfcheck.pyz").stat().st_size > 10_000


def test_troubleshooting_lists_every_check(built_book: Path) -> None:
    from checks.registry import all_checks

    page = (built_book / "book" / "troubleshooting.html").read_text(encoding="utf-8")
    for spec in all_checks():
        assert f'id="{spec.anchor}"' in page, spec.id
        for fix in spec.fixes:
            assert _text(fix) in _text(page), (spec.id, fix)


def _text(html: str) -> str:
    import html as h

    return " ".join(h.unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u2019", "'").split())


def test_a_failing_notebook_fails_the_build(tmp_path: Path) -> None:
    """Our configuration turns a notebook error into a failed build (a known false-green trap)."""
    book = tmp_path / "src"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (book / "index.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        "  name: python3\n  display_name: Python 3\n---\n# Broken\n\n```{code-cell} python3\n"
        "raise RuntimeError('this notebook is broken')\n```\n")
    proc = build_book(book, tmp_path / "out", timeout=300)
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "this notebook is broken" in (proc.stdout + proc.stderr) or list(
        (tmp_path / "out" / "_build" / "html" / "reports").glob("*.log"))


def test_every_checks_read_more_link_resolves(built_book: Path) -> None:
    """Each check's docs link names a page and an anchor that exist in the built book."""
    from checks.registry import all_checks

    for spec in all_checks():
        page, _, anchor = spec.docs.partition("#")
        html = (built_book / page).read_text(encoding="utf-8")
        assert f'id="{anchor}"' in html, spec.docs


def test_example_outputs_render_as_tables(built_book: Path) -> None:
    for page in ("lessons/selfcheck-laptop.html", "lessons/selfcheck-server.html"):
        html = (built_book / page).read_text(encoding="utf-8")
        assert 'class="selfcheck-report"' in html and "✗ fail" in html, page
        assert "outputs shown on this page are an example" in html


def test_expectations_table_matches_the_assignment_file(built_book: Path) -> None:
    """The assignment page follows the course setting: its title, its table, what it scores."""
    from checks import expectations
    from checks.tools.grading import requirements

    exp = expectations.load()  # the course's assignment (course_assignment in _config.yml)
    page = (built_book / "lessons" / "assignment-1.html").read_text(encoding="utf-8")
    html = _text(page)
    assert f"<h1>{exp.title}" in page
    assert f"Launch command {exp.launch_command()}" in html
    assert f"Memory {exp.memory_gb:g} GB" in html and f"Local port for the tunnel {exp.local_port}" in html
    assert ("Smallest RSA key" in html) == ("rsa" in exp.key_types)
    assert f"Total {sum(r.points for r in requirements(exp)):g}" in html


def test_images_have_alt_text(built_book: Path) -> None:
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts:
            continue
        for tag in re.findall(r"<img\b[^>]*>", page.read_text(encoding="utf-8")):
            assert re.search(r'alt="[^"]{10,}"', tag), f"{page.name}: {tag}"


def test_launch_buttons_when_configured(tmp_path: Path) -> None:
    """The instructor guide's launch-button settings give an nbgitpuller link on the notebook pages."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".pytest_cache"))
    config = (src / "_config.yml").read_text()
    config = config.replace('  jupyterhub_url: ""', "  jupyterhub_url: https://datahub.ucsd.edu")
    config += "\nrepository:\n  url: https://github.com/example-course/servers\n  branch: main\n"
    (src / "_config.yml").write_text(config)
    proc = build_book(src, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-3000:]
    page = (tmp_path / "out" / "_build" / "html" / "lessons" / "selfcheck-laptop.html").read_text(encoding="utf-8")
    assert "https://datahub.ucsd.edu/hub/user-redirect/git-pull?repo=https%3A//github.com/example-course/servers" in page
    assert "lessons/selfcheck-laptop.ipynb" in page
