"""Build selfcheck.pyz: the checks package as one file, runnable with `python3 selfcheck.pyz`.

It bundles `tomli` so that Python 3.9 and 3.10 (a Mac's system Python) need nothing
installed. It carries the course setting (`checks/_course.txt`: the assignment and the book's
address, from `_config.yml` unless given), so a copy of the file anywhere defaults to the course's
assignment (see checks/course.py). The archive is reproducible: fixed timestamps and sorted entries.
Its zip comment is a digest of everything it is made from (this script, the interpreter's bytecode
version, every file it carries, the course setting): an archive at DEST with the same digest is
left as it is, so the book's preview does not rewrite it after every page edit.

Usage: python scripts/build_pyz.py [DEST]   (default: _build/selfcheck.pyz)
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
EPOCH = (2020, 1, 1, 0, 0, 0)
# Plain syntax on purpose: an old python3 (a login node's 3.6, say) must be able to read it and
# say what is wrong, instead of failing on the package's own syntax.
MAIN = (
    "import sys\n"
    "if sys.version_info < (3, 9):\n"
    "    sys.stderr.write('selfcheck needs Python 3.9 or newer, and this is Python %d.%d: try python3.11 or '\n"
    "                     'python3.12, or your course notebook (import checks)\\n' % sys.version_info[:2])\n"
    "    sys.exit(2)  # a usage error, as documented: this Python cannot run it\n"
    "from checks.cli import main\n"
    "sys.exit(main())\n"
)


def _files(package_dir: Path, arc_root: str):
    for path in sorted(package_dir.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix in (".py", ".toml") or path.name == "py.typed":
            yield path, f"{arc_root}/{path.relative_to(package_dir).as_posix()}"


def _digest(parts: List[bytes]) -> bytes:
    import hashlib

    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return b"selfcheck inputs sha256:" + h.hexdigest().encode()


def _comment(path: Path) -> Optional[bytes]:
    """The zip comment of an archive at `path`, or None when there is none to read."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.comment
    except (OSError, zipfile.BadZipFile):
        return None


def _bytecode(source: bytes, arcname: str) -> bytes:
    """An unchecked-hash .pyc for this interpreter (PEP 552), stored beside its source in the archive.

    zipimport never writes bytecode, so without these every run would compile the whole package
    (about 100 ms on a small laptop). It uses a .pyc whose magic number matches the running Python;
    any other Python reads the .py, as before. Unchecked (the source is not re-hashed at each
    import): the two are written together into an archive nobody edits.
    """
    import marshal

    code = compile(source, arcname, "exec", dont_inherit=True, optimize=0)
    flags = 0b01  # hash-based, unchecked: the archive holds source and bytecode made together
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + importlib.util.source_hash(source) \
        + marshal.dumps(code)


def build(dest: Path, assignment: Optional[str] = None, docs_url: Optional[str] = None,
          site: Optional[str] = None) -> Path:
    """Write the archive to `dest` and return its path.

    `assignment`, `docs_url` and `site` are the course setting it carries (default: `_config.yml`'s,
    and COURSE_SITE for the site, as `make book SITE=<name>` sets it).
    """
    import tomli  # the pure-Python TOML reader for Python < 3.11

    sys.path.insert(0, str(ROOT))
    try:
        from checks import course
        from checks.expectations import cache_blob, load
        from checks.site import SiteError, load_site
        from checks.tomlfile import cache_blob as toml_cache_blob
    finally:
        sys.path.remove(str(ROOT))
    config = ROOT / "_config.yml"
    setting = course.read_config_yml(config.read_text(encoding="utf-8")) if config.is_file() else {}
    assignment = assignment or setting.get("course_assignment") or course.FALLBACK
    docs_url = setting.get("baseurl", "") if docs_url is None else docs_url
    if load(assignment).source != f"{assignment}.toml":  # raises ExpectationsError for an unknown id
        raise SystemExit(f"the course setting {assignment!r} is not a file in checks/assignments/")
    site = site or course.site_override() or setting.get("course_site") or "dsmlp"
    try:
        chosen = load_site(site)
    except SiteError as exc:
        raise SystemExit(f"the course's site: {exc}") from None
    site_bytes = Path(chosen.source).read_bytes()
    tomli_dir = Path(tomli.__file__).resolve().parent
    sources = [(path, arcname, path.read_bytes())
               for path, arcname in [*_files(ROOT / "checks", "checks"), *_files(tomli_dir, "tomli")]]
    embedded = course.embedded_text(assignment, docs_url, chosen.name).encode()
    tag = _digest([Path(__file__).read_bytes(), importlib.util.MAGIC_NUMBER, MAIN.encode(), embedded, site_bytes,
                   *(part for _, arcname, data in sources for part in (arcname.encode(), data))])

    dest = Path(dest)
    if _comment(dest) == tag:  # made from the same inputs: the same bytes
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with open(tmp, "wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.comment = tag
            def add(arcname: str, data: bytes) -> None:
                info = zipfile.ZipInfo(arcname, EPOCH)
                # Bytecode is stored as it is: zipimport then reads it without inflating it, at
                # every start (about 8 ms less CPU per run here; the file is ~0.9 MB, not ~0.5).
                info.compress_type = zipfile.ZIP_STORED if arcname.endswith(".pyc") else zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)

            add("__main__.py", MAIN.encode())
            add(f"checks/{course.EMBEDDED}", embedded)
            # The cluster it checks against, and its parsed table (no TOML parser at run time).
            add("checks/_site.toml", site_bytes)
            add("checks/__pycache__/_site.toml.marshal", toml_cache_blob(site_bytes))
            for path, arcname, data in sources:
                add(arcname, data)
                if path.suffix == ".py":
                    add(arcname[:-3] + ".pyc", _bytecode(data, arcname))
                elif path.suffix == ".toml" and path.parent.name == "assignments":
                    # The parsed table, so a run needs no TOML parser (checks/expectations.py).
                    add(f"{arcname.rpartition('/')[0]}/__pycache__/{path.name}.marshal", cache_blob(data))
    tmp.chmod(0o755)
    tmp.replace(dest)
    return dest


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "selfcheck.pyz")
    print(f"built {out} ({out.stat().st_size // 1024} KiB)")
