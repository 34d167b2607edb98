"""Resource checks on captured /proc + /sys/fs/cgroup layouts, fake nvidia-smi, and this machine.

GPUs: no GPU can run here, so `nvidia-smi` is faked by scripts on PATH that print what the real
one prints (the --query-gpu CSV format, its exit statuses, a hang). Everything else is real.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import DATA
from helpers import make_ctx
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import expectations
from checks.cli import main
from checks.model import Status
from checks.probes import cgroups, gpus
from checks.registry import select
from checks.runner import run_specs

CG = DATA / "cgroup"
FIXTURES = {  # name: (usable CPUs, memory limit bytes or None, node CPUs)
    "k8s-v2-limited": (2, 8 * 2**30, 64),
    "v2-unlimited": (None, None, 64),
    "v2-fractional": (1.5, 8 * 2**30, 64),
    "v1-docker-quota": (8, 32 * 2**30, 64),
    "v1-unlimited": (None, None, 64),
    "hybrid": (4, 16 * 2**30, 64),
    "nested-v2": (4, 4 * 2**30, 64),
}


def ctx_for(name: str, **changes):
    exp = expectations.load().replace(**changes) if changes else None
    ctx = make_ctx(side="server", exp=exp)
    ctx.procfs, ctx.sysfs = CG / name / "proc", CG / name / "sys"
    return ctx


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_limits_read_from_each_layout(name) -> None:
    cpus, mem, node = FIXTURES[name]
    ctx = ctx_for(name)
    cpu = cgroups.cpu_info(ctx)
    assert cpu.node == node
    assert cpu.quota == cpus or (cpus is None and cpu.quota is None)
    assert cgroups.memory_info(ctx).limit == mem


@pytest.mark.parametrize("name, cpus, memory", [("k8s-v2-limited", 2, 8), ("v1-docker-quota", 8, 32),
                                                 ("hybrid", 4, 16), ("nested-v2", 4, 4)])
def test_pass_on_the_good_fixture_and_fail_with_the_launch_command_on_a_bad_one(name, cpus, memory) -> None:
    good = run_specs(ctx_for(name, cpus=cpus, memory_gb=memory), select(["resources.cpus", "resources.memory"]))
    assert good["resources.cpus"].status is Status.PASS, good["resources.cpus"].summary
    assert good["resources.memory"].status is Status.PASS, good["resources.memory"].summary
    assert f"the node has 64, you may use {cpus}" in good["resources.cpus"].summary
    bad = run_specs(ctx_for(name, cpus=cpus * 2, memory_gb=memory * 2), select(["resources.cpus", "resources.memory"]))
    for check_id in ("resources.cpus", "resources.memory"):
        assert bad[check_id].status is Status.FAIL
        want = expectations.load().launch_command(cpus=cpus * 2, memory_gb=memory * 2)  # the course's scripts
        assert list(bad[check_id].fix.commands) == ["exit", want]


def test_fractional_quota_is_below_two() -> None:
    report = run_specs(ctx_for("v2-fractional"), select(["resources.cpus"]))
    assert report["resources.cpus"].status is Status.FAIL
    assert "you may use 1.5" in report["resources.cpus"].summary


@pytest.mark.parametrize("name", ["v2-unlimited", "v1-unlimited"])
def test_no_limit_is_a_warning_not_a_pass(name) -> None:
    report = run_specs(ctx_for(name), select(["resources.cpus", "resources.memory"]))
    assert report["resources.cpus"].status is Status.WARN
    assert report["resources.memory"].status is Status.WARN


def test_memory_shows_gb_and_gib_and_oom_kills() -> None:
    report = run_specs(ctx_for("v1-docker-quota", memory_gb=32), select(["resources.memory"]))
    result = report["resources.memory"]
    assert "34.4 GB (32.0 GiB)" in result.summary
    assert any("killed 2 process" in d for d in result.details)


def test_cli_reads_a_captured_tree() -> None:
    import io

    out = io.StringIO()
    code = main(["--side", "server", "--only", "resources.cpus", "--procfs", str(CG / "v1-docker-quota" / "proc"),
                 "--sysfs", str(CG / "v1-docker-quota" / "sys")], stdout=out, stderr=io.StringIO())
    assert code == 0 and "the node has 64, you may use 8" in out.getvalue()


def test_this_machine_agrees_with_the_kernel() -> None:
    ctx = make_ctx(side="server")
    ctx.procfs, ctx.sysfs = Path("/proc"), Path("/sys")
    cpu = cgroups.cpu_info(ctx)
    allowed = len(os.sched_getaffinity(0))
    assert cpu.affinity == allowed
    assert cpu.effective is not None and cpu.effective <= allowed
    assert cpu.node == os.cpu_count()
    report = run_specs(ctx, select(["resources"]))
    assert all(r.status is not Status.ERROR for r in report.results), [r.summary for r in report.results]


# -- GPUs, through fake nvidia-smi programs on PATH -------------------------------------------------

ONE = "0, GPU-5f0c5a16-21a8-7b3e-0c5e-2f6a0d1e9a01, NVIDIA A100-SXM4-40GB, 40960"
TWO = ONE + "\n1, GPU-9b2d4c7e-0a1f-4e3b-8c6d-5a4b3c2d1e0f, NVIDIA A100-SXM4-40GB, 40960"
DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
          "NVIDIA driver is installed and running.")


def fake_smi(tmp_path: Path, body: str) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def gpu_result(tmp_path, body, gpus, extra_env=None):
    env = fake_smi(tmp_path, body) if body is not None else {"PATH": str(tmp_path)}
    env.update(extra_env or {})
    exp = expectations.load().replace(gpus=gpus)
    ctx = make_ctx(tmp_path, side="server", exp=exp, env=env)
    return run_specs(ctx, select(["resources.gpus"]))["resources.gpus"]


@pytest.mark.parametrize("body, gpus, status, text", [
    (None, 0, Status.PASS, "nvidia-smi is not installed"),
    (None, 1, Status.FAIL, "no GPU usable"),
    (f"echo '{ONE}'", 1, Status.PASS, "1 GPU(s) visible: NVIDIA A100-SXM4-40GB (40 GiB)"),
    (f"printf '{TWO}\\n'", 2, Status.PASS, "2 GPU(s) visible"),
    (f"printf '{TWO}\\n'", 1, Status.PASS, "2 GPU(s) visible"),
    (f"echo '{ONE}'", 2, Status.FAIL, "1 GPU(s) visible; the assignment expects 2"),
    (f"echo '{ONE}'", 0, Status.WARN, "the assignment needs none"),
    (f"echo \"{DRIVER}\"; exit 9", 1, Status.FAIL, "exit status 9: the NVIDIA driver is not loaded"),
    (f"echo \"{DRIVER}\"; exit 9", 0, Status.PASS, "no GPU (nvidia-smi failed with exit status 9"),
    ('echo "NVIDIA-SMI couldn\'t find libnvidia-ml.so library in your system."; exit 12', 1, Status.FAIL,
     "NVIDIA management library (NVML) could not be found"),
])
def test_gpu_verdicts(tmp_path, body, gpus, status, text) -> None:
    result = gpu_result(tmp_path, body, gpus)
    assert result.status is status, result.summary
    assert text in result.summary
    if status is Status.FAIL and ("visible" in text or "no GPU usable" in text):
        assert result.fix.commands[-1] == expectations.load().launch_command(gpus=gpus)


def test_a_hung_nvidia_smi_is_cut_off(tmp_path) -> None:
    # The fake sleeps 60 s; only the 10 s bound produces this verdict (bench/ measures the time).
    result = gpu_result(tmp_path, "exec sleep 60", 1)
    assert result.status is Status.FAIL and "did not answer within 10 s" in result.summary


def test_cuda_visible_devices_can_hide_gpus(tmp_path) -> None:
    result = gpu_result(tmp_path, f"echo '{ONE}'", 1, {"CUDA_VISIBLE_DEVICES": ""})
    assert result.status is Status.FAIL and "hides them" in result.summary
    assert list(result.fix.commands) == ["unset CUDA_VISIBLE_DEVICES"]
    assert gpus.visible(gpus.parse_gpu_csv(TWO), "0,-1,1") == gpus.parse_gpu_csv(TWO)[:1]
    assert gpus.visible(gpus.parse_gpu_csv(TWO), "1") == gpus.parse_gpu_csv(TWO)[1:]
    assert gpus.visible(gpus.parse_gpu_csv(TWO), "GPU-9b2d,0") == gpus.parse_gpu_csv(TWO)[::-1]


def test_visible_gpus_agree_with_the_cuda_runtime_on_a_real_h100() -> None:
    """Captured on a real H100 (no GPU here): nvidia-smi's own output, and under each
    CUDA_VISIBLE_DEVICES value the count the CUDA runtime itself reported (torch.cuda.device_count)."""
    import json

    from conftest import DATA

    captured = json.loads((DATA / "nvidia-smi" / "h100.json").read_text())
    listed = gpus.parse_gpu_csv(captured["output"])
    assert [(g.index, g.name, g.memory_mib) for g in listed] == [("0", "NVIDIA H100 80GB HBM3", "81559")]
    assert len(captured["cases"]) >= 10
    for case in captured["cases"]:
        seen = gpus.visible(listed, case["CUDA_VISIBLE_DEVICES"])
        assert len(seen) == case["cuda_device_count"], case


# -- parsers never crash ---------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parsers_never_raise(text) -> None:
    cgroups.parse_proc_cgroup(text)
    cgroups.parse_mountinfo(text)
    cgroups.parse_cpu_list(text)
    cgroups.parse_cpu_max(text)
    cgroups.parse_v1_quota(text, text)
    cgroups.parse_bytes(text)
    cgroups.parse_meminfo(text)
    gpus.parse_gpu_csv(text)
    gpus.visible(gpus.parse_gpu_csv(TWO), text)


@settings(max_examples=100, deadline=None)
@given(cgroup=st.text(max_size=200), cpu_max=st.text(max_size=40), mem=st.text(max_size=40))
def test_checks_never_crash_on_garbage_files(tmp_path_factory, cgroup, cpu_max, mem) -> None:
    root = tmp_path_factory.mktemp("garbage")
    (root / "proc/self").mkdir(parents=True)
    (root / "sys/fs/cgroup").mkdir(parents=True)
    (root / "proc/self/cgroup").write_text(cgroup)
    (root / "sys/fs/cgroup/cpu.max").write_text(cpu_max)
    (root / "sys/fs/cgroup/memory.max").write_text(mem)
    ctx = make_ctx(side="server")
    ctx.procfs, ctx.sysfs = root / "proc", root / "sys"
    report = run_specs(ctx, select(["resources.cpus", "resources.memory"]))
    assert all(r.status is not Status.ERROR for r in report.results), [r.details for r in report.results]
