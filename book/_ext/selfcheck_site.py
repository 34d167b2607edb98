"""The book follows the course's site (`sites/<name>/site.toml`, see checks/site.py).

- Every page (Markdown, and the notebooks' Markdown cells) may write ``{{ site.<key> }}`` for any
  key of ``Site.values()`` (the login host, the launch command, ``links.*``, ``book.*``, ...); it is
  replaced before the page is parsed, so it works in prose, code blocks, link targets, admonitions
  and figure options. An unknown key stops the build, naming the page and the key.
- ``{{ snippet: <name> }}`` on a line of its own includes ``sites/<site>/snippets/<name>.md``
  (templated the same way): the few steps that truly differ between clusters.
- Diagrams (``.svg`` images, e.g. ``sites/<site>/images/*.svg``) are templated too, after they are
  copied into the built book.
- The self-check notebooks' stored outputs come from the example machines of the site they were
  made for (notebook metadata ``selfcheck.example_site``, written by scripts/refresh_examples.py;
  tests/test_notebooks.py proves them with nbval). A book for another site runs the notebook again,
  in the build, on that site's machines (``sites/<site>/machines/<laptop|server>``).
- The copies offered for download (``_sources/``) get the same text as the pages.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sphinx.application import Sphinx
from sphinx.errors import SphinxError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"\{\{\s*(site\.[A-Za-z0-9_.]*|snippet\s*:\s*[A-Za-z0-9_.-]*)\s*\}\}")
NOTEBOOK_SITE_KEY = "example_site"  # notebook metadata: selfcheck.example_site
MAX_DEPTH = 3


class SiteTemplateError(SphinxError):
    category = "Site template error"


def site_folder(name: str) -> Path:
    from checks import site

    return site.SITES / name


def render(text: str, name: str, where: str, depth: int = 0) -> str:
    """`text` with every ``{{ site.<key> }}`` and ``{{ snippet: <name> }}`` of site `name` filled in."""
    from checks import site as sites

    values = sites.load_site(name).values()

    def fill(match: "re.Match[str]") -> str:
        token = match.group(1)
        if token.startswith("snippet"):
            snippet = token.split(":", 1)[1].strip()
            path = site_folder(name) / "snippets" / f"{snippet}.md"
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", snippet) or not path.is_file():
                raise SiteTemplateError(f"{where}: {match.group(0)} names no snippet of the site {name!r} "
                                        f"(expected the file sites/{name}/snippets/{snippet}.md)")
            if depth >= MAX_DEPTH:
                raise SiteTemplateError(f"{where}: snippets nested more than {MAX_DEPTH} deep at {match.group(0)}")
            inner = path.read_text(encoding="utf-8")
            return render(inner, name, f"sites/{name}/snippets/{snippet}.md (included by {where})", depth + 1).rstrip("\n")
        key = token[len("site."):]
        if key not in values:
            raise SiteTemplateError(f"{where}: {{{{ site.{key} }}}} is not a value of the site {name!r}; the "
                                    f"known keys are: {', '.join(sorted(values))} (add page-only text under [book] "
                                    f"in sites/{name}/site.toml)")
        value = values[key]
        if "{{" in value and depth < MAX_DEPTH:  # a [book] value may use other values
            value = render(value, name, f"{where} ({{{{ site.{key} }}}})", depth + 1)
        return value

    return TOKEN.sub(fill, text)


# -- notebooks ---------------------------------------------------------------------------------

_RUN: Dict[Tuple[str, str], str] = {}  # (site, the notebook's text) -> the notebook run on that site's machine


def render_notebook(raw: str, name: str, where: str, path: Path) -> str:
    """A notebook for site `name`: outputs from that site's example machine, Markdown cells templated."""
    doc = json.loads(raw)
    made_for = (doc.get("metadata", {}).get("selfcheck") or {}).get(NOTEBOOK_SITE_KEY)
    if made_for and made_for != name:
        key = (name, raw)
        if key not in _RUN:
            _RUN[key] = _run_on_machine(raw, name, where, path)
        doc = json.loads(_RUN[key])
    for cell in doc.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", []))
            cell["source"] = render(source, name, where).splitlines(keepends=True)
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def machine_for(path: Path, name: str) -> Path:
    """The example machine a self-check notebook runs on: selfcheck-<machine>.ipynb."""
    return site_folder(name) / "machines" / path.stem.replace("selfcheck-", "", 1)


def _run_on_machine(raw: str, name: str, where: str, path: Path) -> str:
    """Run the notebook in a real kernel on the site's example machine (as refresh_examples.py does)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    machine = machine_for(path, name)
    if not machine.is_dir():
        raise SiteTemplateError(f"{where}: its example outputs were made for another site; the site {name!r} "
                                f"needs the example machine sites/{name}/machines/{machine.name}/ "
                                "(copy one from sites/dsmlp/machines/)")
    nb = nbformat.reads(raw, as_version=4)
    saved = {k: os.environ.get(k) for k in ("SELFCHECK_MACHINE", "COURSE_SITE", "PYTHONPATH")}
    os.environ.update({"SELFCHECK_MACHINE": str(machine), "COURSE_SITE": name,
                       "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))})
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as exc:
        raise SiteTemplateError(f"{where}: running it on sites/{name}/machines/{machine.name} failed: {exc}") from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.setdefault("selfcheck", {})[NOTEBOOK_SITE_KEY] = name
    return str(nbformat.writes(nb))


# -- Sphinx hooks ------------------------------------------------------------------------------

def render_file(app: Sphinx, path: Path, text: str) -> str:
    where = path.relative_to(Path(app.srcdir)).as_posix() if path.is_relative_to(Path(app.srcdir)) else str(path)
    if path.suffix == ".ipynb":
        return render_notebook(text, app.config.course_site, where, path)
    return render(text, app.config.course_site, where)


def _source_read(app: Sphinx, docname: str, source: List[str]) -> None:
    source[0] = render_file(app, Path(app.env.doc2path(docname)), source[0])


def _finished(app: Sphinx, exception: Optional[Exception]) -> None:
    """The downloadable copies (_sources/) and the diagrams get the same values as the pages."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for docname in app.env.found_docs:
        path = Path(app.env.doc2path(docname))
        copy = out / "_sources" / path.relative_to(Path(app.srcdir))
        for candidate in (copy, copy.with_name(copy.name + ".txt")):
            if candidate.is_file():
                candidate.write_text(render_file(app, path, path.read_text(encoding="utf-8")), encoding="utf-8")
    for image in (out / "_images").glob("*.svg"):
        text = image.read_text(encoding="utf-8")
        if "{{" in text:
            image.write_text(render(text, app.config.course_site, f"the diagram {image.name}"), encoding="utf-8")


def setup(app: Sphinx) -> Dict[str, Any]:
    app.connect("source-read", _source_read)
    app.connect("build-finished", _finished, priority=400)  # before the book's own (the address in downloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
