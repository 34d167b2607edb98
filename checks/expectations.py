"""Assignment expectations: one TOML file per assignment, a public contract for instructors.

`load(ID or path)` returns a validated, frozen `Expectations`. A bad file raises
`ExpectationsError` with a message that names the key and what was expected; the CLI turns it
into exit status 2, never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._record import Record
from .course import FALLBACK, setting

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
    login_host: str = "dsmlp-login.ucsd.edu"
    launch_script: str = "launch-scipy-ml.sh"
    gpu_launch_script: str = "launch-scipy-ml-gpu.sh"
    key_types: Tuple[str, ...] = ("ed25519", "ecdsa", "rsa")
    min_rsa_bits: int = 2048
    recommended_rsa_bits: int = 3072
    local_port: int = 8889
    forward_host: str = "127.0.0.1"
    cpus: float = 2
    memory_gb: float = 8
    gpus: int = 0
    min_free_disk_gb: float = 1.0
    python: Optional[str] = None
    packages: Tuple[Tuple[str, str], ...] = ()
    points: Tuple[Tuple[str, float], ...] = ()  # (check id or area, points for each such check)
    docs_url: str = ""
    source: str = ""

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
        script = self.gpu_launch_script if gpus else self.launch_script
        parts = [script, "-c", _num(cpus), "-m", _num(memory_gb)]
        if gpus and gpus != 1:
            parts += ["-g", str(gpus)]
        return " ".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# The schema: section -> key -> (python types, required, description, Expectations field).
_SCHEMA: Dict[str, Dict[str, Tuple[Tuple[type, ...], bool, str, str]]] = {
    "": {
        "id": ((str,), True, "a short identifier such as \"methodology-1\"", "id"),
        "title": ((str,), True, "the assignment's title", "title"),
        "checks": ((list,), True, "a list of check ids or areas, such as [\"ssh\", \"tunnel\"]", "checks"),
        "docs_url": ((str,), False, "the address of the published book", "docs_url"),
        "points": ((dict,), False, "a table of check id or area = points for each such check, such as "
                                   "{ ssh = 2, \"tunnel.token\" = 3 } (every other check is worth 1)", "points"),
    },
    "server": {
        "login_host": ((str,), True, "a host name such as \"dsmlp-login.ucsd.edu\"", "login_host"),
        "launch_script": ((str,), True, "the launch script's name", "launch_script"),
        "gpu_launch_script": ((str,), False, "the GPU launch script's name", "gpu_launch_script"),
    },
    "ssh": {
        "key_types": ((list,), True, "a list of key types from ed25519, ecdsa, rsa", "key_types"),
        "min_rsa_bits": ((int,), True, "a whole number of bits, at least 1024", "min_rsa_bits"),
        "recommended_rsa_bits": ((int,), False, "a whole number of bits", "recommended_rsa_bits"),
    },
    "tunnel": {
        "local_port": ((int,), True, "a port number from 1024 to 65535", "local_port"),
        "forward_host": ((str,), True, "the host the tunnel forwards to, such as \"127.0.0.1\"",
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


def load(name_or_path: Union[str, Path, None] = None) -> Expectations:
    """Load a shipped assignment by id, or an instructor's file by path (default: the course's)."""
    name = str(name_or_path) if name_or_path is not None else default_assignment()
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ExpectationsError(f"cannot read {path}: {exc.strerror or exc}") from None
        return parse(raw, source=str(path))
    shipped = None if "/" in name or "\\" in name else _read_shipped(f"{name}.toml")
    if shipped is None:
        known = ", ".join(available()) or "none"
        raise ExpectationsError(f"no assignment called {name!r}; the known ones are: {known}")
    cache = f"__pycache__/{name}.toml.marshal"
    data = _cached(_read_shipped(cache), shipped)
    if data is None:
        data = _decode(shipped, f"{name}.toml")
    return validate(data, source=f"{name}.toml")


def _read_shipped(relative: str) -> Optional[bytes]:
    """A file of the shipped assignments folder, or None. The module's loader reads it from a
    folder or from inside selfcheck.pyz alike, without importing importlib.resources."""
    import os

    try:
        data: bytes = __loader__.get_data(os.path.join(_SHIPPED, relative))  # type: ignore[name-defined]  # every module has one
        return data
    except OSError:
        return None


# Parsing TOML means importing tomllib (and typing, string, datetime with it): about a third of a
# bare interpreter's start. So selfcheck.pyz, the single file students run, carries each shipped
# assignment's parsed table beside it, the way Python keeps bytecode (__pycache__), written when
# the file is built (scripts/build_pyz.py) and used only when made from exactly the same bytes.
# Nothing is ever written at run time: an installed package or a clone parses the TOML.
_CACHE_FORMAT = 1


def cache_blob(raw: bytes, data: Optional[Dict[str, Any]] = None) -> bytes:
    """The cache entry for a shipped assignment's bytes and their parsed table (parsed here when
    not given; raises ExpectationsError if invalid, ValueError if not marshal-able)."""
    import marshal

    return marshal.dumps((_CACHE_FORMAT, raw, _decode(raw, "<assignment>") if data is None else data))


def _cached(blob: Optional[bytes], raw: bytes) -> Optional[Dict[str, Any]]:
    import marshal

    try:
        fmt, source, data = marshal.loads(blob or b"")
    except (ValueError, EOFError, TypeError):
        return None
    return data if fmt == _CACHE_FORMAT and source == raw and isinstance(data, dict) else None


def _toml() -> Any:
    """The TOML reader: the standard library's `tomllib` on Python 3.11+, `tomli` before that
    (`selfcheck.pyz` bundles it, so the single file works on Python 3.9 with nothing installed)."""
    try:
        import tomllib  # type: ignore[import-not-found, unused-ignore]  # mypy targets 3.10, tomllib is 3.11+

        return tomllib
    except ImportError:  # pragma: no cover - Python 3.9/3.10 only
        pass
    try:
        import tomli

        return tomli
    except ImportError:
        raise ExpectationsError(
            "this Python is older than 3.11 and has no TOML reader: install one with "
            "'python3 -m pip install --user tomli', or run the single file 'python3 selfcheck.pyz', "
            "which carries its own"
        ) from None


def _decode(raw: Union[bytes, str], source: str) -> Dict[str, Any]:
    toml = _toml()
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        table: Dict[str, Any] = toml.loads(text)
        return table
    except toml.TOMLDecodeError as exc:
        raise ExpectationsError(f"{source}: not valid TOML: {exc}") from None


def parse(raw: Union[bytes, str], source: str = "<expectations>") -> Expectations:
    """Validate TOML text against the schema and build `Expectations`."""
    return validate(_decode(raw, source), source)


def validate(data: Mapping[str, Any], source: str = "<expectations>") -> Expectations:
    """Check a parsed table against the schema and build `Expectations`."""
    values: Dict[str, Any] = {"source": source}
    problems: List[str] = []
    for key in data:
        if key not in _SCHEMA and key not in _SCHEMA[""]:
            problems.append(f"unknown key {key!r} (known: {', '.join(_known(''))})")
    for section, keys in _SCHEMA.items():
        table: Mapping[str, Any] = data if section == "" else data.get(section, {})
        where = f"[{section}]" if section else "the top level"
        if not isinstance(table, dict):
            problems.append(f"{section!r} must be a table ([{section}])")
            continue
        for key in table:
            if section and key not in keys:
                problems.append(f"unknown key {section}.{key} in {where} (known: {', '.join(_known(section))})")
        for key, (types, required, expected, attr) in keys.items():
            name = f"{section}.{key}" if section else key
            if key not in table:
                if required:
                    problems.append(f"missing {name}: expected {expected}")
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, types):
                problems.append(f"{name} is {_describe(value)}: expected {expected}")
                continue
            values[attr] = value
    if not problems:
        problems = _semantic_problems(values)
    if problems:
        raise ExpectationsError(f"{source}: " + "; ".join(problems))
    values["checks"] = tuple(values["checks"])
    values["key_types"] = tuple(values["key_types"])
    values["packages"] = tuple(sorted(values.get("packages", {}).items()))
    values["points"] = tuple(sorted((k, float(v)) for k, v in values.get("points", {}).items()))
    return Expectations(**values)


def _semantic_problems(values: Dict[str, Any]) -> List[str]:
    problems = []
    if not re.fullmatch(_ID_RE, values["id"]):
        problems.append(f"id {values['id']!r}: expected lowercase letters, digits, '.', '_' or '-'")
    for item in values["checks"]:
        if not isinstance(item, str) or not item:
            problems.append(f"checks holds {_describe(item)}: expected check ids or areas (strings)")
    for item in values["key_types"]:
        if item not in KEY_TYPES:
            problems.append(f"ssh.key_types holds {item!r}: expected some of {', '.join(KEY_TYPES)}")
    if values["min_rsa_bits"] < 1024:
        problems.append(f"ssh.min_rsa_bits is {values['min_rsa_bits']}: expected at least 1024 "
                        "(OpenSSH refuses smaller RSA keys)")
    if values.get("recommended_rsa_bits", values["min_rsa_bits"]) < values["min_rsa_bits"]:
        problems.append("ssh.recommended_rsa_bits is below ssh.min_rsa_bits: expected at least as many bits")
    if not 1 <= values["local_port"] <= 65535:
        problems.append(f"tunnel.local_port is {values['local_port']}: expected a port from 1024 to 65535")
    elif values["local_port"] < 1024:
        problems.append(f"tunnel.local_port is {values['local_port']}: expected 1024 or more "
                        "(lower ports need administrator rights on a laptop)")
    for key in ("cpus", "memory_gb"):
        if values[key] <= 0:
            problems.append(f"resources.{key} is {values[key]}: expected a number above 0")
    if values["gpus"] < 0:
        problems.append(f"resources.gpus is {values['gpus']}: expected 0 or more")
    for name, spec in values.get("packages", {}).items():
        if not isinstance(spec, str):
            problems.append(f"env.packages.{name} is {_describe(spec)}: expected a version range string")
    for name, worth in values.get("points", {}).items():
        if not re.fullmatch(r"[a-z]+(\.[a-z_]+)*", name):
            problems.append(f"points.{name}: expected a check id or an area, such as ssh or tunnel.token")
        elif isinstance(worth, bool) or not isinstance(worth, (int, float)) or not 0 <= worth <= 1000:
            problems.append(f"points.{name} is {_describe(worth)}: expected a number of points from 0 to 1000")
    return problems


def _known(section: str) -> List[str]:
    if section:
        return list(_SCHEMA[section])
    return list(_SCHEMA[""]) + [f"[{s}]" for s in _SCHEMA if s]


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return f"{kinds.get(type(value), type(value).__name__)} ({value!r})"


def schema_rows() -> List[Tuple[str, str, bool]]:
    """(key, what is expected, required) for every key: the instructor guide's table."""
    rows = []
    for section, keys in _SCHEMA.items():
        for key, (_types, required, expected, _attr) in keys.items():
            rows.append((f"{section}.{key}" if section else key, expected, required))
    return rows
