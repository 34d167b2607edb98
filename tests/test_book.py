"""The book builds for real, warning-free and offline, and a failing notebook fails it."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT, build_book

pytestmark = pytest.mark.slow

PAGES = ["index.html", "book/index.html", "lessons/setup.html", "lessons/remote-development.html",
         "lessons/cluster.html", "lessons/jupyter.html", "lessons/ssh-keys.html", "lessons/remote-habits.html",
         "lessons/selfcheck-laptop.html", "lessons/selfcheck-server.html", "lessons/assignment-1.html",
         "book/troubleshooting.html", "book/help.html", "book/glossary.html", "book/cheat-sheet.html",
         "book/resources.html", "book/instructors.html"]


def lesson_pages() -> list:
    """The pages of the table of contents' "Lesson" part, as built HTML paths."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"] == "Lesson")
    return [chapter["file"] + ".html" for chapter in part["chapters"]]


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
    from checks.site import load_site

    page = (built_book / "book" / "troubleshooting.html").read_text(encoding="utf-8")
    kind = load_site().launch_kind
    left_out = 0
    for spec in all_checks():
        assert f'id="{spec.anchor}"' in page, spec.id
        for fix in spec.fixes:
            # A fix for another kind of cluster (Slurm's, on a launch-script site) is left out.
            shown = _text(getattr(fix, "text", fix)) in _text(page)
            assert shown == getattr(fix, "applies_to", lambda _kind: True)(kind), (spec.id, fix)
            left_out += not shown
    assert left_out >= 5  # START_JOB, JOB_SHELL, RELAUNCH_JOB, COPY_JUPYTER_URL, START_JUPYTER_NODE, ...


def _code_blocks(html: str) -> list:
    """The text of every highlighted code block on a page, as a reader would copy it."""
    import html as h

    return [" ".join(h.unescape(re.sub(r"</?span[^>]*>", "", block)).split()) for block in
            re.findall(r'<div class="highlight-[a-z0-9]+ notranslate"><div class="highlight"><pre>(.*?)</pre>',
                       html, flags=re.S)]


def test_troubleshooting_shows_every_fix_command(built_book: Path) -> None:
    """Every command a fix can print is on the page, alone in its own (copyable) block.

    The explainer's fixes are computed for each message's own example; a registry fix that carries
    commands (a Fix rather than a plain sentence) must show them too.
    """
    from checks.registry import all_checks
    from checks.shell import Shell
    from checks.tools.explain import PATTERNS

    page = (built_book / "book" / "troubleshooting.html").read_text(encoding="utf-8")
    blocks = _code_blocks(page)
    expected = []
    for pattern in PATTERNS:
        match = pattern.regex.search(pattern.example)
        assert match is not None, f"{pattern.name}: its example does not match its own pattern"
        fix = pattern.fix(match, Shell(Path("/home/you")))  # the examples' home: the page says ~/.ssh/...
        assert f'id="message-{pattern.name}"' in page, pattern.name
        assert _text(pattern.cause) in _text(page), pattern.name
        expected += list(fix.commands)
    expected += [c for spec in all_checks() for fix in spec.fixes for c in getattr(fix, "commands", ())]
    assert len(expected) >= len(PATTERNS)
    missing = []
    for command in expected:
        # A trailing "# Windows" is shown as a label above the block, not pasted into the shell.
        command, _, note = command.partition("   # ")
        if " ".join(command.split()) not in blocks or (note and f"{note.strip()}:" not in _text(page)):
            missing.append(command)
    assert missing == []
    assert "chmod 600 ~/.ssh/config" in blocks and not any("/home/you" in block for block in blocks)


def test_generated_text_is_escaped(built_book: Path) -> None:
    """Placeholders such as <you> survive as text, and options keep their two hyphens."""
    page = _text((built_book / "book" / "troubleshooting.html").read_text(encoding="utf-8"))
    assert "/user/<you>/" in page and "/user//" not in page
    assert "--live" in page and "\u2013live" not in page and "\u2014live" not in page


def test_every_lesson_page_has_objectives_time_and_key_points(built_book: Path) -> None:
    """The page frame: an overview (time, questions, objectives) first, key points after the last section."""
    pages = lesson_pages()
    assert len(pages) >= 6 and "lessons/setup.html" in pages
    problems = []
    for rel in pages:
        html = (built_book / rel).read_text(encoding="utf-8")
        article = html[html.index('<article class="bd-article">'):html.index("</article>")]
        overview = article.find('lesson-overview')
        keypoints = article.rfind('lesson-keypoints')
        last_section = max(article.rfind("<h2"), article.rfind("<h3"))
        if overview < 0 or not re.search(r"Time:</strong> about \d+ minutes", article):
            problems.append(f"{rel}: no overview with a time estimate")
        elif overview > article.find("<h2"):
            problems.append(f"{rel}: the overview is not before the first section")
        for word in ("Questions", "Objectives"):
            if f"<strong>{word}</strong>" not in article[overview:overview + 4000]:
                problems.append(f"{rel}: the overview has no {word}")
        if keypoints < 0:
            problems.append(f"{rel}: no key points")
        elif keypoints < last_section:
            problems.append(f"{rel}: the key points are not at the end")
    assert problems == []


def test_glossary_has_the_terms_and_lesson_pages_link_into_it(built_book: Path) -> None:
    glossary = (built_book / "book" / "glossary.html").read_text(encoding="utf-8")
    terms = set(re.findall(r'<dt id="(term-[^"]+)"', glossary))
    assert len(terms) >= 12
    for needed in ("login-node", "container", "pod", "port", "port-forward", "tunnel", "token", "key-pair",
                   "fingerprint", "cgroup"):
        assert f"term-{needed}" in terms, needed
    for rel in lesson_pages():
        html = (built_book / rel).read_text(encoding="utf-8")
        links = set(re.findall(r'href="[./]*book/glossary\.html#(term-[^"]+)"', html))
        assert links, f"{rel} links to no glossary term"
        assert links <= terms, (rel, links - terms)


def test_read_more_links_in_the_example_tables_resolve(built_book: Path) -> None:
    """The stored self-check tables link to the lesson, and every link lands on an existing anchor."""
    found = 0
    for page in ("lessons/selfcheck-laptop.html", "lessons/selfcheck-server.html"):
        html = (built_book / page).read_text(encoding="utf-8")
        assert "Read more in the lesson:" not in html, page
        for href in re.findall(r'<a class="selfcheck-read-more" href="([^"]+)"', html):
            target, _, anchor = href.partition("#")
            assert anchor and f'id="{anchor}"' in (built_book / "lessons" / target).read_text(encoding="utf-8"), href
            found += 1
    assert found >= 2


def test_help_link_says_plainly_when_it_is_not_set(built_book: Path) -> None:
    for page in ("book/help.html", "book/troubleshooting.html"):
        text = _text((built_book / page).read_text(encoding="utf-8"))
        assert "instructor has not set this course's help link" in text and "course_help_url" in text, page


def test_every_page_has_a_local_favicon(built_book: Path) -> None:
    for rel in PAGES[1:]:
        html = (built_book / rel).read_text(encoding="utf-8")
        icon = re.search(r'<link rel="icon" href="([^"]+)"', html)
        assert icon and (built_book / rel).parent.joinpath(icon.group(1)).resolve().is_file(), rel


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


def test_instructor_settings_when_configured(tmp_path: Path) -> None:
    """The instructor guide's settings: launch buttons, the help link and the published address."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".pytest_cache"))
    config = (src / "_config.yml").read_text()
    for old, new in (('  jupyterhub_url: ""', "  jupyterhub_url: https://datahub.ucsd.edu"),
                     ('    course_help_url: ""', "    course_help_url: https://forum.example.edu/servers"),
                     ('  baseurl: ""', "  baseurl: https://example-course.github.io/servers/")):
        assert old in config, old
        config = config.replace(old, new)
    config += "\nrepository:\n  url: https://github.com/example-course/servers\n  branch: main\n"
    (src / "_config.yml").write_text(config)
    proc = build_book(src, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-3000:]
    html = tmp_path / "out" / "_build" / "html"
    page = (html / "lessons" / "selfcheck-laptop.html").read_text(encoding="utf-8")
    assert "https://datahub.ucsd.edu/hub/user-redirect/git-pull?repo=https%3A//github.com/example-course/servers" in page
    assert "lessons/selfcheck-laptop.ipynb" in page
    assert 'href="https://example-course.github.io/servers/lessons/ssh-keys.html#create-a-key"' in page
    help_page = (html / "book" / "help.html").read_text(encoding="utf-8")
    assert 'href="https://forum.example.edu/servers"' in help_page and "has not set" not in help_page
