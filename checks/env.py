"""Where am I, and is the environment the one the assignment expects?

`env.side` tells the student's own computer from the login node (the "jumpbox") and from a
server container, from evidence in the environment and `/proc/self/cgroup`.
"""

from __future__ import annotations

import re

from .context import Context
from .model import Fix, Verdict, failed, passed, skipped, warned
from .registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

_CONTAINER_CGROUP = r"kubepods|docker|containerd|cri-o|libpod|/lxc/"


def detect_side(ctx: Context, hostname: str) -> Tuple[str, List[str]]:
    """("laptop" | "jumpbox" | "server", the evidence) for this machine."""
    evidence: List[str] = []
    if ctx.platform.name != "linux":
        shown = {"macos": "macOS", "windows": "Windows"}.get(ctx.platform.name, ctx.platform.name)
        return "laptop", [f"this is {shown}, and the cluster runs Linux"]
    if ctx.env.get("KUBERNETES_SERVICE_HOST"):
        evidence.append("KUBERNETES_SERVICE_HOST is set, as in a Kubernetes pod")
    cgroup = ctx.read_text(ctx.proc_path("self", "cgroup")) or ""
    match = re.search(_CONTAINER_CGROUP, cgroup)
    if match:
        evidence.append(f"/proc/self/cgroup names {match.group(0).strip('/')}")
    if ctx.env.get("container"):
        evidence.append(f"container={ctx.env['container']} is set")
    if evidence:
        return "server", evidence
    login = ctx.expectations.login_host.lower()
    short = hostname.lower().split(".")[0]
    if hostname and (hostname.lower() == login or short == login.split(".")[0]):
        return "jumpbox", [f"the host name {hostname} is the login host's"]
    return "laptop", ["no sign of a container or of the login host"]


@check("env.side", title="Where these checks run", docs="lessons/dsmlp.html#where-am-i",
       fixes=("Start your server from the login node with the launch script, then run the checks there",))
def side(ctx: Context) -> Verdict:
    """Which machine is this: your computer, the login node (jumpbox) or your server?

    The checks that apply differ: keys and the tunnel are checked on your computer, resources
    inside the server the launch script started.
    """
    names = {"laptop": "your own computer", "jumpbox": "the login node (jumpbox)",
             "server": "a server container on the cluster"}
    why = ctx.side_reason or "detected"
    if ctx.side == "jumpbox":
        script = ctx.expectations.launch_script
        return warned(
            f"this is {names['jumpbox']} ({why}): the lobby, not your room — the server's "
            "checks only mean something inside the container the launch script starts",
            Fix("Start your server from the login node with the launch script, then run the checks there:",
                [script, "python3 -m checks --side server"]),
            expected="laptop or server", observed=ctx.side)
    return passed(f"this is {names.get(ctx.side, ctx.side)}: {why}", observed=ctx.side)


@check("env.python", title="Python version", docs="lessons/remote-development.html#guidelines",
       fixes=("Use a Python that matches the assignment's range",))
def python_version(ctx: Context) -> Verdict:
    """Does this Python match the version the assignment asks for?

    The same language version on your computer and on the server keeps results reproducible.
    """
    from .versions import InvalidSpec, matches

    spec = ctx.expectations.python
    version = ctx.python_version
    if not spec:
        return skipped(f"the assignment names no Python version (this is {version})")
    try:
        ok = matches(version, spec)
    except InvalidSpec as exc:
        return failed(f"the assignment's Python range {spec!r} cannot be read: {exc}")
    if ok:
        return passed(f"Python {version} matches {spec}", expected=spec, observed=version)
    return failed(f"Python {version} does not match the assignment's {spec}",
                  Fix(f"Use a Python that matches the assignment's range ({spec}), for example with conda:",
                      [f"conda create -n course 'python{spec}'", "conda activate course"]),
                  expected=spec, observed=version)


def installed_packages(ctx: Context) -> Dict[str, str]:
    """Installed distributions' names (normalised) and versions, from their metadata folders.

    A `.dist-info` folder is named `<name>-<version>.dist-info` (the packaging spec), so one
    directory listing per path entry gives every version without parsing METADATA files or
    importing anything. Older `.egg-info` folders without a version in their name have it read
    from their PKG-INFO header.
    """
    import os

    found: Dict[str, str] = {}
    for entry in ctx.python_path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            stem, dot, kind = folder.rpartition(".")
            if kind not in ("dist-info", "egg-info") or not dot:
                continue
            name, sep, version = stem.partition("-")
            if kind == "egg-info" and (not sep or not version[:1].isdigit()):
                name, version = stem.split("-", 1)[0], _pkg_info_version(os.path.join(entry, folder))
            if name and version:
                found.setdefault(_normalise(name), version.split("-", 1)[0])
    return found


def _pkg_info_version(path: str) -> str:
    import os

    target = os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path
    try:
        with open(target, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except OSError:
        pass
    return ""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _freeze(installed: Dict[str, str]) -> str:
    """Versions as pip-freeze lines: one compact string keeps reports small and quick to collect."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(installed.items()))


def _parse_freeze(text: str) -> Dict[str, str]:
    found = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name:
            found[_normalise(name)] = version
    return found


def _load_compare(ctx: Context) -> Tuple[Optional[Dict[str, str]], str]:
    """The other side's package versions from its JSON report (--compare), or why not."""
    path = ctx.options.compare
    if not path:
        return None, ""
    import json

    try:
        doc = json.loads(open(path, encoding="utf-8").read())
    except (OSError, ValueError) as exc:
        return None, f"cannot read {path}: {exc}"
    for result in doc.get("results", []) if isinstance(doc, dict) else []:
        if isinstance(result, dict) and result.get("id") == "env.packages":
            observed = result.get("observed")
            installed = observed.get("installed") if isinstance(observed, dict) else None
            if isinstance(installed, str):
                return _parse_freeze(installed), ""
            if isinstance(installed, dict):
                return {_normalise(str(k)): str(v) for k, v in installed.items()}, ""
    return None, f"{path} has no env.packages result with package versions (make it with --json)"


@check("env.packages", title="Package versions", docs="lessons/remote-development.html#guidelines",
       fixes=("Install the versions the assignment asks for", "Make both sides use the same versions"))
def packages(ctx: Context) -> Verdict:
    """Are the packages the assignment lists installed at matching versions, and the same on both sides?

    Read from installed metadata, without importing anything. With --compare other.json (the
    other side's JSON report) every package whose version differs is listed.
    """
    from .versions import InvalidSpec, matches

    installed = installed_packages(ctx)
    observed = {"installed": _freeze(installed)}
    wrong, missing = [], []
    for name, spec in ctx.expectations.packages:
        have = installed.get(_normalise(name))
        if have is None:
            missing.append((name, spec))
            continue
        try:
            if not matches(have, spec):
                wrong.append((name, spec, have))
        except InvalidSpec:
            wrong.append((name, spec, have))
    if missing or wrong:
        pins = [f"{n}{s}" for n, s in missing] + [f"{n}{s}" for n, s, _ in wrong]
        said = [f"{n} is missing (wanted {s})" for n, s in missing] + [f"{n} {h} (wanted {s})" for n, s, h in wrong]
        return failed("; ".join(said), Fix("Install the versions the assignment asks for:",
                                           ["python3 -m pip install " + " ".join(f"'{p}'" for p in pins)]),
                      expected=dict(ctx.expectations.packages), observed=observed)
    other, problem = _load_compare(ctx)
    if problem:
        return failed(f"--compare: {problem}", Fix("Make the other side's report with --json, then compare:",
                                                    ["python3 -m checks --json > other-side.json"]), observed=observed)
    if other is not None:
        differ = sorted((n, installed[n], other[n]) for n in installed.keys() & other.keys() if installed[n] != other[n])
        only_here = len(installed.keys() - other.keys())
        only_there = len(other.keys() - installed.keys())
        details = [f"{n}: {a} here, {b} there" for n, a, b in differ]
        details.append(f"{only_here} package(s) only here, {only_there} only on the other side")
        observed["differ"] = {n: {"here": a, "there": b} for n, a, b in differ}
        if differ:
            return warned(f"{len(differ)} package(s) differ from the other side: "
                          + ", ".join(f"{n} {a} vs {b}" for n, a, b in differ[:5]) + ("…" if len(differ) > 5 else ""),
                          Fix("Make both sides use the same versions (here, pinned to the other side's):",
                              ["python3 -m pip install " + " ".join(f"'{n}=={b}'" for n, _, b in differ[:20])]),
                          observed=observed, details=details)
        return passed(f"the {len(installed.keys() & other.keys())} packages on both sides have the same versions",
                      observed=observed, details=details)
    wanted = len(ctx.expectations.packages)
    what = f"the {wanted} package(s) the assignment lists match" if wanted else "the assignment lists no packages"
    return passed(f"{what}; {len(installed)} installed packages recorded (compare sides with --compare)",
                  expected=dict(ctx.expectations.packages) or None, observed=observed)
