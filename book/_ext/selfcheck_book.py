"""Our Sphinx extension: pages generated from the checks package, so they never drift from it.

- ``{selfcheck-reference}``: every check id, what it verifies, and every fix it can suggest.
- ``{selfcheck-explain-table}``: the error messages ``selfcheck explain`` recognises.
- ``{expectations-table}`` (option ``:assignment: ID``): an assignment's expectations.
- After an HTML build, ``selfcheck.pyz`` (the single-file checker) is written beside the pages.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
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
    """An assignment's expectations, from the same file the checks read."""

    option_spec = {"assignment": directives.unchanged}

    def markdown(self) -> str:
        from checks import expectations

        exp = expectations.load(self.options.get("assignment") or expectations.DEFAULT_ASSIGNMENT)
        rows = [
            ("Login host", f"`{exp.login_host}`"),
            ("Launch script", f"`{exp.launch_script}` (GPU: `{exp.gpu_launch_script}`)"),
            ("CPUs", f"{exp.cpus:g}"),
            ("Memory", f"{exp.memory_gb:g} GB"),
            ("GPUs", str(exp.gpus)),
            ("Launch command", f"`{exp.launch_command()}`"),
            ("Local port for the tunnel", str(exp.local_port)),
            ("SSH key types accepted", ", ".join(exp.key_types)),
            ("Smallest RSA key", f"{exp.min_rsa_bits} bits (recommended: {exp.recommended_rsa_bits})"),
        ]
        if exp.python:
            rows.append(("Python", f"`{exp.python}`"))
        rows += [(f"Package `{name}`", f"`{spec}`") for name, spec in exp.packages]
        lines = ["| Expectation | Value |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]
        return "\n".join(lines)


class ExpectationsSchema(_MarkdownDirective):
    """Every key of an expectations file, from the validator itself."""

    def markdown(self) -> str:
        from checks.expectations import schema_rows

        rows = ["| key | expected | required |", "|---|---|---|"]
        rows += [f"| `{key}` | {_cell(what)} | {'yes' if required else 'no'} |" for key, what, required in schema_rows()]
        return "\n".join(rows)


def _write_pyz(app: Sphinx, exception: Exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_pyz import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    build(Path(app.outdir) / "selfcheck.pyz")


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
    app.add_directive("selfcheck-reference", SelfcheckReference)
    app.add_directive("selfcheck-explain-table", SelfcheckExplainTable)
    app.add_directive("expectations-table", ExpectationsTable)
    app.add_directive("expectations-schema", ExpectationsSchema)
    app.connect("build-finished", _write_pyz)
    app.connect("build-finished", _address_downloads)
    app.connect("build-finished", _dedupe_inline_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
