"""Where am I, and is the environment the one the assignment expects?

`env.side` tells the student's own computer from the login node (the "jumpbox") and from a
server container, from evidence in the environment and `/proc/self/cgroup`.
"""

from __future__ import annotations

import re
import sys
from typing import List, Tuple

from .context import Context
from .model import Fix, Verdict, failed, passed, skipped, warned
from .registry import check

_CONTAINER_CGROUP = re.compile(r"kubepods|docker|containerd|cri-o|libpod|/lxc/")


def detect_side(ctx: Context, hostname: str) -> Tuple[str, List[str]]:
    """("laptop" | "jumpbox" | "server", the evidence) for this machine."""
    evidence: List[str] = []
    if ctx.platform.name != "linux":
        return "laptop", [f"this is {ctx.platform.name}; the cluster runs Linux"]
    if ctx.env.get("KUBERNETES_SERVICE_HOST"):
        evidence.append("KUBERNETES_SERVICE_HOST is set (a Kubernetes pod)")
    cgroup = ctx.read_text(ctx.proc_path("self", "cgroup")) or ""
    match = _CONTAINER_CGROUP.search(cgroup)
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
            f"this is {names['jumpbox']} ({why}): it is the lobby, not your room — the server's "
            "checks only mean something inside the container the launch script starts",
            Fix("Start your server from the login node with the launch script, then run the checks there:",
                [script, "python3 -m checks --side server"]),
            expected="laptop or server", observed=ctx.side)
    return passed(f"this is {names.get(ctx.side, ctx.side)} ({why})", observed=ctx.side)


@check("env.python", title="Python version", docs="lessons/remote-development.html#guidelines",
       fixes=("Use a Python that matches the assignment's range",))
def python_version(ctx: Context) -> Verdict:
    """Does this Python match the version the assignment asks for?

    The same language version on your computer and on the server keeps results reproducible.
    """
    from .versions import InvalidSpec, matches

    spec = ctx.expectations.python
    version = ".".join(str(p) for p in sys.version_info[:3])
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
