"""A captured or simulated machine: point every check at it instead of this computer.

A machine is a folder with `home/`, `proc/` and `sys/` trees and a `machine.json` that gives
the rest of what a check could read: the platform, the environment variables (PATH may name
the machine's own `bin/`), the host name, the Python version, disk usage, and file modes (git
does not keep modes, so they are applied to a private copy). The lesson's example outputs come
from two such machines; `SELFCHECK_MACHINE=<folder>` (or `machine=` in `checks.run`) selects one.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..context import DiskUsage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict

_COPIES: Dict[str, Path] = {}


class MachineError(ValueError):
    """A machine folder that cannot be used."""


def materialise(folder: Path) -> Path:
    """A private copy of the machine folder with its file modes applied (once per process)."""
    folder = Path(folder).resolve()
    key = str(folder)
    if key in _COPIES and _COPIES[key].exists():
        return _COPIES[key]
    spec = describe(folder)
    scratch = tempfile.mkdtemp(prefix="selfcheck-machine-")
    atexit.register(shutil.rmtree, scratch, True)  # the copy lives as long as this process
    copy = Path(scratch) / folder.name
    shutil.copytree(folder, copy, symlinks=True)
    for rel, mode in spec.get("modes", {}).items():
        os.chmod(copy / rel, int(str(mode), 8))
    _COPIES[key] = copy
    return copy


def describe(folder: Path) -> Dict[str, Any]:
    from ..files import FileProblem, read_text

    try:
        spec = json.loads(read_text(Path(folder) / "machine.json", 1 << 20, what="a machine description").text)
    except FileProblem as exc:
        raise MachineError(f"{folder} is not a machine folder (machine.json {exc.reason})") from None
    except (ValueError, RecursionError) as exc:
        raise MachineError(f"{folder} is not a machine folder (machine.json: {exc})") from None
    if not isinstance(spec, dict):
        raise MachineError(f"{folder}/machine.json must hold an object")
    return spec


def apply(ctx: Any, folder: Path) -> None:
    """Point the context at the machine: everything a check reads comes from it."""
    from ..platform import Platform

    root = materialise(folder)
    spec = describe(root)
    ctx.root = root
    ctx.home = root / "home"
    ctx.procfs = root / "proc"
    ctx.sysfs = root / "sys"
    ctx.cwd = ctx.home
    ctx.env = {k: str(v).replace("{machine}", str(root)) for k, v in spec.get("env", {}).items()}
    ctx.platform = Platform(spec.get("platform", "linux"), uid=os.getuid() if hasattr(os, "getuid") else None)
    ctx.hostname = spec.get("hostname", "example")
    ctx.python_path = [str(root / p) for p in spec.get("python_path", [])]
    if spec.get("python"):
        ctx.python_version = str(spec["python"])
    disk = spec.get("disk")
    if isinstance(disk, dict):
        usage = DiskUsage(int(disk["total"]), int(disk["total"]) - int(disk["free"]), int(disk["free"]))
        ctx.disk_usage = lambda path: usage
