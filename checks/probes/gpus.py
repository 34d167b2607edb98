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


class Gpu(Record):
    """One GPU as `nvidia-smi --query-gpu=index,uuid,name,memory.total` lists it."""

    index: str
    uuid: str
    name: str
    memory_mib: str

    def __str__(self) -> str:
        return f"{self.name} ({int(self.memory_mib) / 1024:.0f} GiB)" if digits(self.memory_mib) else self.name


class GpuProbe(Record):
    gpus: Tuple[Gpu, ...] = ()
    missing: bool = False
    error: str = ""


QUERY = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"]


def parse_gpu_csv(text: str) -> Tuple[Gpu, ...]:
    """The rows of QUERY's output (a GPU's name may itself hold commas)."""
    rows = []
    for line in text.splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) >= 4 and digits(cols[0]):
            rows.append(Gpu(cols[0], cols[1], ", ".join(cols[2:-1]), cols[-1]))
    return tuple(rows)


def probe_gpus(ctx: Context) -> GpuProbe:
    proc = ctx.run(QUERY, timeout=10)
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


def visible(gpus: Tuple[Gpu, ...], cuda: Optional[str]) -> Tuple[Gpu, ...]:
    """The GPUs a CUDA program sees under CUDA_VISIBLE_DEVICES: indexes, or GPU UUIDs and their
    unique prefixes, in order; the first entry that names no GPU ends the list, and a GPU named
    twice hides them all (the CUDA runtime's rules, compared on a real GPU: tests/data/nvidia-smi)."""
    if cuda is None:
        return gpus
    chosen: List[Gpu] = []
    for entry in cuda.split(","):
        entry = entry.strip()
        if digits(entry):
            match = [g for g in gpus if g.index == entry]
        elif entry.startswith("GPU-"):
            match = [g for g in gpus if g.uuid.startswith(entry)]
        elif entry.startswith("MIG-"):  # MIG instances are not in QUERY: count the entry as one device
            match = [g for g in gpus[:1] if g not in chosen]
            chosen.extend(match)
            continue
        else:
            match = []
        if len(match) == 1 and match[0] in chosen:
            return ()  # a device named twice makes the whole list invalid: CUDA then sees none
        if len(match) != 1:
            break
        chosen.extend(match)
    return tuple(chosen)
