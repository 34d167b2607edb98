"""The cluster the course is taught on: one `sites/<name>/site.toml` per cluster.

A site says how students reach the cluster and get a server there: the login host, how a server
is launched (DSMLP's launch script, or Slurm's `salloc`), how the Jupyter URL looks, and where the
tunnel forwards to. The book's pages, the assignment expectations (which inherit these values)
and the checks' fix commands all read it, so a new cluster is a new folder, not a fork.

Which site: the course setting (`course_site` in `_config.yml`, or `make book SITE=<name>`;
see checks/course.py). `selfcheck.pyz` carries its site inside (`checks/_site.toml`).

`load_site(name or folder)` returns a validated, frozen `Site`. A bad file raises `SiteError`
naming the key; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from ._record import Record
from ._schema import describe as _describe
from ._schema import short as _short

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

_HERE = os.path.dirname(os.path.abspath(__file__))
SITES = Path(_HERE).parent / "sites"  # a clone: the course repository's sites/ folder
EMBEDDED = "_site.toml"  # inside selfcheck.pyz, beside this module
DEFAULT_SITE = "dsmlp"
NAME_RE = r"[a-z0-9][a-z0-9_-]{0,63}"
LAUNCH_KINDS = ("launch-script", "slurm")
TUNNEL_TARGETS = ("login", "node")
MAX_FILE = 1 << 20


class SiteError(ValueError):
    """A site file that cannot be used, with a message for its author."""


class Site(Record):
    """One cluster: how students reach it and get a server on it."""

    name: str
    cluster: str
    cluster_long: str
    institution: str
    login_host: str
    example_user: str
    launch_kind: str
    login_nodes: str = ""  # the login nodes' short host names, a shell pattern ("": the login host's)
    launch_script: str = ""
    gpu_launch_script: str = ""
    default_cpus: float = 2
    default_memory_gb: float = 8
    gpu_partition: str = ""
    example_node: str = ""
    jupyter_path: str = "/user/<username>/"
    example_port: int = 8888
    local_port: int = 8889
    tunnel_target: str = "login"
    links: Tuple[Tuple[str, str], ...] = ()
    book: Tuple[Tuple[str, str], ...] = ()  # page-only values ({{ site.book.<key> }})
    source: str = ""

    @property
    def slurm(self) -> bool:
        return self.launch_kind == "slurm"

    @property
    def per_user_path(self) -> bool:
        """Does Jupyter answer under /user/<username>/ (a per-user proxy) rather than at /?"""
        return "<username>" in self.jupyter_path

    def is_login_node(self, hostname: str) -> bool:
        """Is this host name one of the login nodes' (the login host's own name, or its short name,
        or a short name that `login_nodes` matches, such as "login*" for login01.hpc...)?"""
        from fnmatch import fnmatchcase

        name = hostname.lower().rstrip(".")
        if not name:
            return False
        login = self.login_host.lower()
        pattern = self.login_nodes.lower() or login.split(".")[0]
        return name == login or fnmatchcase(name.split(".")[0], pattern)

    def link(self, name: str) -> str:
        return dict(self.links).get(name, "")

    def launch_command(self, cpus: float, memory_gb: float, gpus: int = 0) -> str:
        """The command that asks this cluster for a server with these resources."""
        if self.slurm:
            parts = ["salloc", "-c", _num(cpus), f"--mem={_num(memory_gb)}G"]
            if gpus:
                parts += (["-p", self.gpu_partition] if self.gpu_partition else []) + [f"--gpus={gpus}"]
            return " ".join(parts)
        script = self.gpu_launch_script if gpus and self.gpu_launch_script else self.launch_script
        parts = [script, "-c", _num(cpus), "-m", _num(memory_gb)]
        if gpus and gpus != 1:
            parts += ["-g", str(gpus)]
        return " ".join(parts)

    def forward_host(self, url_host: str = "") -> str:
        """Where the tunnel forwards to, seen from the login node: its own loopback (a launch
        script's forward waits there) or the compute node the URL names."""
        if self.tunnel_target == "node":
            return url_host or "<node>"
        return "127.0.0.1"

    def values(self) -> Dict[str, str]:
        """Every value a page may write as {{ site.<key> }}, as text."""
        out: Dict[str, str] = {}
        for key in self._fields:
            if key in ("links", "book", "source"):
                continue
            value = getattr(self, key)
            out[key] = _num(value) if isinstance(value, float) else str(value)
        for key, value in self.links:
            out[f"links.{key}"] = value
        for key, value in self.book:
            out[f"book.{key}"] = value
        out["launch_command"] = self.launch_command(self.default_cpus, self.default_memory_gb)
        out["gpu_launch_command"] = self.launch_command(self.default_cpus, self.default_memory_gb, 1)
        return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# section -> key -> (types, required, description, Site field)
_SCHEMA: Dict[str, Dict[str, Tuple[Tuple[type, ...], bool, str, str]]] = {
    "": {
        "cluster": ((str,), True, "the cluster's short name, as the pages write it", "cluster"),
        "cluster_long": ((str,), True, "the cluster's full name", "cluster_long"),
        "institution": ((str,), True, "the institution's name", "institution"),
        "login_host": ((str,), True, "the login node's full host name", "login_host"),
        "example_user": ((str,), True, "a user name for the examples, such as \"jdoe\"", "example_user"),
        "login_nodes": ((str,), False, "the login nodes' short host names as a shell pattern, such as \"login*\" "
                                       "(login01, login02, ...; default: the login host's first label)", "login_nodes"),
    },
    "launch": {
        "kind": ((str,), True, "\"launch-script\" or \"slurm\"", "launch_kind"),
        "script": ((str,), False, "the launch script's name (kind \"launch-script\")", "launch_script"),
        "gpu_script": ((str,), False, "the GPU launch script's name (kind \"launch-script\")", "gpu_launch_script"),
        "default_cpus": ((int, float), True, "the CPUs a launch gives by default, such as 2", "default_cpus"),
        "default_memory_gb": ((int, float), True, "the memory in GB a launch gives by default, such as 8",
                              "default_memory_gb"),
        "gpu_partition": ((str,), False, "the Slurm partition for GPU jobs, or \"\"", "gpu_partition"),
        "example_node": ((str,), False, "a compute node's name for the examples (kind \"slurm\")", "example_node"),
    },
    "jupyter": {
        "path": ((str,), True, "\"/user/<username>/\" or \"/\"", "jupyter_path"),
        "example_port": ((int,), True, "a port for the examples, such as 8888", "example_port"),
    },
    "tunnel": {
        "local_port": ((int,), True, "a port number from 1024 to 65535", "local_port"),
        "target": ((str,), True, "\"login\" or \"node\"", "tunnel_target"),
    },
    "links": {},  # name = "https://..." (free names)
    "book": {},  # name = "text" (free names; pages only)
}
_FREE = ("links", "book")


def available() -> List[str]:
    """The names of the sites in this copy of the course (a clone's sites/ folder)."""
    if not SITES.is_dir():
        return []
    return sorted(p.name for p in SITES.iterdir() if (p / "site.toml").is_file() and re.fullmatch(NAME_RE, p.name))


_LOADED: Dict[Tuple[str, bytes], Site] = {}


def load_site(name_or_path: Union[str, Path, None] = None) -> Site:
    """A site by name (the one built into selfcheck.pyz, or sites/<name>/ in a clone), or by path
    (a site folder, or its site.toml)."""
    if name_or_path is None:
        from .course import setting

        name_or_path = setting().site
    name = str(name_or_path)
    if re.fullmatch(NAME_RE, name):
        raw = _embedded(name)
        if raw is not None:
            return _from_bytes(name, raw, cache=_read_here(f"__pycache__/{EMBEDDED}.marshal"))
        path = SITES / name / "site.toml"
        if path.is_file():
            return load_file(path)
        if not os.path.lexists(name):
            known = ", ".join(available()) or "none here"
            raise SiteError(f"no site called {name!r}; the known ones are: {known} "
                            "(a site is a folder sites/<name>/ holding site.toml)")
    path = Path(name)
    if path.is_dir():
        path = path / "site.toml"
    return load_file(path)


def load_file(path: Union[str, Path]) -> Site:
    """A site file, read safely (a regular file of at most 1 MB) and fully validated. The site's
    name is its folder's name."""
    from .files import FileProblem, read_bytes

    path = Path(path)
    try:
        raw = read_bytes(path, MAX_FILE, what="a site file")
    except FileProblem as exc:
        raise SiteError(f"cannot read {path}: it {exc.reason}") from None
    name = path.resolve().parent.name if path.name == "site.toml" else path.stem
    if not re.fullmatch(NAME_RE, name):
        raise SiteError(f"{path}: the site's folder name {name!r} must be lowercase letters, digits, '-' or '_' "
                        "(it becomes the site's name, as in make book SITE=<name>)")
    return _from_bytes(name, raw, source=str(path))


def _from_bytes(name: str, raw: bytes, source: str = "", cache: Optional[bytes] = None) -> Site:
    known = _LOADED.get((name, raw))
    if known is not None:
        return known
    from .tomlfile import TomlProblem, cached, decode

    source = source or f"the site {name!r}"
    data = cached(cache, raw)
    if data is None:
        try:
            data = decode(raw, source, "a site file")
        except TomlProblem as exc:
            raise SiteError(str(exc)) from None
    site = _LOADED[(name, raw)] = validate(data, name, source)
    return site


def _embedded(name: str) -> Optional[bytes]:
    """The site file selfcheck.pyz carries, when it is the site asked for."""
    raw = _read_here(EMBEDDED)
    if raw is None:
        return None
    from .course import setting

    return raw if setting().site == name else None


def _read_here(relative: str) -> Optional[bytes]:
    try:
        data: bytes = __loader__.get_data(os.path.join(_HERE, relative))  # type: ignore[name-defined]  # every module has one
        return data
    except OSError:
        return None


def validate(data: Mapping[str, Any], name: str, source: str = "<site>") -> Site:
    """Check a parsed site table against the schema and build `Site`."""
    from ._schema import walk
    from ._text import is_host, is_user

    values: Dict[str, Any] = {"name": name, "source": source}
    problems = walk(data, _SCHEMA, values, {section: _free(values) for section in _FREE})
    for key, value in values.items():
        if isinstance(value, str) and (len(value) > 200 or not value.isprintable()):
            problems.append(f"{_where(key)} is {_short(value)}: expected one line of at most 200 printable characters")
    if not problems:
        problems = _semantic_problems(values, is_host, is_user)
    if problems:
        raise SiteError(f"{source}: " + "; ".join(problems))
    return Site(**values)


def _free(values: Dict[str, Any]) -> Any:
    """The check for a section of free names ([links], [book]): one line of text each."""
    def check(section: str, table: Dict[str, Any]) -> List[str]:
        problems, pairs = [], []
        for key, value in table.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
                problems.append(f"{section}.{_short(key)}: expected a name of lowercase letters, digits and '_'")
            elif not isinstance(value, str) or len(value) > 1000 or not value.isprintable():
                problems.append(f"{section}.{key} is {_describe(value)}: expected one line of text")
            elif section == "links" and value and not re.fullmatch(r"https?://[\x21-\x7e]{1,500}", value):
                problems.append(f"links.{key} is {_short(value)}: expected an http(s) address")
            else:
                pairs.append((key, value))
        values[section] = tuple(sorted(pairs))
        return problems
    return check


def _where(field: str) -> str:
    """The key a Site field is written as in site.toml."""
    for section, keys in _SCHEMA.items():
        for key, (_types, _required, _expected, attr) in keys.items():
            if attr == field:
                return f"{section}.{key}" if section else key
    return field


_SCRIPT_RE = r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,127}"  # printed in commands: no spaces, quotes or options


def _semantic_problems(values: Dict[str, Any], is_host: Any, is_user: Any) -> List[str]:
    problems = []
    if not is_host(values["login_host"]) or "." not in values["login_host"]:
        problems.append(f"login_host is {_short(values['login_host'])}: expected a full host name such as "
                        "\"login.hpc.example.edu\" (letters, digits, '.' and '-', not starting with '-')")
    if not is_user(values["example_user"]):
        problems.append(f"example_user is {_short(values['example_user'])}: expected a user name "
                        "(letters, digits, '.', '_' and '-', not starting with '-')")
    if values.get("login_nodes") and not re.fullmatch(r"[A-Za-z0-9*?\[\]_-][A-Za-z0-9*?\[\]._-]{0,63}",
                                                       values["login_nodes"]):
        problems.append(f"login_nodes is {_short(values['login_nodes'])}: expected a short host name or a pattern "
                        "such as \"login*\" (letters, digits, '-', '_', '.', '*', '?' and [...])")
    kind = values["launch_kind"]
    if kind not in LAUNCH_KINDS:
        problems.append(f"launch.kind is {_short(kind)}: expected one of {', '.join(LAUNCH_KINDS)}")
    elif kind == "launch-script":
        for key, field in (("script", "launch_script"), ("gpu_script", "gpu_launch_script")):
            if field not in values:
                if key == "script":
                    problems.append("missing launch.script: expected the launch script's name (kind \"launch-script\")")
            elif not re.fullmatch(_SCRIPT_RE, values[field]):
                problems.append(f"launch.{key} is {_short(values[field])}: expected a script name or path "
                                "(letters, digits, '.', '_', '/', '+' and '-', not starting with '-')")
    else:
        for key in ("script", "gpu_script"):
            if ("launch_script" if key == "script" else "gpu_launch_script") in values:
                problems.append(f"launch.{key} is set, but a Slurm site has no launch script: remove it")
        if not values.get("example_node"):
            problems.append("missing launch.example_node: expected a compute node's name for the examples (kind \"slurm\")")
    for field in ("example_node", "gpu_partition"):
        if values.get(field) and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", values[field]):
            problems.append(f"launch.{field} is {_short(values[field])}: expected letters, digits, '.', '_' and '-'")
    for key, name, high in (("default_cpus", "launch.default_cpus", 1024),
                            ("default_memory_gb", "launch.default_memory_gb", 65536)):
        number = values[key]
        if not math.isfinite(number) or not 0 < number <= high:
            problems.append(f"{name} is {_short(number)}: expected a number above 0 and at most {high}")
    if values["jupyter_path"] not in ("/user/<username>/", "/"):
        problems.append(f"jupyter.path is {_short(values['jupyter_path'])}: expected \"/user/<username>/\" or \"/\"")
    for key, name in (("example_port", "jupyter.example_port"), ("local_port", "tunnel.local_port")):
        if not 1024 <= values[key] <= 65535:
            problems.append(f"{name} is {values[key]}: expected a port from 1024 to 65535")
    if values["tunnel_target"] not in TUNNEL_TARGETS:
        problems.append(f"tunnel.target is {_short(values['tunnel_target'])}: expected \"login\" or \"node\"")
    elif values["tunnel_target"] == "node" and values["jupyter_path"] != "/":
        problems.append("tunnel.target is \"node\" but jupyter.path is not \"/\": a Jupyter started on a compute "
                        "node answers at /")
    return problems


def schema_rows() -> List[Tuple[str, str, bool]]:
    """(key, what is expected, required) for every key: the instructor guide's table."""
    from ._schema import rows

    out = rows({k: v for k, v in _SCHEMA.items() if k not in _FREE})
    out += [("links.<name>", "an http(s) address", False), ("book.<name>", "one line of text (pages only)", False)]
    return out
