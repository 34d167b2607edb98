"""Our Sphinx extension: pages generated from the checks package, so they never drift from it.

- ``{selfcheck-troubleshooting}``: the messages ``selfcheck explain`` knows, with their fix commands,
  then every check grouped by area, with a short table per area and every fix it can suggest.
- ``{expectations-table}`` (option ``:assignment: ID``; default: the course's assignment, only the
  rows its checks use), ``{assignment-grading}`` (what collect scores) and ``{expectations-schema}``.
- ``course_assignment`` (``sphinx: config:`` in ``_config.yml``): the course's one setting, the
  assignment it grades (see ``checks/course.py``). Pages may write ``{{ assignment_title }}`` and
  ``{{ course_assignment }}``; the single file built with the book carries it.
- ``{site-schema}`` (the keys of a site file) and ``{site-values}`` (this site's values, as pages
  write them: ``{{ site.<key> }}``, filled in by ``selfcheck_site.py``).
- ``{course-help}``: where students ask for help, from ``course_help_url`` in ``_config.yml``.
- The self-check tables stored in the notebooks get real "Read more" links (absolute when
  ``html.baseurl`` gives the book's published address).
- The book's own CSS, favicon and a search fix for numbers (``8889``) live in ``book/_static``.
- After an HTML build, ``selfcheck.pyz`` (the single-file checker) is written beside the pages.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parents[1] / "_static"
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import selfcheck_pages as pages  # noqa: E402 - needs the path above

HELP_UNSET = ("Your instructor has not set this course's help link yet. Until they do, ask the course "
              "staff through the course's usual channel (announcements, the syllabus, or in class).")


class _MarkdownDirective(SphinxDirective):
    """A directive whose body is Markdown generated from the checks package (escaped by `pages`)."""

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self) -> List[nodes.Node]:
        container = nodes.container(classes=["selfcheck-generated"])
        self.state.nested_parse(self.markdown().splitlines(), self.content_offset, container,
                                match_titles=True)
        return container.children


class SelfcheckTroubleshooting(_MarkdownDirective):
    def markdown(self) -> str:
        from checks.site import load_site

        return pages.troubleshooting_markdown(load_site(self.config.course_site).launch_kind)


class ExpectationsTable(_MarkdownDirective):
    option_spec = {"assignment": directives.unchanged}

    def markdown(self) -> str:
        return pages.expectations_markdown(self.options.get("assignment") or self.config.course_assignment)


class AssignmentGrading(_MarkdownDirective):
    option_spec = {"assignment": directives.unchanged}

    def markdown(self) -> str:
        return pages.grading_markdown(self.options.get("assignment") or self.config.course_assignment)


class ExpectationsSchema(_MarkdownDirective):
    def markdown(self) -> str:
        return pages.schema_markdown()


class SiteSchema(_MarkdownDirective):
    def markdown(self) -> str:
        return pages.site_schema_markdown()


class SiteValues(_MarkdownDirective):
    def markdown(self) -> str:
        return pages.site_values_markdown(self.config.course_site)


class CourseHelp(_MarkdownDirective):
    """Where to ask: the link from `course_help_url`, or a plain note that it is not set."""

    def markdown(self) -> str:
        url = (self.config.course_help_url or "").strip()
        if url:
            return (f"Ask on the course's help page: [{pages.text(url)}]({url}). Say what you ran, paste what "
                    "the terminal printed (the self-check never prints your token or key), and say which "
                    "machine you were on: your laptop, the login node or your server.")
        return (f"{pages.text(HELP_UNSET)}\n\n"
                "*For instructors:* set " + pages.code("course_help_url") + " under " + pages.code("sphinx: config:")
                + " in " + pages.code("_config.yml") + " to your forum or office-hours page, and rebuild the book.")


class GetSelfcheck(_MarkdownDirective):
    """How to get selfcheck.pyz onto the login node (and so the server, which shares its home):
    one command that fetches it from the book's published address (`html.baseurl`), and one that
    copies it from the laptop. Without an address, the page says what the instructor must set."""

    def markdown(self) -> str:
        from checks import expectations

        base = (self.config.html_baseurl or "").strip()
        assignment = getattr(self.config, "course_assignment", None) or None
        host = expectations.load(assignment).login_host
        copy = ["From your laptop, in the folder where you saved it, copy it to your home on the login node:", "",
                *pages.command_block(f"scp selfcheck.pyz <username>@{host}:"), ""]
        if not base:
            return "\n".join(copy + [
                "*For instructors:* set " + pages.code("html: baseurl:") + " in " + pages.code("_config.yml")
                + " to the address where the book is published, and this page will also show the one command "
                "that downloads the self-check on the login node."])
        url = base.rstrip("/") + "/selfcheck.pyz"
        fetch = f"python3 -c \"import urllib.request; urllib.request.urlretrieve('{url}', 'selfcheck.pyz')\""
        return "\n".join(["On the login node (or in your server: they share your home folder), download it into "
                          "your home folder:", "", *pages.command_block(fetch), "", "Or " + copy[0][0].lower()
                          + copy[0][1:], *copy[1:]])


def _read_more_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Turn "Read more in the lesson: <code>page#anchor</code>" in stored self-check tables into links.

    The notebooks' outputs were made without the book's address, so they name the page; here it
    becomes a link, relative to this page, or absolute when `html_baseurl` is set.
    """
    if app.builder.format != "html":
        return
    labels: Dict[str, Any] = app.env.get_domain("std").labels  # type: ignore[attr-defined]
    base = (app.config.html_baseurl or "").strip()
    here = app.builder.get_target_uri(docname)

    def link(match: "re.Match[str]") -> str:
        target = html.unescape(match.group(1))
        path, _, anchor = target.partition("#")
        title = labels.get(anchor, (None, None, ""))[2] or "the lesson"
        href = (base.rstrip("/") + "/" + path) if base else relative_uri(here, path)
        href += f"#{anchor}" if anchor else ""
        return f'<p><a class="selfcheck-read-more" href="{html.escape(href)}">Read more: {html.escape(title)}</a></p>'

    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", "") or "selfcheck-report" not in raw.astext():
            continue
        new = re.sub(r'<p class="selfcheck-read-more" data-docs="([^"]+)">.*?</p>', link, raw.astext(), flags=re.S)
        if new != raw.astext():
            raw.replace_self(nodes.raw("", new, format=raw["format"], classes=raw.get("classes", [])))


def _static_files(app: Sphinx, config: Config) -> None:
    """The book's own CSS and scripts (book/_static), wherever the book is built from."""
    if STATIC.is_dir():
        config.html_static_path = list(config.html_static_path) + [str(STATIC)]


def _write_pyz(app: Sphinx, exception: Optional[Exception]) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_pyz import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    build(Path(app.outdir) / "selfcheck.pyz", assignment=app.config.course_assignment,
          docs_url=app.config.html_baseurl or "", site=app.config.course_site)


def _course_setting(app: Sphinx, config: Config) -> None:
    """Check the course setting once, and offer it to pages as substitutions.

    The checker reads the same key from `_config.yml` with its own small reader (the standard
    library has no YAML): when the two readings differ, the build stops instead of shipping a
    single file that grades another assignment than the book shows.
    """
    from checks import course, expectations, site

    chosen = course.site_override() or config.course_site
    try:
        config.course_site = site.load_site(chosen).name
    except site.SiteError as exc:
        raise ConfigError(f"course_site: {exc}") from None
    name = config.course_assignment
    try:
        exp = expectations.load(name)
    except expectations.ExpectationsError as exc:
        raise ConfigError(f"course_assignment: {exc} (the setting names a file checks/assignments/<id>.toml)") from None
    if exp.source != f"{name}.toml":
        raise ConfigError(f"course_assignment: {name!r} is not a shipped assignment: add it as "
                          f"checks/assignments/{name}.toml, so that the single file carries it")
    yml = Path(app.srcdir) / "_config.yml"
    if yml.is_file():
        values = course.read_config_yml(yml.read_text(encoding="utf-8"))
        read = values.get("course_assignment", course.FALLBACK)
        if (course.site_override() or values.get("course_site", "dsmlp")) != config.course_site:
            raise ConfigError(f"course_site: Sphinx reads {config.course_site!r} but the checker reads "
                              f"{values.get('course_site')!r} from _config.yml: write it as one plain line "
                              "'course_site: <name>' under 'sphinx:' -> 'config:'")
        if read != name:
            raise ConfigError(f"course_assignment: Sphinx reads {name!r} but the checker reads {read!r} from "
                              "_config.yml: write it as one plain line 'course_assignment: <id>' under "
                              "'sphinx:' -> 'config:'")
    config.myst_substitutions = {**(config.myst_substitutions or {}),
                                 "course_assignment": name, "assignment_title": exp.title}


BOOK_LINE = 'BOOK = ""  # the book\'s address: the copy of this notebook you download from the book has it'


def _address_downloads(app: Sphinx, exception: Optional[Exception]) -> None:
    """Write the book's published address (`html.baseurl` in _config.yml) into the self-check
    notebooks students download, so their first cell can fetch selfcheck.pyz from the book."""
    if exception is not None or app.builder.format != "html":
        return
    import json

    address = (app.config.html_baseurl or "").strip()
    if not address:
        return
    address = address.rstrip("/") + "/"
    for notebook in (Path(app.outdir) / "_sources").rglob("selfcheck-*.ipynb"):
        doc = json.loads(notebook.read_text(encoding="utf-8"))
        for cell in doc.get("cells", []):
            source = "".join(cell.get("source", []))
            if BOOK_LINE in source:
                filled = source.replace(BOOK_LINE, BOOK_LINE.replace('BOOK = ""', f"BOOK = {json.dumps(address)}"))
                cell["source"] = filled.splitlines(keepends=True)
        notebook.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _dedupe_inline_scripts(app: Sphinx, exception: Optional[Exception]) -> None:
    """Drop repeated inline <script> lines from each page's head.

    Jupyter Book 1 registers sphinx-thebe's and sphinx-togglebutton's inline configuration
    twice, late in page rendering, and the second `const THEBE_JS_URL` is a JavaScript error on
    every page. An exact repeat of an inline script line is removed after the build.
    """
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        head, sep, body = text.partition("</head>")
        if not sep:
            continue
        seen, lines = set(), []
        for line in head.split("\n"):
            key = line.strip()
            if key.startswith("<script>") and key.endswith("</script>"):
                if key in seen:
                    continue
                seen.add(key)
            lines.append(line)
        new = "\n".join(lines) + sep + body
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    from checks.course import FALLBACK

    app.add_config_value("course_help_url", "", "env")
    app.add_config_value("course_assignment", FALLBACK, "env", types=[str])
    app.add_config_value("course_site", "dsmlp", "env", types=[str])
    app.connect("config-inited", _course_setting)
    app.setup_extension("selfcheck_site")  # pages, notebooks and diagrams follow the course's site
    app.add_directive("selfcheck-troubleshooting", SelfcheckTroubleshooting)
    app.add_directive("expectations-table", ExpectationsTable)
    app.add_directive("expectations-schema", ExpectationsSchema)
    app.add_directive("site-schema", SiteSchema)
    app.add_directive("site-values", SiteValues)
    app.add_directive("course-help", CourseHelp)
    app.add_directive("assignment-grading", AssignmentGrading)
    app.add_directive("get-selfcheck", GetSelfcheck)
    app.connect("config-inited", _static_files)
    app.add_css_file("course.css")
    app.add_js_file("search-numbers.js")
    app.connect("doctree-resolved", _read_more_links)
    app.connect("build-finished", _write_pyz)
    app.connect("build-finished", _address_downloads)
    app.connect("build-finished", _dedupe_inline_scripts)
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
