"""The Slurm job this process runs in, if any: what the job asked for, from the variables
Slurm sets in a job's environment, and the job's id in `/proc/self/cgroup`.

What the job may really use is enforced by its cgroup (checks/probes/cgroups.py reads it); the
variables say what was requested (domain facts F4, from Slurm's salloc/sbatch manual pages):
`SLURM_CPUS_PER_TASK` (only with -c), `SLURM_CPUS_ON_NODE`, `SLURM_MEM_PER_NODE` (MB, that is
MiB: --mem=8G is 8192), `SLURM_MEM_PER_CPU`, `SLURM_GPUS_ON_NODE`.
"""

from __future__ import annotations

import re

from .._record import Record
from .._text import digits
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

MIB = 2**20
# cgroup v2: /system.slice/slurmstepd.scope/job_<id>/step_<step>/user/task_<n>;
# cgroup v1: /slurm/uid_<uid>/job_<id>/step_<step>/task_<n> (Slurm's cgroup_v2.shtml and cgroup_v1 plugin).
_CGROUP_JOB = r"^(/(?:[^/]+/)*?(?:[A-Za-z0-9._-]*slurmstepd\.scope|slurm)/(?:uid_\d+/)?job_(\d{1,19}))(?:/|$)"


def _job_cgroup(text: str) -> Optional["re.Match[str]"]:
    for line in text.splitlines():
        match = re.match(_CGROUP_JOB, line.split(":", 2)[-1].strip())
        if match:
            return match
    return None


class SlurmJob(Record):
    """A Slurm job as seen from inside it."""

    job_id: str
    node: str = ""  # SLURMD_NODENAME: set by slurmd in the job's steps, not in salloc's shell on the login node
    nodelist: str = ""
    cgroup: str = ""  # the job's cgroup path, when /proc/self/cgroup names one
    cpus: Optional[float] = None  # CPUs requested (for one task; on this node)
    cpus_from: str = ""
    memory: Optional[int] = None  # bytes requested on this node
    memory_from: str = ""
    gpus: Optional[int] = None
    gpus_from: str = ""

    def evidence(self) -> List[str]:
        said = []
        if self.job_id:
            where = f" on {self.nodelist}" if self.nodelist else ""
            said.append(f"SLURM_JOB_ID={self.job_id} is set: this runs inside Slurm job {self.job_id}{where}")
        if self.node:
            said.append(f"SLURMD_NODENAME={self.node}: a compute node")
        if self.cgroup:
            said.append(f"/proc/self/cgroup names the job's cgroup {self.cgroup}")
        return said


def _number(text: Optional[str]) -> Optional[int]:
    """A Slurm count such as "8", or "8(x2)" in the per-node lists; None when not a count."""
    match = re.fullmatch(r"\s*(\d{1,9})(?:\(x\d+\))?\s*", text or "")
    return int(match.group(1)) if match else None


def slurm_job(ctx: Context) -> Optional[SlurmJob]:
    """The job this process runs in (None: no sign of Slurm)."""

    def compute() -> Optional[SlurmJob]:
        env = ctx.env
        job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID") or ""
        job_id = job_id if digits(job_id) and len(job_id) < 20 else ""
        cgroup = ctx.read_text(ctx.proc_path("self", "cgroup")) or ""
        match = _job_cgroup(cgroup)
        if not job_id and not match:
            return None
        node = env.get("SLURMD_NODENAME", "")
        node = node if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", node) else ""
        nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
        nodelist = nodelist if re.fullmatch(r"[A-Za-z0-9._,\[\]-]{1,200}", nodelist) else ""
        cpus, cpus_from = None, ""
        for name in ("SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"):
            value = _number(env.get(name))
            if value:
                cpus, cpus_from = float(value), f"{name}={value}"
                break
        memory, memory_from = None, ""
        per_node, per_cpu = _number(env.get("SLURM_MEM_PER_NODE")), _number(env.get("SLURM_MEM_PER_CPU"))
        on_node = _number(env.get("SLURM_CPUS_ON_NODE")) or (int(cpus) if cpus else None)
        if per_node:
            memory, memory_from = per_node * MIB, f"SLURM_MEM_PER_NODE={per_node} (MB)"
        elif per_cpu and on_node:
            memory, memory_from = per_cpu * on_node * MIB, f"SLURM_MEM_PER_CPU={per_cpu} (MB) × {on_node} CPUs"
        gpus, gpus_from = None, ""
        value = _number(env.get("SLURM_GPUS_ON_NODE"))
        if value is not None:
            gpus, gpus_from = value, f"SLURM_GPUS_ON_NODE={value}"
        return SlurmJob(job_id or (match.group(2) if match else ""), node, nodelist,
                        match.group(1) if match else "", cpus, cpus_from, memory, memory_from, gpus, gpus_from)

    return ctx.memo("slurm.job", compute)
