"""Our Sphinx extension: pages generated from the checks package, so they never drift from it.

- ``{selfcheck-reference}``: every check id, what it verifies, and every fix it can suggest.
- ``{selfcheck-explain-table}``: the error messages ``selfcheck explain`` recognises.
- ``{expectations-table}`` (option ``:assignment: ID``): an assignment's expectations, only the
  rows its checks use (default: the course's assignment).
- ``course_assignment`` (``sphinx: config:`` in ``_config.yml``): the course's one setting, the
  assignment it grades (see ``checks/course.py``). Pages may write ``{{ assignment_title }}`` and
  ``{{ course_assignment }}``.
- After an HTML build, ``selfcheck.pyz`` (the single-file checker) is written beside the pages,
  carrying the course setting and the book's address (``html: baseurl:``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class _MarkdownDirective(SphinxDirective):
    """A directive whose body is Markdown generated from the checks package."""

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self) -> List[nodes.Node]:
        container = nodes.container(classes=["selfcheck-generated"])
        self.state.nested_parse(self.markdown().splitlines(), self.content_offset, container,
                                match_titles=True)
        return container.children


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class SelfcheckReference(_MarkdownDirective):
    """Every registered check, grouped by area, with its fixes."""

    def markdown(self) -> str:
        from checks.registry import all_checks

        area_titles = {"env": "Where you are and your environment", "ssh": "SSH keys and configuration",
                       "tunnel": "The Jupyter tunnel (port forward)", "resources": "Server resources",
                       "git": "Keeping code in sync"}
        out: List[str] = []
        area = None
        for spec in all_checks():
            if spec.area != area:
                area = spec.area
                out += [f"## {area_titles.get(area, area)}", ""]
            sides = ", ".join(s for s in ("laptop", "jumpbox", "server") if s in spec.sides)
            out += [f"({spec.anchor})=", f"### `{spec.id}`: {spec.title}", "",
                    f"**Checks:** {spec.description}", ""]
            if spec.explanation:
                out += [spec.explanation, ""]
            out += [f"**Runs on:** {sides}" + (" (only with `--live`)" if spec.live else ""), ""]
            if spec.requires:
                out += ["**Needs first:** " + ", ".join(f"`{r}`" for r in spec.requires), ""]
            if spec.fixes:
                out += ["**Fixes it can suggest:**", ""]
                out += [f"- {fix}" for fix in spec.fixes]
                out += [""]
        return "\n".join(out)


class SelfcheckExplainTable(_MarkdownDirective):
    """The table of error messages that `selfcheck explain` recognises."""

    def markdown(self) -> str:
        from checks.tools.explain import PATTERNS

        rows = ["| When you see | It means | Confirm with |", "|---|---|---|"]
        for pattern in PATTERNS:
            rows.append(f"| `{_cell(pattern.example)}` | {_cell(pattern.cause)} | `{pattern.check}` |")
        return "\n".join(rows)


class ExpectationsTable(_MarkdownDirective):
    """An assignment's expectations, from the same file the checks read: only the rows that the
    assignment's checks use."""

    option_spec = {"assignment": directives.unchanged}

    def markdown(self) -> str:
        from checks import expectations
        from checks.registry import select

        exp = expectations.load(self.options.get("assignment") or self.config.course_assignment)
        ids = {spec.id for spec in select(exp.checks)}

        def uses(*prefixes: str) -> bool:
            return any(i == p or i.startswith(p + ".") for i in ids for p in prefixes)

        script = f"`{exp.launch_script}`" + (f" (GPU: `{exp.gpu_launch_script}`)" if exp.gpus else "")
        rows = [("Login host", f"`{exp.login_host}`"), ("Launch script", script)]
        if uses("resources.cpus"):
            rows.append(("CPUs", f"{exp.cpus:g}"))
        if uses("resources.memory"):
            rows.append(("Memory", f"{exp.memory_gb:g} GB"))
        if uses("resources.gpus"):
            rows.append(("GPUs", str(exp.gpus)))
        if uses("resources.disk"):
            rows.append(("Free disk space", f"at least {exp.min_free_disk_gb:g} GB"))
        rows.append(("Launch command", f"`{exp.launch_command()}`"))
        if uses("tunnel"):
            rows.append(("Local port for the tunnel", str(exp.local_port)))
        if uses("ssh.key.type"):
            rows.append(("SSH key types accepted", ", ".join(exp.key_types)))
            if "rsa" in exp.key_types:
                rows.append(("Smallest RSA key", f"{exp.min_rsa_bits} bits (recommended: {exp.recommended_rsa_bits})"))
        if exp.python and uses("env.python"):
            rows.append(("Python", f"`{exp.python}`"))
        if uses("env.packages"):
            rows += [(f"Package `{name}`", f"`{spec}`") for name, spec in exp.packages]
        lines = ["| Expectation | Value |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
        return "\n".join(lines)


class AssignmentGrading(_MarkdownDirective):
    """What `selfcheck collect` scores for an assignment: each check, on which half, for how many points."""

    option_spec = {"assignment": directives.unchanged}

    def markdown(self) -> str:
        from checks import expectations
        from checks.registry import get
        from checks.tools.grading import requirements

        exp = expectations.load(self.options.get("assignment") or self.config.course_assignment)
        reqs = requirements(exp)
        rows = ["| Check | What it checks | Report | Points |", "|---|---|---|---|"]
        rows += [f"| {{ref}}`{r.check} <{get(r.check).anchor}>` | {_cell(get(r.check).title).replace('<', chr(92) + '<')} "
                 f"| {r.half} | {r.points:g} |" for r in reqs]
        rows.append(f"| | **Total** | | **{sum(r.points for r in reqs):g}** |")
        return "\n".join(rows)


class ExpectationsSchema(_MarkdownDirective):
    """Every key of an expectations file, from the validator itself."""

    def markdown(self) -> str:
        from checks.expectations import schema_rows

        rows = ["| key | expected | required |", "|---|---|---|"]
        rows += [f"| `{key}` | {_cell(what)} | {'yes' if required else 'no'} |" for key, what, required in schema_rows()]
        return "\n".join(rows)


def _course_setting(app: Sphinx, config: Config) -> None:
    """Check the course setting once, and offer it to pages as substitutions.

    The checker reads the same key from `_config.yml` with its own small reader (the standard
    library has no YAML): when the two readings differ, the build stops instead of shipping a
    single file that grades another assignment than the book shows.
    """
    from checks import course, expectations

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
        read = course.read_config_yml(yml.read_text(encoding="utf-8")).get("course_assignment", course.FALLBACK)
        if read != name:
            raise ConfigError(f"course_assignment: Sphinx reads {name!r} but the checker reads {read!r} from "
                              "_config.yml: write it as one plain line 'course_assignment: <id>' under "
                              "'sphinx:' -> 'config:'")
    config.myst_substitutions = {**(config.myst_substitutions or {}),
                                 "course_assignment": name, "assignment_title": exp.title}


def _write_pyz(app: Sphinx, exception: Exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_pyz import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    build(Path(app.outdir) / "selfcheck.pyz", assignment=app.config.course_assignment,
          docs_url=app.config.html_baseurl or "")


BOOK_LINE = 'BOOK = ""  # the book\'s address: the copy of this notebook you download from the book has it'


def _address_downloads(app: Sphinx, exception: Exception) -> None:
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


def _dedupe_inline_scripts(app: Sphinx, exception: Exception) -> None:
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

    app.add_config_value("course_assignment", FALLBACK, "env", types=[str])
    app.connect("config-inited", _course_setting)
    app.add_directive("selfcheck-reference", SelfcheckReference)
    app.add_directive("selfcheck-explain-table", SelfcheckExplainTable)
    app.add_directive("expectations-table", ExpectationsTable)
    app.add_directive("expectations-schema", ExpectationsSchema)
    app.add_directive("assignment-grading", AssignmentGrading)
    app.connect("build-finished", _write_pyz)
    app.connect("build-finished", _address_downloads)
    app.connect("build-finished", _dedupe_inline_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
