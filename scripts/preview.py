"""Serve the book with live reload while you edit it (`make preview`).

Jupyter Book 1 builds through Sphinx. This writes the Sphinx configuration that `jupyter-book
build` uses (from _config.yml, through Jupyter Book's own `get_final_config`) into
_build/preview/conf/, builds once, and serves _build/preview/html on 127.0.0.1 through
sphinx-autobuild's server, which reloads the browser after each rebuild.

Rebuilds run in this process: a page edit re-reads only that page, with Sphinx and every
extension already loaded (a new `sphinx-build` process per save spends most of its time
importing them; bench/book_preview.py measures both). An edit that changes what is imported or
configured (checks/, book/_ext/, _config.yml, _toc.yml) restarts the preview instead.
`make book` stays the clean, strict build (warnings are errors); the preview shows warnings and
goes on.

Run: .venv/bin/python scripts/preview.py [--port N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import weakref
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "preview"
# Edits here change Python code or configuration that a running Sphinx has already loaded.
RESTART_ON = ("checks", "book/_ext", "scripts", "_config.yml", "_toc.yml")


def write_conf(folder: Path, root: Path = ROOT) -> Path:
    """Write a conf.py equal to what `jupyter-book build` uses for the book at `root`; return its folder."""
    import yaml
    from jupyter_book.config import get_final_config

    config, _latex = get_final_config(user_yaml=root / "_config.yml", sourcedir=root,
                                      cli_config={"latex_individualpages": False})
    config["nb_execution_cache_path"] = str(root / "_build" / ".jupyter_cache")  # shared with `make book`
    folder.mkdir(parents=True, exist_ok=True)
    # Jupyter Book puts the folders of `sphinx.local_extensions` on sys.path itself; conf.py must.
    local = (yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")).get("sphinx") or {}).get(
        "local_extensions") or {}
    paths = [str((root / p).resolve()) for p in local.values()]
    # Sphinx reads these relative to the folder of conf.py, which is not the book's here.
    for key in ("html_favicon", "html_logo"):
        value = config.get(key)
        if value and "://" not in value and not Path(value).is_absolute():
            config[key] = str(root / value)
    for key in ("html_static_path", "templates_path", "html_extra_path"):
        if config.get(key):
            config[key] = [str(root / v) if not Path(v).is_absolute() else v for v in config[key]]
    lines = ["# Written by scripts/preview.py from _config.yml: do not edit, edit _config.yml.",
             "import sys", f"sys.path[:0] = {paths!r}"]
    lines += [f"{key} = {config[key]!r}" for key in sorted(config)]
    (folder / "conf.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


class Preview:
    """One Sphinx application, kept loaded, rebuilt in place after each edit."""

    def __init__(self, root: Path = ROOT, out: Path = OUT, quiet: bool = False) -> None:
        from sphinx.application import Sphinx

        self.root, self.out = root, out
        conf = write_conf(out / "conf", root)
        self.app: Any = Sphinx(str(root), str(conf), str(out / "html"), str(out / "doctrees"), "html",
                               status=None if quiet else sys.stdout, warning=sys.stderr, freshenv=False)
        self.app.connect("env-purge-doc", self._forget)
        _numbered()

    def _forget(self, _app: Any, env: Any, docname: str) -> None:
        """A page is read again: drop what is kept of its old version. Sphinx keeps each doctree's
        pickled bytes for the life of the environment (a new process starts without them), so in
        this long-lived process numfig would otherwise number a re-read page's old figures."""
        env._pickled_doctree_cache.pop(docname, None)
        _TREES.get(env, {}).pop(docname, None)

    def build(self) -> float:
        """Build what changed since the last build; the seconds it took."""
        started = time.perf_counter()
        self.app.build()
        return time.perf_counter() - started

    def __call__(self, changed_paths: Sequence[Path] = ()) -> None:
        """sphinx-autobuild's change callback."""
        relative = [str(p.relative_to(self.root)) for p in changed_paths if p.is_relative_to(self.root)]
        if any(rel == name or rel.startswith(name + os.sep) for rel in relative for name in RESTART_ON):
            print("Code or configuration changed: restarting the preview", flush=True)
            os.execv(sys.executable, [sys.executable, *sys.argv])
        print(f"Rebuilt in {self.build():.2f} s", flush=True)


# Each environment's doctrees as numfig's walk read them (see _numbered), until a page is read again.
_TREES: "weakref.WeakKeyDictionary[Any, Dict[str, Any]]" = weakref.WeakKeyDictionary()


def _numbered() -> None:
    """After each read, numfig walks every page's doctree, in toctree order, to number figures
    across the book; each is unpickled from the doctree cache, which made that walk a third of a
    preview's rebuild. In this process the walk reads each page's doctree once and keeps it until
    the page is read again (Preview._forget); the walk only reads them."""
    from sphinx.environment.collectors.toctree import TocTreeCollector

    walk = TocTreeCollector.assign_figure_numbers
    if getattr(walk, "_keeps_doctrees", False):
        return

    def assign_figure_numbers(collector: Any, env: Any) -> Any:
        trees = _TREES.setdefault(env, {})
        read = env.get_doctree

        def kept(docname: str) -> Any:
            if docname not in trees:
                trees[docname] = read(docname)
            return trees[docname]

        env.get_doctree = kept
        try:
            return walk(collector, env)
        finally:
            del env.get_doctree

    assign_figure_numbers._keeps_doctrees = True  # type: ignore[attr-defined]
    TocTreeCollector.assign_figure_numbers = assign_figure_numbers  # type: ignore[method-assign]


def _app(preview: Preview, host: str) -> Any:
    """sphinx-autobuild's server (static files, the live-reload script and websocket), with the
    rebuild run in this process: its own server runs each rebuild in a new process."""
    import asyncio

    import watchfiles
    from sphinx_autobuild.filter import IgnoreFilter
    from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
    from sphinx_autobuild.server import RebuildServer
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    class InProcess(RebuildServer):  # type: ignore[misc]
        async def watch(self) -> None:
            async for changes in watchfiles.awatch(*self.paths, watch_filter=lambda _, path: not self.ignore(path)):
                changed = [Path(path).resolve() for _, path in changes]
                await asyncio.to_thread(self.change_callback, changed_paths=changed)
                self.flag.set()

    ignore = IgnoreFilter([str(preview.root / d) for d in (".git", ".venv", "_build", ".mypy_cache", ".ruff_cache")],
                          [r".*/__pycache__/.*", r".*\.pyc$", r".*/\.ipynb_checkpoints/.*"])
    watcher = InProcess([preview.root], ignore, change_callback=preview)
    return Starlette(routes=[WebSocketRoute("/websocket-reload", watcher, name="reload"),
                             Mount("/", app=StaticFiles(directory=preview.out / "html", html=True), name="static")],
                     middleware=[Middleware(JavascriptInjectorMiddleware, ws_url=host)], lifespan=watcher.lifespan)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1 (default: %(default)s)")
    args = parser.parse_args(argv)
    preview = Preview()
    print(f"First build: {preview.build():.2f} s", flush=True)
    host = f"127.0.0.1:{args.port}"
    print(f"Preview at http://{host}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(_app(preview, host), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
