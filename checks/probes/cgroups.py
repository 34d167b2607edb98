"""The CPUs and memory this container may really use, from its cgroup.

Inside a container `os.cpu_count()`, `nproc` and `/proc/meminfo` report the whole node, so the
limits are read from the container's own cgroup: found through `/proc/self/cgroup` and
`/proc/self/mountinfo` (cgroup v1, v2, hybrid, nested paths, cgroup namespaces), walking up
the hierarchy for the tightest limit, as the JDK does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .._record import Record
from .._text import digits
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple


UNLIMITED_V1 = 2**60  # v1 reports "no limit" as 9223372036854771712 (LONG_MAX rounded to pages)


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
        if tail[0] in ("cgroup", "cgroup2"):  # mountinfo escapes spaces as \\040
            mounts.append(Mount(fields[3].replace("\\040", " "), fields[4].replace("\\040", " "), tail[0],
                                tail[2] if len(tail) > 2 else ""))
    return mounts


def parse_cpu_list(text: str) -> Optional[int]:
    """How many CPUs a list such as "0-3,8,10-11" names."""
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not digits(lo) or (hi and not digits(hi)) or (hi and int(hi) < int(lo)):
            return None  # "3-0" is not a range the kernel writes: unknown, never a negative count
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
    cpuset: Optional[int] = None  # CPUs the cgroup's cpuset allows (Slurm confines a job's CPUs so)
    cpuset_at: str = ""

    @property
    def effective(self) -> Optional[float]:
        """CPUs' worth of time this process may use: the quota, the cpuset and the affinity, whichever is least."""
        limits = [x for x in (self.affinity, self.quota, self.cpuset) if x]
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
    cpuset, cpuset_at = _cpuset(ctx, node)
    return CpuInfo(node, affinity, best, where, version, cpuset, cpuset_at)


def _cpuset(ctx: Context, node: Optional[int]) -> Tuple[Optional[int], str]:
    """The CPUs the nearest cpuset on the way up allows, when fewer than the node's (v2
    cpuset.cpus.effective; v1 cpuset.effective_cpus, or cpuset.cpus)."""
    version, dirs = cgroup_dirs(ctx, "cpuset")
    names = ("cpuset.cpus.effective",) if version == "v2" else ("cpuset.effective_cpus", "cpuset.cpus")
    for folder in dirs:
        for name in names:
            count = parse_cpu_list(_read(ctx, folder / name) or "")
            if count is not None:
                return (count, str(folder)) if node is None or count < node else (None, "")
    return None, ""


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
