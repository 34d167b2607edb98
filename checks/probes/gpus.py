"""The GPUs this container can use: `nvidia-smi`'s list, its exit statuses, and what
`CUDA_VISIBLE_DEVICES` leaves visible to programs."""

from __future__ import annotations

from .._record import Record
from .._text import digits
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple


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
    chosen: List[Tuple[str, str, str]] = []
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
