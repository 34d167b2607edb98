"""Who holds a local TCP port: the process id and program name, from /proc on Linux, lsof on
macOS, and Get-NetTCPConnection (or netstat and tasklist) on Windows, IPv4 and IPv6."""

from __future__ import annotations

import re

from .._text import digits
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple


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
        return _windows_owner(ctx, port)
    return None


# PowerShell's own view of the listeners (IPv4 and IPv6), with each owner's process name; the port
# is an int, the only value in the script.
_GET_NET_TCP = ("Get-NetTCPConnection -State Listen -LocalPort {port} -ErrorAction Stop | ForEach-Object {{ "
                "$p = Get-Process -Id $_.OwningProcess -ErrorAction SilentlyContinue; "
                '"{{0}}`t{{1}}`t{{2}}" -f $_.OwningProcess, $p.ProcessName, $_.LocalAddress }}')


def _windows_owner(ctx: Context, port: int) -> Optional[Tuple[int, str]]:
    """Get-NetTCPConnection first; netstat where it is missing. Nothing here reads a translated word."""
    proc = ctx.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
                    _GET_NET_TCP.format(port=int(port))], timeout=15)
    if proc.ok:
        for line in proc.stdout.splitlines():
            cols = line.strip().split("\t")
            if cols and digits(cols[0]):
                return int(cols[0]), cols[1] if len(cols) > 1 else ""
        return None
    pid = netstat_listener(ctx.run(["netstat", "-ano"], timeout=10).stdout, port)
    if pid is None:
        return None
    task = ctx.run(["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"], timeout=10)
    first = task.stdout.strip().splitlines()[0] if task.ok and task.stdout.strip() else ""
    name = first.split(",")[0].strip('"') if first.startswith('"') and "," in first else ""
    return pid, name


def netstat_listener(output: str, port: int) -> Optional[int]:
    """The pid listening on a TCP port in `netstat -ano` output, IPv4 or IPv6.

    The state column is translated ("LISTENING", "ABHÖREN", "ÉCOUTE"...), so a listener is told by
    its foreign address instead: a listening socket has none (0.0.0.0:0 or [::]:0).
    """
    for line in output.splitlines():
        cols = line.split()
        if len(cols) < 5 or cols[0].upper() != "TCP" or not digits(cols[-1]):
            continue
        local, foreign = cols[1], cols[2]
        if local.rsplit(":", 1)[-1] == str(port) and foreign in ("0.0.0.0:0", "[::]:0", "*:*"):
            return int(cols[-1])
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


def command_line(ctx: Context, pid: int) -> List[str]:
    """The arguments a process was started with ([] when they cannot be read): /proc on Linux,
    `ps` on macOS (split on spaces, which is enough to find ssh's -L), CIM on Windows."""
    pid = int(pid)
    if ctx.platform.name == "linux":
        raw = ctx.read_text(ctx.proc_path(str(pid), "cmdline"), limit=65536) or ""
        return [arg for arg in raw.split("\0") if arg]
    if ctx.platform.name == "macos":
        return ctx.run(["ps", "-o", "args=", "-p", str(pid)], timeout=3).stdout.split()
    if ctx.platform.is_windows:
        script = f'(Get-CimInstance Win32_Process -Filter "ProcessId={pid}").CommandLine'
        return ctx.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script],
                       timeout=15).stdout.split()
    return []


def forward_of(argv: Sequence[str], local_port: int) -> Optional[Tuple[str, str]]:
    """(host, port) that an ssh command line forwards `local_port` to with -L, or None.

    Reads `-L [bind:]port:host:hostport` and `-Lport:host:hostport` (IPv6 hosts in brackets), as
    ssh's own option parser takes them.
    """
    specs: List[str] = []
    for i, arg in enumerate(argv):
        if arg == "-L" and i + 1 < len(argv):
            specs.append(argv[i + 1])
        elif arg.startswith("-L") and len(arg) > 2:
            specs.append(arg[2:])
        elif arg.startswith("-oLocalForward=") or arg.lower().startswith("localforward="):
            specs.append(arg.split("=", 1)[1].replace(" ", ":"))
    for spec in specs:
        parts = re.findall(r"\[[^\]]*\]|[^:]+", spec)
        if len(parts) == 4:
            parts = parts[1:]  # bind address first
        if len(parts) == 3 and parts[0] == str(local_port) and digits(parts[2]):
            return parts[1].strip("[]"), parts[2]
    return None
