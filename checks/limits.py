"""Server resources: the CPUs, memory and GPUs this container may really use, and disk space.

Inside a container `os.cpu_count()`, `nproc` and `/proc/meminfo` report the whole node, so the
checks read the container's own cgroup: found through `/proc/self/cgroup` and
`/proc/self/mountinfo` (cgroup v1, v2, hybrid, nested paths, cgroup namespaces), walking up
the hierarchy for the tightest limit, as the JDK does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ._record import Record
from ._text import digits
from .context import Context
from .model import Fix, Verdict, failed, passed, skipped, warned
from .registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

DOCS = "lessons/dsmlp.html#launch-a-server"
GB, GIB = 10**9, 2**30
UNLIMITED_V1 = 2**60  # v1 reports "no limit" as 9223372036854771712 (LONG_MAX rounded to pages)
MEMORY_TOLERANCE = 0.02  # the launcher may give 8 GiB or 8 GB: accept down to 2% below m × 10^9


# -- parsing /proc ------------------------------------------------------------------------------

class Mount(Record):
    root: str
    mountpoint: str
    fstype: str
    options: str


def parse_proc_cgroup(text: str) -> Tuple[Optional[str], Dict[str, str]]:
    """(/proc/self/cgroup's v2 path or None, v1 controller → path)."""
    v2: Optional[str] = None
    v1: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        path = path[: -len(" (deleted)")] if path.endswith(" (deleted)") else path
        if hid == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller.replace("name=", "")] = path
    return v2, v1


def parse_mountinfo(text: str) -> List[Mount]:
    """The cgroup mounts of /proc/self/mountinfo (fields 4 and 5, then the type after ' - ')."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 1:
            continue
        if tail[0] in ("cgroup", "cgroup2"):
            unescape = lambda s: s.replace("\\040", " ")  # noqa: E731 - mountinfo escapes spaces
            mounts.append(Mount(unescape(fields[3]), unescape(fields[4]), tail[0], tail[2] if len(tail) > 2 else ""))
    return mounts


def parse_cpu_list(text: str) -> Optional[int]:
    """How many CPUs a list such as "0-3,8,10-11" names."""
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not digits(lo) or (hi and not digits(hi)):
            return None
        count += (int(hi) - int(lo) + 1) if hi else 1
    return count or None


def parse_cpu_max(text: str) -> Optional[float]:
    """v2 cpu.max ("max 100000" or "200000 100000") → CPUs, None when unlimited."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_v1_quota(quota: str, period: str) -> Optional[float]:
    try:
        q, p = int(quota.strip()), int(period.strip())
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def parse_bytes(text: str) -> Optional[int]:
    """memory.max / memory.limit_in_bytes → bytes, None when unlimited."""
    value = text.strip()
    if value == "max" or not digits(value):
        return None
    number = int(value)
    return None if number >= UNLIMITED_V1 else number


def parse_meminfo(text: str) -> Optional[int]:
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
    return int(match.group(1)) * 1024 if match else None


# -- finding the container's cgroup ---------------------------------------------------------------

def _host_path(ctx: Context, mountpoint: str) -> Path:
    """A mount point as seen through the context's /sys (fixture trees live elsewhere)."""
    if mountpoint == "/sys" or mountpoint.startswith("/sys/"):
        return ctx.sysfs / mountpoint[len("/sys/"):] if mountpoint != "/sys" else ctx.sysfs
    return Path(mountpoint)


def cgroup_dirs(ctx: Context, controller: str) -> Tuple[str, List[Path]]:
    """("v1" | "v2" | "", the cgroup folders from the process's own up to the mount's root)."""

    def compute() -> Tuple[str, List[Path]]:
        v2, v1 = parse_proc_cgroup(ctx.read_text(ctx.proc_path("self", "cgroup")) or "")
        mounts = parse_mountinfo(ctx.read_text(ctx.proc_path("self", "mountinfo")) or "")
        if controller in v1:
            mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.options.split(",")), None)
            base = _host_path(ctx, mount.mountpoint) if mount else _v1_default(ctx, controller)
            return "v1", _walk(base, mount.root if mount else "/", v1[controller])
        if v2 is not None:
            mount = next((m for m in mounts if m.fstype == "cgroup2"), None)
            base = _host_path(ctx, mount.mountpoint) if mount else ctx.sys_path("fs", "cgroup")
            return "v2", _walk(base, mount.root if mount else "/", v2)
        return "", []

    return ctx.memo(("cgroup", controller), compute)


def _v1_default(ctx: Context, controller: str) -> Path:
    root = ctx.sys_path("fs", "cgroup")
    for name in (controller, "cpu,cpuacct", "cpuacct,cpu"):
        if (root / name).is_dir() and controller in name.split(","):
            return root / name
    return root / controller


def _walk(base: Path, mount_root: str, path: str) -> List[Path]:
    """Leaf to mount root. A path outside the mount (no cgroup namespace) falls back to the root."""
    rel = path
    if mount_root not in ("", "/") and (path == mount_root or path.startswith(mount_root.rstrip("/") + "/")):
        rel = path[len(mount_root.rstrip("/")):]
    parts = [p for p in rel.split("/") if p and p != ".."]
    dirs = []
    for depth in range(len(parts), -1, -1):
        candidate = base.joinpath(*parts[:depth])
        if candidate.is_dir():
            dirs.append(candidate)
    return dirs or [base]


def _read(ctx: Context, path: Path) -> Optional[str]:
    return ctx.read_text(path, limit=4096)


class CpuInfo(Record):
    node: Optional[int]  # CPUs of the whole machine
    affinity: Optional[int]  # CPUs this process may be scheduled on
    quota: Optional[float]  # CPUs' worth of time the cgroup allows, None = no quota
    quota_at: str = ""
    version: str = ""

    @property
    def effective(self) -> Optional[float]:
        """CPUs' worth of time this process may use: the quota and the affinity, whichever is less."""
        limits = [x for x in (self.affinity, self.quota) if x]
        return min(limits) if limits else self.node

    @property
    def threads(self) -> Optional[int]:
        """Worker threads to start (the JDK's and Go's rounding: the quota rounded up)."""
        return math.ceil(self.effective) if self.effective else None


def cpu_info(ctx: Context) -> CpuInfo:
    node = parse_cpu_list(_read(ctx, ctx.sys_path("devices", "system", "cpu", "online")) or "")
    if node is None:
        cpuinfo = _read_long(ctx, ctx.proc_path("cpuinfo"))
        node = len(re.findall(r"^processor\s*:", cpuinfo, re.M)) or None
    status = _read(ctx, ctx.proc_path("self", "status")) or ""
    match = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M)
    affinity = parse_cpu_list(match.group(1)) if match else None
    version, dirs = cgroup_dirs(ctx, "cpu")
    best: Optional[float] = None
    where = ""
    for folder in dirs:
        if version == "v2":
            quota = parse_cpu_max(_read(ctx, folder / "cpu.max") or "")
        else:
            quota = parse_v1_quota(_read(ctx, folder / "cpu.cfs_quota_us") or "",
                                   _read(ctx, folder / "cpu.cfs_period_us") or "100000")
        if quota is not None and (best is None or quota < best):
            best, where = quota, str(folder)
    return CpuInfo(node, affinity, best, where, version)


def _read_long(ctx: Context, path: Path) -> str:
    return ctx.read_text(path, limit=1 << 22) or ""


class MemoryInfo(Record):
    node: Optional[int]
    limit: Optional[int]
    limit_at: str = ""
    version: str = ""
    current: Optional[int] = None
    oom_kills: Optional[int] = None


def memory_info(ctx: Context) -> MemoryInfo:
    node = parse_meminfo(_read(ctx, ctx.proc_path("meminfo")) or "")
    version, dirs = cgroup_dirs(ctx, "memory")
    best: Optional[int] = None
    where = ""
    current = oom = None
    for i, folder in enumerate(dirs):
        name = "memory.max" if version == "v2" else "memory.limit_in_bytes"
        limit = parse_bytes(_read(ctx, folder / name) or "")
        if limit is not None and (best is None or limit < best):
            best, where = limit, str(folder)
        if i == 0:
            current = parse_bytes(_read(ctx, folder / ("memory.current" if version == "v2" else
                                                       "memory.usage_in_bytes")) or "")
            events = _read(ctx, folder / ("memory.events" if version == "v2" else "memory.oom_control")) or ""
            match = re.search(r"^oom_kill\s+(\d+)", events, re.M)
            oom = int(match.group(1)) if match else None
    if best is not None and node is not None and best >= node:
        best, where = None, ""
    return MemoryInfo(node, best, where, version, current, oom)


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB ({n / GIB:.1f} GiB)"


def _launch(ctx: Context) -> Fix:
    exp = ctx.expectations
    return Fix("Leave this server (exit), and from the login node launch one with what the assignment asks for:",
               ["exit", exp.launch_command()])


# -- checks ------------------------------------------------------------------------------------

@check("resources.cpus", title="CPUs you may use", sides=["server"], docs=DOCS,
       fixes=("Leave this server (exit), and from the login node launch one with what the assignment asks for",))
def cpus(ctx: Context) -> Verdict:
    """How many CPUs may this container use (its cgroup quota and CPU affinity), against the assignment?

    `os.cpu_count()` and `nproc` show the whole node; your container is limited to what the
    launch script asked for (-c).
    """
    info = cpu_info(ctx)
    want = ctx.expectations.cpus
    node = f"the node has {info.node}" if info.node else "the node's CPU count is unknown"
    if info.quota is None and (info.affinity is None or info.affinity == info.node):
        return warned(f"{node}, and no CPU limit was found for this container ({info.version or 'no cgroup'}): "
                      "are you inside the server the launch script started?",
                      _launch(ctx), expected=want, observed=None,
                      details=["no cpu.max / cpu.cfs_quota_us limit on the way up the cgroup tree"])
    effective = info.effective
    why = []
    if info.quota is not None:
        why.append(f"cgroup quota {info.quota:g} CPUs ({info.version}, {info.quota_at})")
    if info.affinity is not None:
        why.append(f"CPU affinity {info.affinity}")
    observed = {"node": info.node, "quota": info.quota, "affinity": info.affinity, "usable": effective}
    summary = f"{node}, you may use {effective:g}"
    if effective is not None and effective + 1e-9 < want:
        return failed(f"{summary}: the assignment expects {want:g}", _launch(ctx), expected=want, observed=observed,
                      details=why)
    return passed(f"{summary} (the assignment expects {want:g})", expected=want, observed=observed, details=why)


@check("resources.memory", title="Memory you may use", sides=["server"], docs=DOCS,
       fixes=("Leave this server (exit), and from the login node launch one with what the assignment asks for",))
def memory(ctx: Context) -> Verdict:
    """How much memory may this container use (its cgroup limit), against the assignment?

    /proc/meminfo shows the node's memory; past the cgroup limit your programs are killed
    ("OOMKilled"). GB (10⁹ bytes) and GiB (2³⁰) differ by 7%: both are shown.
    """
    info = memory_info(ctx)
    want = ctx.expectations.memory_gb
    node = f"the node has {_gb(info.node)}" if info.node else "the node's memory is unknown"
    details = [f"tolerance: the launcher may count -m in GB or GiB, so {want:g} GB less "
               f"{MEMORY_TOLERANCE:.0%} passes"]
    if info.current is not None:
        details.append(f"in use now: {_gb(info.current)}")
    if info.oom_kills:
        details.append(f"the kernel has killed {info.oom_kills} process(es) here for lack of memory")
    if info.limit is None:
        return warned(f"{node}, and no memory limit was found for this container: are you inside the server the "
                      "launch script started?", _launch(ctx), expected=f"{want:g} GB", observed=None, details=details)
    summary = f"{node}, you may use {_gb(info.limit)}"
    observed = {"node_bytes": info.node, "limit_bytes": info.limit}
    if info.limit < want * GB * (1 - MEMORY_TOLERANCE):
        return failed(f"{summary}: the assignment expects {want:g} GB", _launch(ctx), expected=f"{want:g} GB",
                      observed=observed, details=details)
    return passed(f"{summary} (the assignment expects {want:g} GB)", expected=f"{want:g} GB", observed=observed,
                  details=details)


NVIDIA_SMI_EXIT = {
    2: "an invalid argument was given", 3: "the operation is not supported on this GPU",
    4: "no permission to query the GPU", 6: "the GPU was not found", 8: "a GPU's power cables are not attached",
    9: "the NVIDIA driver is not loaded", 10: "the kernel detected an interrupt problem with a GPU",
    12: "the NVIDIA management library (NVML) could not be found or loaded",
    13: "a function is not implemented by the installed library", 14: "a GPU's infoROM is corrupted",
    15: "a GPU has fallen off the bus", 255: "an internal driver error",
}


class GpuProbe(Record):
    gpus: Tuple[Tuple[str, str, str], ...] = ()  # (index, name, memory MiB)
    missing: bool = False
    error: str = ""


def parse_gpu_csv(text: str) -> Tuple[Tuple[str, str, str], ...]:
    rows = []
    for line in text.splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) >= 3 and digits(cols[0]):
            rows.append((cols[0], ", ".join(cols[1:-1]), cols[-1]))
    return tuple(rows)


def probe_gpus(ctx: Context) -> GpuProbe:
    proc = ctx.run(["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"], timeout=10)
    if proc.missing:
        return GpuProbe(missing=True)
    if proc.timed_out:
        return GpuProbe(error="nvidia-smi did not answer within 10 s (the driver is hung)")
    if proc.returncode != 0:
        meaning = NVIDIA_SMI_EXIT.get(proc.returncode or -1, "an unknown error")
        first = (proc.output.strip().splitlines() or [""])[0]
        return GpuProbe(error=f"nvidia-smi failed with exit status {proc.returncode}: {meaning}"
                              + (f" ({first})" if first else ""))
    return GpuProbe(parse_gpu_csv(proc.stdout))


def visible(gpus: Tuple[Tuple[str, str, str], ...], cuda: Optional[str]) -> Tuple[Tuple[str, str, str], ...]:
    """The GPUs a CUDA program sees under CUDA_VISIBLE_DEVICES (an invalid entry ends the list)."""
    if cuda is None:
        return gpus
    chosen = []
    for entry in cuda.split(","):
        entry = entry.strip()
        if not digits(entry):
            if entry.startswith(("GPU-", "MIG-")):
                chosen.extend(g for g in gpus[:1] if g not in chosen)  # UUIDs: not in our query; count one
                continue
            break
        match = [g for g in gpus if g[0] == entry]
        if not match:
            break
        chosen.extend(match)
    return tuple(chosen)


@check("resources.gpus", title="GPUs visible", sides=["server"], docs=DOCS, timeout=20,
       fixes=("Leave this server (exit), and from the login node launch one with what the assignment asks for",
              "Let your programs see the GPUs", "Launch without a GPU: others are waiting for one"))
def gpus(ctx: Context) -> Verdict:
    """How many GPUs can programs in this container use (nvidia-smi, CUDA_VISIBLE_DEVICES), against the assignment?"""
    want = ctx.expectations.gpus
    probe = probe_gpus(ctx)
    cuda = ctx.env.get("CUDA_VISIBLE_DEVICES")
    nvidia = ctx.env.get("NVIDIA_VISIBLE_DEVICES")
    details = [f"NVIDIA_VISIBLE_DEVICES={nvidia}" if nvidia is not None else "NVIDIA_VISIBLE_DEVICES is not set",
               f"CUDA_VISIBLE_DEVICES={cuda}" if cuda is not None else "CUDA_VISIBLE_DEVICES is not set"]
    if probe.missing or probe.error:
        why = "nvidia-smi is not installed" if probe.missing else probe.error
        if want == 0:
            return passed(f"no GPU ({why}), as the assignment expects", expected=0, observed=0, details=details)
        return failed(f"no GPU usable: {why}; the assignment expects {want}", _launch(ctx), expected=want,
                      observed=0, details=details)
    seen = visible(probe.gpus, cuda)
    names = ", ".join(f"{name} ({int(mem) / 1024:.0f} GiB)" if digits(mem) else name for _, name, mem in seen)
    if len(seen) < len(probe.gpus) and len(seen) < max(want, 1) and cuda is not None:
        return failed(f"{len(probe.gpus)} GPU(s) present, but CUDA_VISIBLE_DEVICES={cuda!r} hides "
                      f"{'them' if not seen else 'some'} from your programs",
                      Fix("Let your programs see the GPUs:", ["unset CUDA_VISIBLE_DEVICES"]),
                      expected=want, observed=len(seen), details=details)
    if len(seen) < want:
        return failed(f"{len(seen)} GPU(s) visible; the assignment expects {want}", _launch(ctx), expected=want,
                      observed=len(seen), details=details)
    if want == 0 and seen:
        return warned(f"{len(seen)} GPU(s) visible ({names}), but the assignment needs none",
                      Fix("Launch without a GPU: others are waiting for one:", ["exit", ctx.expectations.launch_command()]),
                      expected=0, observed=len(seen), details=details)
    what = f": {names}" if seen else ""
    return passed(f"{len(seen)} GPU(s) visible{what} (the assignment expects {want})", expected=want,
                  observed=len(seen), details=details)


@check("resources.disk", title="Free disk space", sides=["laptop", "server"], docs=DOCS,
       fixes=("Free some space: find what is largest",))
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
                      Fix("Free some space: find what is largest, then delete what you do not need:",
                          ["du -sh ~/* ~/.[!.]* 2>/dev/null | sort -h | tail"]),
                      expected=f">= {want:g} GB", observed=free)
    return passed(summary, expected=f">= {want:g} GB", observed=free)
