"""Which machine this is: the student's own computer, the login node ("jumpbox") or a server
(a container, or a compute node in a Slurm job), from evidence in the environment and
`/proc/self/cgroup`."""

from __future__ import annotations

import re

from ..context import Context
from .slurm import slurm_job

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple


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
    login = ctx.expectations.site.is_login_node(hostname) or (
        bool(hostname) and hostname.lower() == ctx.expectations.login_host.lower())
    job = slurm_job(ctx)
    if job is not None:
        if login and not job.node and not job.cgroup:
            # salloc without an interactive step leaves its shell on the login node, inside the job
            return "jumpbox", [f"the host name {hostname} is a login node's; SLURM_JOB_ID={job.job_id} is set, "
                               "but this shell runs on the login node, not on the job's compute node"]
        return "server", job.evidence()
    if login:
        return "jumpbox", [f"the host name {hostname} is the login host's"]
    return "laptop", ["no sign of a container, a Slurm job or the login host"]
