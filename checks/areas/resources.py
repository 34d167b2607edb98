"""Server resources: the CPUs, memory and GPUs this container (or Slurm job) may really use, and disk space.

Inside a container `os.cpu_count()`, `nproc` and `/proc/meminfo` report the whole node, so the
checks read the container's own cgroup: found through `/proc/self/cgroup` and
`/proc/self/mountinfo` (cgroup v1, v2, hybrid, nested paths, cgroup namespaces), walking up
the hierarchy for the tightest limit, as the JDK does. In a Slurm job the cgroup is the job's
(what Slurm enforces); the job's SLURM_* variables say what it asked for, and stand in for the
limit where no cgroup holds one.
"""

from __future__ import annotations

from ..context import Context
from ..model import Fix, Heading, Verdict, failed, passed, skipped, warned
from ..probes.cgroups import cpu_info, memory_info
from ..probes.gpus import probe_gpus, visible
from ..probes.slurm import slurm_job
from ..registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

DOCS = "lessons/cluster.html#launch-a-server"
GB, GIB = 10**9, 2**30
MEMORY_TOLERANCE = 0.02  # the launcher may give 8 GiB or 8 GB: accept down to 2% below m × 10^9


# -- parsing /proc ------------------------------------------------------------------------------


# -- finding the container's cgroup ---------------------------------------------------------------


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB ({n / GIB:.1f} GiB)"


RELAUNCH = Heading("Leave this server (exit), and from the login node launch one with what the assignment asks for",
                   "launch-script")
RELAUNCH_JOB = Heading("End this job (exit), and from the login node ask Slurm for one with what the assignment asks for",
                       "slurm")
SHOW_GPUS = "Let your programs see the GPUs"
NO_GPU = "Launch without a GPU: others are waiting for one"
FREE_SPACE = "Free some space: find what is largest"


def _launch(ctx: Context) -> Fix:
    heading = RELAUNCH_JOB if ctx.expectations.site.slurm else RELAUNCH
    return Fix.under(heading, ":", ["exit", ctx.expectations.launch_command()])


def _inside(ctx: Context) -> str:
    """Where the limits should be: the question a missing limit raises."""
    if ctx.expectations.site.slurm:
        return "are you inside your Slurm job (salloc), on its compute node?"
    return "are you inside the server the launch script started?"


def _requested(observed: Dict[str, Any], details: List[str], value: Any, source: str, shown: str) -> None:
    """Slurm's request beside what the cgroup enforces."""
    if value is not None:
        observed["requested"] = value
        details.append(f"the Slurm job asked for {shown} ({source})")


# -- checks ------------------------------------------------------------------------------------

@check("resources.cpus", title="CPUs you may use", sides=["server"], docs=DOCS, fixes=(RELAUNCH, RELAUNCH_JOB))
def cpus(ctx: Context) -> Verdict:
    """How many CPUs may your server use (its cgroup quota and CPU affinity), against the assignment?

    `os.cpu_count()` and `nproc` may show the whole node; your server (a container, or a Slurm
    job) is limited to what you asked for when you started it.
    """
    info = cpu_info(ctx)
    job = slurm_job(ctx)
    want = ctx.expectations.cpus
    node = f"the node has {info.node}" if info.node else "the node's CPU count is unknown"
    effective = info.effective
    observed: Dict[str, Any] = {"node": info.node, "quota": info.quota, "affinity": info.affinity, "usable": effective}
    why: List[str] = []
    if info.cpuset is not None:
        observed["cpuset"] = info.cpuset
        why.append(f"cgroup cpuset {info.cpuset} CPUs ({info.version}, {info.cpuset_at})")
    if job is not None:
        _requested(observed, why, job.cpus, job.cpus_from, f"{job.cpus:g} CPUs" if job.cpus else "")
    limited = info.quota is not None or info.cpuset is not None or (
        info.affinity is not None and info.affinity != info.node)
    if not limited and job is not None and job.cpus:
        effective = observed["usable"] = job.cpus  # Slurm's allocation, where no cgroup or affinity shows it
        why.append("no cgroup or affinity limit shows it here: the job's allocation is taken as the limit")
    elif not limited:
        usable = f"you may use all {effective:g} of them" if effective else "how many you may use is unknown"
        return warned(f"{node}, and no CPU limit was found for this container ({info.version or 'no cgroup'}), so "
                      f"{usable}: {_inside(ctx)}",
                      _launch(ctx), expected=want, observed=observed,
                      details=["no cpu.max / cpu.cfs_quota_us limit on the way up the cgroup tree"])
    if info.quota is not None:
        why.append(f"cgroup quota {info.quota:g} CPUs ({info.version}, {info.quota_at})")
    if info.affinity is not None:
        why.append(f"CPU affinity {info.affinity}")
    summary = f"{node}, you may use {effective:g}"
    if effective is not None and effective + 1e-9 < want:
        return failed(f"{summary}: the assignment expects {want:g}", _launch(ctx), expected=want, observed=observed,
                      details=why)
    return passed(f"{summary} (the assignment expects {want:g})", expected=want, observed=observed, details=why)


@check("resources.memory", title="Memory you may use", sides=["server"], docs=DOCS, fixes=(RELAUNCH, RELAUNCH_JOB))
def memory(ctx: Context) -> Verdict:
    """How much memory may your server use (its cgroup limit), against the assignment?

    /proc/meminfo shows the node's memory; past the cgroup limit your programs are killed by
    the kernel's out-of-memory killer. GB (10⁹ bytes) and GiB (2³⁰) differ by 7%: both are shown.
    """
    info = memory_info(ctx)
    job = slurm_job(ctx)
    want = ctx.expectations.memory_gb
    node = f"the node has {_gb(info.node)}" if info.node else "the node's memory is unknown"
    details = [f"tolerance: the launcher may count -m in GB or GiB, so {want:g} GB less "
               f"{MEMORY_TOLERANCE:.0%} passes"]
    if info.current is not None:
        details.append(f"in use now: {_gb(info.current)}")
    if info.oom_kills:
        details.append(f"the kernel has killed {info.oom_kills} process(es) here for lack of memory")
    observed: Dict[str, Any] = {"node_bytes": info.node, "limit_bytes": info.limit, "usable_bytes": info.limit}
    if job is not None:
        _requested(observed, details, job.memory, job.memory_from, _gb(job.memory) if job.memory else "")
    usable = info.limit
    if usable is None and job is not None and job.memory:
        usable = observed["usable_bytes"] = job.memory
        details.append("no cgroup limit shows it here: the job's allocation is taken as the limit")
    if usable is None:
        observed["usable_bytes"] = info.node
        whole = "so you may use all of it" if info.node else "so how much you may use is unknown"
        return warned(f"{node}, and no memory limit was found for this container, {whole}: {_inside(ctx)}",
                      _launch(ctx), expected=f"{want:g} GB", observed=observed, details=details)
    summary = f"{node}, you may use {_gb(usable)}"
    if usable < want * GB * (1 - MEMORY_TOLERANCE):
        return failed(f"{summary}: the assignment expects {want:g} GB", _launch(ctx), expected=f"{want:g} GB",
                      observed=observed, details=details)
    return passed(f"{summary} (the assignment expects {want:g} GB)", expected=f"{want:g} GB", observed=observed,
                  details=details)


@check("resources.gpus", title="GPUs visible", sides=["server"], docs=DOCS, timeout=20,
       fixes=(RELAUNCH, RELAUNCH_JOB, SHOW_GPUS, NO_GPU))
def gpus(ctx: Context) -> Verdict:
    """How many GPUs can programs on your server use (nvidia-smi, CUDA_VISIBLE_DEVICES), against the assignment?"""
    want = ctx.expectations.gpus
    probe = probe_gpus(ctx)
    cuda = ctx.env.get("CUDA_VISIBLE_DEVICES")
    nvidia = ctx.env.get("NVIDIA_VISIBLE_DEVICES")
    details = [f"NVIDIA_VISIBLE_DEVICES={nvidia}" if nvidia is not None else "NVIDIA_VISIBLE_DEVICES is not set",
               f"CUDA_VISIBLE_DEVICES={cuda}" if cuda is not None else "CUDA_VISIBLE_DEVICES is not set"]
    job = slurm_job(ctx)
    if job is not None:
        details.append(f"the Slurm job asked for {job.gpus} GPU(s) ({job.gpus_from})" if job.gpus is not None
                       else "the Slurm job asked for no GPU (SLURM_GPUS_ON_NODE is not set)")
    if probe.missing or probe.error:
        why = "nvidia-smi is not installed" if probe.missing else probe.error
        if want == 0:
            return passed(f"no GPU ({why}), as the assignment expects", expected=0, observed=0, details=details)
        return failed(f"no GPU usable: {why}; the assignment expects {want}", _launch(ctx), expected=want,
                      observed=0, details=details)
    seen = visible(probe.gpus, cuda)
    names = ", ".join(str(gpu) for gpu in seen)
    # In a Slurm job CUDA_VISIBLE_DEVICES names the job's GPUs: the others are other jobs', not to be unhidden.
    if len(seen) < len(probe.gpus) and len(seen) < max(want, 1) and cuda is not None and job is None:
        return failed(f"{len(probe.gpus)} GPU(s) present, but CUDA_VISIBLE_DEVICES={cuda!r} hides "
                      f"{'them' if not seen else 'some'} from your programs",
                      Fix.under(SHOW_GPUS, " (in the terminal you start them from):",
                                [ctx.shell.unset("CUDA_VISIBLE_DEVICES")]),
                      expected=want, observed=len(seen), details=details)
    if len(seen) < want:
        return failed(f"{len(seen)} GPU(s) visible; the assignment expects {want}", _launch(ctx), expected=want,
                      observed=len(seen), details=details)
    if want == 0 and seen:
        return warned(f"{len(seen)} GPU(s) visible ({names}), but the assignment needs none",
                      Fix.under(NO_GPU, ":", ["exit", ctx.expectations.launch_command()]),
                      expected=0, observed=len(seen), details=details)
    what = f": {names}" if seen else ""
    return passed(f"{len(seen)} GPU(s) visible{what} (the assignment expects {want})", expected=want,
                  observed=len(seen), details=details)


@check("resources.disk", title="Free disk space", sides=["laptop", "server"], docs=DOCS, fixes=(FREE_SPACE,))
def disk(ctx: Context) -> Verdict:
    """Is there room left where your work lives (your home folder)?"""
    try:
        usage = ctx.disk_usage(ctx.home)
    except OSError as exc:
        return skipped(f"cannot measure {ctx.shown(ctx.home)}: {exc.strerror or exc}")
    want = ctx.expectations.min_free_disk_gb
    free = usage.free
    summary = f"{free / GB:.1f} GB free of {usage.total / GB:.1f} GB in your home folder ({ctx.shown(ctx.home)})"
    if free < want * GB:
        return warned(f"only {summary}: below the {want:g} GB your work may need",
                      Fix.under(FREE_SPACE, ", then delete what you do not need:", [ctx.shell.largest_folders()]),
                      expected=f">= {want:g} GB", observed=free)
    return passed(summary, expected=f">= {want:g} GB", observed=free)
