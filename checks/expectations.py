"""Assignment expectations: one TOML file per assignment, a public contract for instructors.

`load(ID or path)` returns a validated, frozen `Expectations`. A bad file raises
`ExpectationsError` with a message that names the key and what was expected; the CLI turns it
into exit status 2, never a traceback.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from ._record import Factory, Record
from ._schema import describe as _describe
from ._schema import short as _short
from .course import FALLBACK, docs_address, setting
from .site import Site, SiteError, load_site

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

DEFAULT_ASSIGNMENT = FALLBACK  # when no course setting is found (checks/course.py)


_SHIPPED = Path(__file__).parent / "assignments"  # inside selfcheck.pyz this is a path in the archive


def _shipped() -> Any:
    """The folder of shipped assignments: a directory, or a folder inside selfcheck.pyz."""
    here = _SHIPPED
    if here.is_dir():  # a clone or an installed package: skip importlib.resources' import cost
        return here
    from importlib.resources import files

    return files("checks") / "assignments"


class ExpectationsError(ValueError):
    """An expectations file that cannot be used, with a message for its author."""


class Expectations(Record):
    """What an assignment expects of the student's setup."""

    id: str
    title: str
    checks: Tuple[str, ...]
    # The cluster's values come from its site file (checks/site.py); an assignment may name
    # its site (`site = "<name>"`) and, rarely, override one of them ([server], [tunnel]).
    login_host: str = ""
    launch_script: str = ""
    gpu_launch_script: str = ""
    key_types: Tuple[str, ...] = ("ed25519", "ecdsa", "rsa")
    min_rsa_bits: int = 2048
    recommended_rsa_bits: int = 3072
    local_port: int = 8889
    forward_host: str = ""  # "": the site's (127.0.0.1 on the login node, or the URL's compute node)
    cpus: float = 2
    memory_gb: float = 8
    gpus: int = 0
    min_free_disk_gb: float = 1.0
    python: Optional[str] = None
    packages: Tuple[Tuple[str, str], ...] = ()
    points: Tuple[Tuple[str, float], ...] = ()  # (check id or area, points for each such check)
    docs_url: str = ""
    source: str = ""
    site: Site = Factory(factory=lambda: load_site())

    def forward_to(self, url_host: str = "") -> str:
        """Where the tunnel forwards, seen from the login node (`<node>` when the URL is not known
        on a site whose Jupyter runs on a compute node)."""
        return self.forward_host or self.site.forward_host(url_host)

    def points_for(self, check_id: str) -> float:
        """What one check is worth: the most specific entry of `points` that names it, else 1."""
        best, worth = -1, 1.0
        for selector, value in self.points:
            if (check_id == selector or check_id.startswith(selector + ".")) and len(selector) > best:
                best, worth = len(selector), value
        return worth

    def launch_command(self, cpus: Optional[float] = None, memory_gb: Optional[float] = None,
                       gpus: Optional[int] = None) -> str:
        """The launch command that asks for these resources (the assignment's by default)."""
        cpus = self.cpus if cpus is None else cpus
        memory_gb = self.memory_gb if memory_gb is None else memory_gb
        gpus = self.gpus if gpus is None else gpus
        site = self.site
        if not site.slurm:
            site = site.replace(launch_script=self.launch_script or site.launch_script,
                                gpu_launch_script=self.gpu_launch_script or site.gpu_launch_script)
        return site.launch_command(cpus, memory_gb, gpus)


# The schema: section -> key -> (python types, required, description, Expectations field).
_SCHEMA: Dict[str, Dict[str, Tuple[Tuple[type, ...], bool, str, str]]] = {
    "": {
        "id": ((str,), True, "a short identifier such as \"methodology-1\"", "id"),
        "title": ((str,), True, "the assignment's title", "title"),
        "checks": ((list,), True, "a list of check ids or areas, such as [\"ssh\", \"tunnel\"]", "checks"),
        "docs_url": ((str,), False, "the address of the published book (with or without the final /)", "docs_url"),
        "site": ((str,), False, "the cluster, the name of a folder sites/<name>/ (default: the course's site); "
                                "the login host, launch commands and tunnel come from its site file", "site"),
        "points": ((dict,), False, "a table of check id or area = points for each such check, such as "
                                   "{ ssh = 2, \"tunnel.token\" = 3 } (every other check is worth 1)", "points"),
    },
    "server": {
        "login_host": ((str,), False, "a host name (default: the site's login host)", "login_host"),
        "launch_script": ((str,), False, "the launch script's name (default: the site's)", "launch_script"),
        "gpu_launch_script": ((str,), False, "the GPU launch script's name", "gpu_launch_script"),
    },
    "ssh": {
        "key_types": ((list,), True, "a list of key types from ed25519, ecdsa, rsa", "key_types"),
        "min_rsa_bits": ((int,), True, "a whole number of bits, at least 1024", "min_rsa_bits"),
        "recommended_rsa_bits": ((int,), False, "a whole number of bits", "recommended_rsa_bits"),
    },
    "tunnel": {
        "local_port": ((int,), False, "a port number from 1024 to 65535 (default: the site's)", "local_port"),
        "forward_host": ((str,), False, "the host the tunnel forwards to (default: the site's)",
                         "forward_host"),
    },
    "resources": {
        "cpus": ((int, float), True, "a number of CPUs, such as 2", "cpus"),
        "memory_gb": ((int, float), True, "memory in GB, such as 8", "memory_gb"),
        "gpus": ((int,), True, "a whole number of GPUs, such as 0", "gpus"),
        "min_free_disk_gb": ((int, float), False, "free disk space in GB", "min_free_disk_gb"),
    },
    "env": {
        "python": ((str,), False, "a version range such as \">=3.9\"", "python"),
        "packages": ((dict,), False, "a table of package = \"version range\"", "packages"),
    },
}

KEY_TYPES = ("ed25519", "ecdsa", "rsa")
_ID_RE = r"[a-z0-9][a-z0-9._-]*"


def default_assignment() -> str:
    """The course's assignment: the one setting in the book's `_config.yml` (see checks/course.py)."""
    return setting().assignment


def available() -> List[str]:
    """The ids of the assignments shipped with the package."""
    return sorted(p.name[:-5] for p in _shipped().iterdir() if p.name.endswith(".toml"))


MAX_FILE = 1 << 20  # an expectations file is a few hundred bytes; a megabyte is not one


def load(name_or_path: Union[str, Path, None] = None) -> Expectations:
    """Load a shipped assignment by id, or an instructor's file by path.

    A shipped id always means the shipped assignment: a file or folder of that name in the
    current folder never stands in for it.
    """
    name = str(name_or_path) if name_or_path is not None else default_assignment()
    if re.fullmatch(_ID_RE, name) and not name.endswith(".toml"):
        shipped = _read_shipped(f"{name}.toml")
        if shipped is not None:
            return _load_shipped(name, shipped)
    path = Path(name)
    if path.suffix == ".toml" or "/" in name or "\\" in name or os.path.lexists(name):
        return load_file(path)
    known = ", ".join(available()) or "none"
    raise ExpectationsError(f"no assignment called {name!r}; the known ones are: {known} "
                            "(give an instructor's file with --expectations FILE)")


def load_file(path: Union[str, Path]) -> Expectations:
    """An instructor's expectations file, read safely (a regular file of at most 1 MB, UTF-8 or
    UTF-16 with a byte-order mark) and fully validated."""
    from .files import FileProblem, decode, read_bytes

    try:
        raw = read_bytes(path, MAX_FILE, what="an expectations file")
    except FileProblem as exc:
        raise ExpectationsError(f"cannot read {path}: it {exc.reason}") from None
    return parse(decode(raw)[0], source=str(path))


_LOADED: Dict[Tuple[str, bytes, str], Expectations] = {}  # a shipped assignment, validated once per process


def _load_shipped(name: str, shipped: bytes) -> Expectations:
    key = (name, shipped, setting().site)  # the same file inherits another site in another course
    known = _LOADED.get(key)
    if known is not None:
        return known
    cache = f"__pycache__/{name}.toml.marshal"
    from .tomlfile import cached

    data = cached(_read_shipped(cache), shipped)
    if data is None:
        data = _decode(shipped, f"{name}.toml")
    loaded = _LOADED[key] = validate(data, source=f"{name}.toml")
    return loaded


def _read_shipped(relative: str) -> Optional[bytes]:
    """A file of the shipped assignments folder, or None. The module's loader reads it from a
    folder or from inside selfcheck.pyz alike, without importing importlib.resources."""
    try:
        data: bytes = __loader__.get_data(os.path.join(_SHIPPED, relative))  # type: ignore[name-defined]  # every module has one
        return data
    except OSError:
        return None


# The single file carries each shipped assignment's parsed table (checks/tomlfile.py): a run of
# selfcheck.pyz parses no TOML. Nothing is ever written at run time.


def cache_blob(raw: bytes, data: Optional[Dict[str, Any]] = None) -> bytes:
    """The cache entry for a shipped assignment's bytes and their parsed table (parsed here when
    not given; raises ExpectationsError if invalid, ValueError if not marshal-able)."""
    from .tomlfile import cache_blob as blob

    return blob(raw, _decode(raw, "<assignment>") if data is None else data)


def _decode(raw: Union[bytes, str], source: str) -> Dict[str, Any]:
    from .tomlfile import TomlProblem, decode

    try:
        return decode(raw, source, "an expectations file")
    except TomlProblem as exc:
        raise ExpectationsError(str(exc)) from None


def parse(raw: Union[bytes, str], source: str = "<expectations>") -> Expectations:
    """Validate TOML text against the schema and build `Expectations`."""
    return validate(_decode(raw, source), source)


def validate(data: Mapping[str, Any], source: str = "<expectations>") -> Expectations:
    """Check a parsed table against the schema and build `Expectations`."""
    from ._schema import walk

    values: Dict[str, Any] = {"source": source}
    problems = walk(data, _SCHEMA, values)
    if not problems:
        problems = _semantic_problems(values)
    if problems:
        raise ExpectationsError(f"{source}: " + "; ".join(problems))
    try:
        site = load_site(values.pop("site", None))
    except SiteError as exc:
        raise ExpectationsError(f"{source}: site: {exc}") from None
    values["site"] = site
    values.setdefault("login_host", site.login_host)
    values.setdefault("launch_script", site.launch_script)
    values.setdefault("gpu_launch_script", site.gpu_launch_script)
    values.setdefault("local_port", site.local_port)
    values["checks"] = tuple(values["checks"])
    values["key_types"] = tuple(values["key_types"])
    values["packages"] = tuple(sorted(values.get("packages", {}).items()))
    values["points"] = tuple(sorted((k, float(v)) for k, v in values.get("points", {}).items()))
    if values.get("docs_url"):
        values["docs_url"] = docs_address(values["docs_url"])
    return Expectations(**values)


# Ranges beyond which a number cannot mean anything for a student's laptop or server.
_RANGES = {
    "min_rsa_bits": ("ssh.min_rsa_bits", 1024, 16384, "at least 1024 (OpenSSH refuses smaller RSA keys) and at most 16384"),
    "recommended_rsa_bits": ("ssh.recommended_rsa_bits", 1024, 16384, "from 1024 to 16384 bits"),
    "cpus": ("resources.cpus", 0, 1024, "a number of CPUs above 0 and at most 1024"),
    "memory_gb": ("resources.memory_gb", 0, 65536, "a number of GB above 0 and at most 65536"),
    "gpus": ("resources.gpus", 0, 64, "a whole number of GPUs from 0 to 64"),
    "min_free_disk_gb": ("resources.min_free_disk_gb", 0, 1 << 20, "a number of GB from 0 to 1048576"),
}
_SCRIPT_RE = r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,127}"  # printed in commands: no spaces, quotes or options
_PACKAGE_RE = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"  # a PyPI project name
_MAX_ITEMS = 256


def _semantic_problems(values: Dict[str, Any]) -> List[str]:
    from ._text import is_host
    from .probes.versions import InvalidSpec, parse_spec

    problems = []
    if not re.fullmatch(_ID_RE, values["id"]) or len(values["id"]) > 64:
        problems.append(f"id {_short(values['id'])}: expected up to 64 lowercase letters, digits, '.', '_' or '-'")
    if len(values["title"]) > 200 or not values["title"].isprintable():
        problems.append(f"title {_short(values['title'])}: expected one line of at most 200 printable characters")
    for key, (name, low, high, expected) in _RANGES.items():
        if key not in values:
            continue
        number = values[key]
        if not math.isfinite(number) or not low <= number <= high or (key in ("cpus", "memory_gb") and number <= 0):
            problems.append(f"{name} is {_short(number)}: expected {expected}")
    if "recommended_rsa_bits" in values and values["recommended_rsa_bits"] < values["min_rsa_bits"]:
        problems.append("ssh.recommended_rsa_bits is below ssh.min_rsa_bits: expected at least as many bits")
    if "local_port" not in values:
        pass
    elif not 1 <= values["local_port"] <= 65535:
        problems.append(f"tunnel.local_port is {_short(values['local_port'])}: expected a port from 1024 to 65535")
    elif values["local_port"] < 1024:
        problems.append(f"tunnel.local_port is {values['local_port']}: expected 1024 or more "
                        "(lower ports need administrator rights on a laptop)")
    for key, name in (("login_host", "server.login_host"), ("forward_host", "tunnel.forward_host")):
        if key in values and not is_host(values[key]):
            problems.append(f"{name} is {_short(values[key])}: expected a host name or address "
                            "(letters, digits, '.' and '-', not starting with '-')")
    for key in ("launch_script", "gpu_launch_script"):
        if key in values and not re.fullmatch(_SCRIPT_RE, values[key]):
            problems.append(f"server.{key} is {_short(values[key])}: expected a script name or path "
                            "(letters, digits, '.', '_', '/', '+' and '-', not starting with '-')")
    if "site" in values and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", values["site"]):
        problems.append(f"site is {_short(values['site'])}: expected a site's name, such as \"dsmlp\" "
                        "(a folder sites/<name>/)")
    if values.get("docs_url") and not re.fullmatch(r"https?://[\x21-\x7e]{1,500}", values["docs_url"]):
        problems.append(f"docs_url is {_short(values['docs_url'])}: expected an http(s) address")
    problems += _list_problems("checks", values["checks"], "check ids or areas (strings)")
    problems += _list_problems("ssh.key_types", values["key_types"], f"some of {', '.join(KEY_TYPES)}")
    if not problems:
        from .registry import unknown_selectors

        unknown = unknown_selectors(values["checks"])
        if unknown:
            problems.append(f"checks names no check: {', '.join(_short(u) for u in unknown[:10])} (expected check ids "
                            "or areas, as 'selfcheck --list' prints them)")
        points = values.get("points", {})
        for name, worth in list(points.items())[:_MAX_ITEMS]:
            if not re.fullmatch(r"[a-z]+(\.[a-z_]+)*", name):
                problems.append(f"points has the key {_short(name)}: expected a check id or an area, such as ssh")
            elif isinstance(worth, bool) or not isinstance(worth, (int, float)) or not 0 <= worth <= 1000:
                problems.append(f"points.{name} is {_describe(worth)}: expected a number of points from 0 to 1000")
        unknown = unknown_selectors([name for name in list(points)[:_MAX_ITEMS] if re.fullmatch(r"[a-z]+(\.[a-z_]+)*", name)])
        if unknown:
            problems.append(f"points names no check: {', '.join(_short(u) for u in unknown[:10])} (expected check "
                            "ids or areas, as 'selfcheck --list' prints them)")
        if len(points) > _MAX_ITEMS:
            problems.append(f"points lists {len(points)} entries: expected at most {_MAX_ITEMS}")
        for item in values["key_types"]:
            if item not in KEY_TYPES:
                problems.append(f"ssh.key_types holds {_short(item)}: expected some of {', '.join(KEY_TYPES)}")
    if values.get("python") is not None:
        try:
            parse_spec(values["python"])
        except InvalidSpec as exc:
            problems.append(f"env.python is {_short(values['python'])}: expected a version range such as "
                            f"\">=3.9\" ({exc})")
    packages = values.get("packages", {})
    if len(packages) > _MAX_ITEMS:
        problems.append(f"env.packages lists {len(packages)} packages: expected at most {_MAX_ITEMS}")
    for name, spec in list(packages.items())[:_MAX_ITEMS]:
        if not re.fullmatch(_PACKAGE_RE, name):
            problems.append(f"env.packages has the key {_short(name)}: expected a package name")
        elif not isinstance(spec, str):
            problems.append(f"env.packages.{name} is {_describe(spec)}: expected a version range string")
        else:
            try:
                parse_spec(spec)
            except InvalidSpec as exc:
                problems.append(f"env.packages.{name} is {_short(spec)}: expected a version range such as "
                                f"\">=2.0\" ({exc})")
    return problems


def _list_problems(name: str, items: List[Any], expected: str) -> List[str]:
    if not items:
        return [f"{name} is empty: expected {expected}"]
    if len(items) > _MAX_ITEMS:
        return [f"{name} holds {len(items)} items: expected at most {_MAX_ITEMS}"]
    bad = [item for item in items if not isinstance(item, str) or not item or len(item) > 100]
    return [f"{name} holds {_describe(bad[0])}: expected {expected}"] if bad else []


def schema_rows() -> List[Tuple[str, str, bool]]:
    """(key, what is expected, required) for every key: the instructor guide's table."""
    from ._schema import rows

    return rows(_SCHEMA)
