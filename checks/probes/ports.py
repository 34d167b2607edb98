"""Who holds a local TCP port: the process id and program name, from /proc on Linux, lsof on
macOS and netstat/tasklist on Windows."""

from __future__ import annotations

from .._text import digits
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple


def listener_owner(ctx: Context, port: int) -> Optional[Tuple[int, str]]:
    """(pid, program) of the process listening on a local TCP port, when it can be told."""
    if ctx.platform.name == "linux":
        return _linux_owner(ctx, port)
    if ctx.platform.name == "macos":
        proc = ctx.run(["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"], timeout=3)
        pid, name = None, ""
        for line in proc.stdout.splitlines():
            if line.startswith("p") and digits(line[1:]):
                pid = int(line[1:])
            elif line.startswith("c"):
                name = line[1:]
        return (pid, name) if pid else None
    if ctx.platform.is_windows:
        proc = ctx.run(["netstat", "-ano", "-p", "TCP"], timeout=5)
        for line in proc.stdout.splitlines():
            cols = line.split()
            if len(cols) >= 5 and cols[1].endswith(f":{port}") and cols[3].upper() == "LISTENING":
                pid = int(cols[4]) if digits(cols[4]) else None
                if pid:
                    task = ctx.run(["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"], timeout=5)
                    name = task.stdout.split(",")[0].strip('"') if task.ok and "," in task.stdout else ""
                    return pid, name
    return None


def _linux_owner(ctx: Context, port: int) -> Optional[Tuple[int, str]]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        text = ctx.read_text(ctx.proc_path("net", table)) or ""
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[1].rsplit(":", 1)[-1] == f"{port:04X}":
                inodes.add(cols[9])
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    import os

    try:
        pids = [p for p in os.listdir(ctx.procfs) if digits(p)]
    except OSError:
        return None
    for pid in pids:
        fd_dir = ctx.proc_path(pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in wanted:
                    name = (ctx.read_text(ctx.proc_path(pid, "comm")) or "").strip()
                    return int(pid), name
            except OSError:
                continue
    return None
