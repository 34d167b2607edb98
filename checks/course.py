"""The course's setting: the assignment it grades, the cluster it is taught on, and the address
where its book is published.

All three live in the book's configuration, `_config.yml`, and nowhere else::

    html:
      baseurl: https://<your-org>.github.io/<this-repository>/
    sphinx:
      config:
        course_assignment: methodology-1
        course_site: dsmlp            # a folder sites/<name>/ (checks/site.py)

`make book SITE=<name>` builds for another site without editing the file: it sets COURSE_SITE,
which the build and a clone's `python3 -m checks` read before `course_site`.

From there they reach every place that needs them:

- the book's pages: our Sphinx extension registers `course_assignment` as a configuration value
  (the assignment page's title and table, the commands);
- the single file built with the book: `scripts/build_pyz.py` writes them into the archive
  (`checks/_course.txt`), so `python3 selfcheck.pyz` and `python3 selfcheck.pyz collect` use them
  wherever the file is copied;
- a clone of the course repository: `python3 -m checks` reads `_config.yml` beside `checks/`;
- anywhere else (the package installed without the book): the shipped default, `methodology-1`.

An explicit `--assignment` (or `--expectations`) always wins over the setting.
"""

from __future__ import annotations

import os
import re

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

FALLBACK = "methodology-1"
EMBEDDED = "_course.txt"  # inside selfcheck.pyz, beside this module
_HERE = os.path.dirname(os.path.abspath(__file__))
_ID_RE = r"[a-z0-9][a-z0-9._-]*"
_SITE_RE = r"[a-z0-9][a-z0-9_-]{0,63}"


class Course(Record):
    """The course setting, and where it was read (said to instructors)."""

    assignment: str
    docs_url: str = ""
    source: str = ""
    site: str = "dsmlp"  # the cluster: sites/<site>/site.toml (see checks/site.py)


def docs_address(url: str) -> str:
    """The book's address as links are built from it: ending in exactly one "/" (or "" when unset)."""
    url = (url or "").strip()
    return url.rstrip("/") + "/" if url else ""


def read_config_yml(text: str) -> Dict[str, str]:
    """`course_assignment` and `course_site` (under sphinx: config:) and `baseurl` (under html:)
    from `_config.yml`.

    A reader for plain `key: value` lines only, enough for these two scalars without a YAML
    library (the checker uses the standard library alone). The book build compares what it
    finds with Sphinx's own reading and stops when they differ, so the two never drift.
    """
    found: Dict[str, str] = {}
    stack: List[Tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^( *)([A-Za-z_][\w-]*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = tuple(k for _, k in stack) + (key,)
        value = _scalar(rest)
        if value is None:
            stack.append((indent, key))
            continue
        if path == ("sphinx", "config", "course_assignment"):
            found["course_assignment"] = value
        elif path == ("sphinx", "config", "course_site"):
            found["course_site"] = value
        elif path == ("html", "baseurl"):
            found["baseurl"] = value
    return found


def _scalar(rest: str) -> Optional[str]:
    """The value after "key:", without a trailing comment or quotes; None when a mapping opens."""
    rest = rest.strip()
    if rest.startswith(("'", '"')):
        quote = rest[0]
        end = rest.find(quote, 1)
        return rest[1:end] if end > 0 else rest[1:]
    rest = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
    if rest.startswith("#"):
        rest = ""
    return rest or None


def parse_embedded(text: str) -> Dict[str, str]:
    """The `name=value` lines that the single file carries."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def embedded_text(assignment: str, docs_url: str, site: str = "dsmlp") -> str:
    """What `scripts/build_pyz.py` writes into the single file."""
    return f"assignment={assignment}\ndocs_url={docs_address(docs_url)}\nsite={site}\n"


SITE_VARIABLE = "COURSE_SITE"  # `make book SITE=<name>` sets it for the build (a clone only)


def site_override(environ: Optional[Dict[str, str]] = None) -> str:
    """The site a build or a clone was asked for with COURSE_SITE, or "" (ignored when not a name)."""
    value = (os.environ if environ is None else environ).get(SITE_VARIABLE, "").strip()
    return value if re.fullmatch(_SITE_RE, value) else ""


_CACHE: Dict[str, Course] = {}


def setting() -> Course:
    """The course setting for this copy of the checks (read once per process)."""
    if "course" not in _CACHE:
        _CACHE["course"] = _find()
    return _CACHE["course"]


def _find() -> Course:
    try:
        raw: bytes = __loader__.get_data(os.path.join(_HERE, EMBEDDED))  # type: ignore[name-defined]  # every module has one
    except OSError:
        raw = b""
    if raw:
        values = parse_embedded(raw.decode("utf-8", errors="replace"))
        assignment = values.get("assignment", "")
        site = values.get("site", "")
        if re.fullmatch(_ID_RE, assignment):
            return Course(assignment, docs_address(values.get("docs_url", "")),
                          "the course setting built into this single file",
                          site if re.fullmatch(_SITE_RE, site) else "dsmlp")
    config = os.path.join(os.path.dirname(_HERE), "_config.yml")
    try:
        if os.path.isfile(config) and os.path.getsize(config) < 1 << 20:
            with open(config, encoding="utf-8", errors="replace") as handle:
                values = read_config_yml(handle.read())
            assignment = values.get("course_assignment", "")
            site = site_override() or values.get("course_site", "")
            if re.fullmatch(_ID_RE, assignment):
                return Course(assignment, docs_address(values.get("baseurl", "")),
                              "the course setting, course_assignment in _config.yml",
                              site if re.fullmatch(_SITE_RE, site) else "dsmlp")
    except OSError:
        pass
    return Course(FALLBACK, "", "the package's default (no course setting found)", site_override() or "dsmlp")
