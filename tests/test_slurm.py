"""The checks on a Slurm cluster (sites/example-hpc): where am I, what the job may use, and the
tunnel's URL and commands, on captured job environments and cgroup trees.

No Slurm cluster can run here: the trees under tests/data/slurm/ are written as Slurm 23.x lays
them out (the README there cites the Slurm documentation and source used), and nvidia-smi is a
fake script (no GPU here). The real tunnel to a "compute node" is in test_tunnel_real.py.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Dict, Optional

import pytest
from conftest import DATA
from helpers import make_ctx, site_expectations

from checks.areas import env as env_area
from checks.areas import resources as resources_area
from checks.context import Context
from checks.model import Status
from checks.probes import cgroups
from checks.probes.jupyter import parse_url
from checks.probes.side import detect_side
from checks.probes.slurm import slurm_job
from checks.registry import select
from checks.runner import run_specs
from checks.site import load_site

SLURM = DATA / "slurm"
GIB = 2**30


def job_env(name: str, file: str = "env.json") -> Dict[str, str]:
    env: Dict[str, str] = json.loads((SLURM / name / file).read_text())
    return env


def job_ctx(tree: Path, env: Dict[str, str], site: str = "example-hpc", side: str = "server", **changes) -> Context:
    ctx = make_ctx(side=side, exp=site_expectations(site, **changes), env=env)
    ctx.procfs, ctx.sysfs = tree / "proc", tree / "sys"
    return ctx


# -- what the job may use ----------------------------------------------------------------------

@pytest.mark.parametrize("name, cpus, memory, cpuset_at", [
    ("v2-job", 8, 32 * GIB, "system.slice/slurmstepd.scope/job_3385/step_interactive/user/task_0"),
    ("v1-job", 4, 16 * GIB, "cpuset/slurm/uid_1000/job_3386/step_interactive"),
])
def test_the_job_cgroup_gives_the_limits(name: str, cpus: int, memory: int, cpuset_at: str) -> None:
    ctx = job_ctx(SLURM / name, job_env(name))
    cpu = cgroups.cpu_info(ctx)
    assert (cpu.node, cpu.cpuset, cpu.affinity, cpu.quota, cpu.effective) == (64, cpus, cpus, None, cpus)
    assert cpu.cpuset_at.endswith(cpuset_at)
    mem = cgroups.memory_info(ctx)
    assert mem.limit == memory and "job_33" in mem.limit_at and mem.oom_kills == 0


@pytest.mark.parametrize("name, cpus, memory, source", [
    ("v2-job", 8, 32 * GIB, "SLURM_MEM_PER_NODE=32768 (MB)"),
    ("v1-job", 4, 16 * GIB, "SLURM_MEM_PER_CPU=4096 (MB) × 4 CPUs"),
])
def test_the_job_environment_gives_the_request(name: str, cpus: int, memory: int, source: str) -> None:
    job = slurm_job(job_ctx(SLURM / name, job_env(name)))
    assert job is not None and job.cpus == cpus and job.memory == memory and job.memory_from == source
    assert job.cpus_from == f"SLURM_CPUS_PER_TASK={cpus}" and job.cgroup.endswith(f"job_{job.job_id}")
    without_env = slurm_job(job_ctx(SLURM / name, {"PATH": "/usr/bin:/bin"}))  # ssh into the node (pam_slurm_adopt)
    assert without_env is not None and without_env.job_id == job.job_id and without_env.cpus is None
    assert slurm_job(make_ctx(side="server")) is None


@pytest.mark.parametrize("name, cpus, memory", [("v2-job", 8, 32), ("v1-job", 4, 16)])
def test_resources_pass_on_the_job_and_fail_with_salloc(name: str, cpus: int, memory: int) -> None:
    ids = ["resources.cpus", "resources.memory"]
    good = run_specs(job_ctx(SLURM / name, job_env(name), cpus=cpus, memory_gb=memory), select(ids))
    for check_id in ids:
        assert good[check_id].status is Status.PASS, good[check_id].summary
        assert any("the Slurm job asked for" in d for d in good[check_id].details), good[check_id].details
    assert f"the node has 64, you may use {cpus}" in good["resources.cpus"].summary
    assert good["resources.cpus"].observed["requested"] == cpus
    assert good["resources.memory"].observed["requested"] == memory * GIB
    bad = run_specs(job_ctx(SLURM / name, job_env(name), cpus=cpus * 2, memory_gb=memory * 2), select(ids))
    for check_id in ids:
        result = bad[check_id]
        assert result.status is Status.FAIL, result.summary
        assert result.fix.heading == resources_area.RELAUNCH_JOB
        assert list(result.fix.commands) == ["exit", f"salloc -c {cpus * 2} --mem={memory * 2}G"]


def test_the_request_stands_in_where_no_cgroup_limits_the_job() -> None:
    """A cluster without task/cgroup (TaskPlugin=task/affinity only): no cgroup limit, no cpuset;
    the job's SLURM_* request is what the checks compare."""
    tree = DATA / "cgroup" / "v2-unlimited"
    report = run_specs(job_ctx(tree, job_env("v2-job"), cpus=8, memory_gb=32),
                       select(["resources.cpus", "resources.memory"]))
    for result in report.results:
        assert result.status is Status.PASS, result.summary
        assert any("taken as the limit" in d for d in result.details), result.details
    assert "you may use 8" in report["resources.cpus"].summary
    assert "34.4 GB (32.0 GiB)" in report["resources.memory"].summary
    short = run_specs(job_ctx(tree, job_env("v2-job"), cpus=16), select(["resources.cpus"]))["resources.cpus"]
    assert short.status is Status.FAIL and short.fix.commands[-1] == "salloc -c 16 --mem=8G"
    # Not in a job at all: a warning that asks the Slurm question
    nojob = run_specs(job_ctx(tree, {"PATH": "/usr/bin:/bin"}), select(["resources.cpus"]))["resources.cpus"]
    assert nojob.status is Status.WARN and "are you inside your Slurm job (salloc)" in nojob.summary


ONE = "0, GPU-5f0c5a16-21a8-7b3e-0c5e-2f6a0d1e9a01, NVIDIA A100-SXM4-40GB, 40960"
TWO = ONE + "\n1, GPU-9b2d4c7e-0a1f-4e3b-8c6d-5a4b3c2d1e0f, NVIDIA A100-SXM4-40GB, 40960"


def gpu_check(tmp: Path, listing: str, env: Dict[str, str], gpus: int):
    (tmp / "bin").mkdir(exist_ok=True)
    smi = tmp / "bin" / "nvidia-smi"  # a fake: no GPU here
    smi.write_text(f"#!/bin/sh\nprintf '{listing}\\n'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    ctx = job_ctx(SLURM / "v2-job", {**env, "PATH": f"{tmp / 'bin'}:/usr/bin:/bin"}, gpus=gpus)
    return run_specs(ctx, select(["resources.gpus"]))["resources.gpus"]


def test_gpus_in_a_job(tmp_path: Path) -> None:
    env = job_env("v2-job", "env-gpu.json")
    ok = gpu_check(tmp_path, ONE, env, 1)  # ConstrainDevices: nvidia-smi sees the job's GPU alone
    assert ok.status is Status.PASS and "1 GPU(s) visible" in ok.summary
    assert "the Slurm job asked for 1 GPU(s) (SLURM_GPUS_ON_NODE=1)" in ok.details
    more = gpu_check(tmp_path, ONE, env, 2)
    assert more.status is Status.FAIL and list(more.fix.commands) == ["exit", "salloc -c 2 --mem=8G -p gpu --gpus=2"]
    # No device cgroup: nvidia-smi lists the node's GPUs, CUDA_VISIBLE_DEVICES the job's one. The
    # other GPU belongs to another job: the fix never says to unset the variable.
    shared = gpu_check(tmp_path, TWO, {**env, "CUDA_VISIBLE_DEVICES": "1"}, 1)
    assert shared.status is Status.PASS and "1 GPU(s) visible" in shared.summary
    wants_two = gpu_check(tmp_path, TWO, {**env, "CUDA_VISIBLE_DEVICES": "1"}, 2)
    assert wants_two.status is Status.FAIL and wants_two.fix.heading == resources_area.RELAUNCH_JOB


# -- where am I --------------------------------------------------------------------------------

def side_of(tree: Optional[Path], env: Dict[str, str], hostname: str, site: str = "example-hpc"):
    ctx = job_ctx(tree or Path("/nonexistent"), env, site=site, side="laptop")
    side, evidence = detect_side(ctx, hostname)
    ctx.side, ctx.side_reason = side, "; ".join(evidence)
    return side, run_specs(ctx, select(["env.side"]))["env.side"]


def test_a_compute_node_in_a_job_is_the_server() -> None:
    side, result = side_of(SLURM / "v2-job", job_env("v2-job"), "node042.hpc.example.edu")
    assert side == "server" and result.status is Status.PASS
    assert "a compute node in your Slurm job" in result.summary
    assert "SLURM_JOB_ID=3385 is set" in result.summary and "SLURMD_NODENAME=node042" in result.summary
    # ssh'd into the node and adopted into the job (pam_slurm_adopt): no SLURM_* variables, the job's cgroup
    side, result = side_of(SLURM / "v1-job", {"PATH": "/usr/bin:/bin"}, "node017")
    assert side == "server" and "/slurm/uid_1000/job_3386" in result.summary


@pytest.mark.parametrize("hostname", ["login01.hpc.example.edu", "login2", "login.hpc.example.edu"])
def test_the_login_node_asks_for_a_job_in_slurm_words(hostname: str) -> None:
    side, result = side_of(None, {"PATH": "/usr/bin:/bin"}, hostname)
    assert side == "jumpbox" and result.status is Status.WARN
    assert result.fix.heading == env_area.START_JOB
    assert list(result.fix.commands) == ["salloc -c 2 --mem=8G", "python3 selfcheck.pyz --side server"]


def test_salloc_left_on_the_login_node_opens_a_shell_on_the_node() -> None:
    side, result = side_of(SLURM / "login-salloc", job_env("login-salloc"), "login01")
    assert side == "jumpbox" and result.status is Status.WARN
    assert result.fix.heading == env_area.JOB_SHELL and result.fix.commands[0] == "srun --pty bash"
    assert "your job 3387" in result.summary


def test_dsmlp_stays_as_it_was() -> None:
    side, result = side_of(None, {"PATH": "/usr/bin:/bin"}, "dsmlp-login", site="dsmlp")
    assert side == "jumpbox" and result.fix.heading == env_area.START_SERVER
    assert list(result.fix.commands) == ["launch-scipy-ml.sh", "python3 selfcheck.pyz --side server"]
    assert side_of(None, {"PATH": "/usr/bin:/bin"}, "login01", site="dsmlp")[0] == "laptop"
    assert side_of(None, {"PATH": "/usr/bin:/bin"}, "my-laptop")[0] == "laptop"


# -- the tunnel's URL and commands -------------------------------------------------------------

TOKEN = "ab" * 24


def test_a_url_at_the_root_is_right_on_a_slurm_site() -> None:
    hpc, dsmlp = load_site("example-hpc"), load_site("dsmlp")
    url = f"http://node042:8888/lab?token={TOKEN}"
    parsed = parse_url(url, hpc)
    assert parsed.ok and (parsed.host, parsed.port, parsed.base_url, parsed.view, parsed.user) == (
        "node042", 8888, "/", "lab", "")
    assert any("/user/<username>/" in p for p in parse_url(url, dsmlp).problems)
    no_host = parse_url(f"http://:8888/lab?token={TOKEN}", hpc).problems
    assert any("http://node042..." in p for p in no_host) and not any("dsmlp" in p for p in no_host)
    assert any("http://dsmlp-login..." in p for p in parse_url(f"http://:1/user/a/?token={TOKEN}", dsmlp).problems)
    # Jupyter also prints an http://127.0.0.1:... line: the node's own loopback, useless through the login node
    loopback = parse_url(f"http://127.0.0.1:8888/lab?token={TOKEN}", hpc).problems
    assert any("the compute node's own loopback" in p and "http://node042:" in p for p in loopback)
    assert parse_url(f"http://127.0.0.1:8888/user/a/?token={TOKEN}", dsmlp).ok


def test_the_url_check_prints_the_tunnel_to_the_node() -> None:
    ctx = make_ctx(side="laptop", exp=site_expectations("example-hpc"), url=f"http://node042:8888/lab?token={TOKEN}",
                   user="jdoe")
    result = run_specs(ctx, select(["tunnel.url"]))["tunnel.url"]
    assert result.status is Status.PASS, result.summary
    assert "node node042, port 8888" in result.summary
    assert "ssh -N -L 8889:node042:8888 jdoe@login.hpc.example.edu" in result.summary
    assert "http://localhost:8889/tree/" in result.summary


def jupyter_ctx(tmp: Path, listens: str, hostname: str = "node042") -> Context:
    """tunnel.server on the compute node, reading a runtime file as Jupyter Server writes it."""
    runtime = tmp / "runtime"
    runtime.mkdir(exist_ok=True)
    (runtime / "jpserver-4242.json").write_text(json.dumps({
        "base_url": "/", "hostname": listens, "password": False, "pid": 4242, "port": 8888, "root_dir": "/home/jdoe",
        "secure": False, "sock": "", "token": TOKEN, "url": f"http://{listens}:8888/", "version": "2.14.2"}))
    ctx = make_ctx(tmp, side="server", exp=site_expectations("example-hpc"),
                   env={"PATH": "/usr/bin:/bin", "USER": "jdoe", "JUPYTER_RUNTIME_DIR": str(runtime)})
    ctx.hostname = hostname
    return ctx


@pytest.mark.parametrize("listens, node", [("node042", "node042"), ("0.0.0.0", "node042"), ("10.1.4.42", "10.1.4.42")])
def test_tunnel_server_on_the_node_names_the_node(tmp_path: Path, listens: str, node: str) -> None:
    result = run_specs(jupyter_ctx(tmp_path, listens), select(["tunnel.server"]))["tunnel.server"]
    assert result.status is Status.PASS, result.summary
    assert f"listens on {node}:8888 with base URL /" in result.summary
    assert f"ssh -N -L 8889:{node}:8888 jdoe@login.hpc.example.edu" in result.summary
    assert TOKEN not in result.summary + "".join(result.details)


def test_tunnel_server_on_the_nodes_loopback_says_how_to_restart(tmp_path: Path) -> None:
    result = run_specs(jupyter_ctx(tmp_path, "localhost"), select(["tunnel.server"]))["tunnel.server"]
    assert result.status is Status.WARN and "the login node cannot reach it" in result.summary
    assert list(result.fix.commands) == ["jupyter lab --no-browser --ip=$(hostname) --port=8888"]


def test_explain_speaks_the_site() -> None:
    from checks.tools.explain import patterns

    hpc = patterns(load_site("example-hpc"))
    text = " ".join(p.example + p.cause + p.heading for p in hpc)
    assert "dsmlp" not in text.lower() and "ucsd" not in text.lower()
    channel = next(p for p in hpc if p.name == "channel-connect-failed")
    match = channel.regex.search(channel.example)
    assert match and channel.fix(match).commands == ("ssh -N -L 8889:<node>:<port> <username>@login.hpc.example.edu",)
    assert "squeue --me" in channel.heading


@pytest.mark.parametrize("host, port, jump, same", [
    ("node042", "8888", False, True),
    ("node042.hpc.example.edu", "8888", False, True),  # the node's full name
    ("NODE042", "8888", False, True),
    ("node043", "8888", False, False),  # another node
    ("node042", "8889", False, False),  # another port
    ("127.0.0.1", "8888", False, False),  # the login node's own loopback: not the compute node
    ("10.1.4.42", "8888", False, False),  # an address is not compared by its first label
    ("localhost", "8888", True, True),  # ssh -J login node042 -L 8889:localhost:8888: seen from the node
])
def test_which_forwards_reach_the_urls_compute_node(host: str, port: str, jump: bool, same: bool) -> None:
    """The comparison behind the stale-tunnel failure (its real cases are in test_tunnel_real.py)."""
    from checks.areas import tunnel

    ctx = make_ctx(side="laptop", exp=site_expectations("example-hpc"), url=f"http://node042:8888/lab?token={TOKEN}")
    assert tunnel._same_target(ctx, host, port, jump=jump) is same
    assert tunnel._jumps(["ssh", "-J", "jdoe@login", "node042"]) and not tunnel._jumps(["ssh", "-N", "-L", "1:h:2"])
    dsmlp = make_ctx(side="laptop", exp=site_expectations("dsmlp"), url=f"http://x:{port}/user/a/?token={TOKEN}")
    assert tunnel._same_target(dsmlp, "localhost", port) and tunnel._same_target(dsmlp, "127.0.0.1", port)


def test_the_cli_in_a_job_on_the_slurm_site() -> None:
    """`python -m checks` as a clone runs it on the compute node (COURSE_SITE names the site): it
    finds the job by itself, reads the job's cgroup tree, and judges the assignment against it."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    tree = SLURM / "v2-job"
    env = {**job_env("v2-job"), "COURSE_SITE": "example-hpc", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"}
    proc = subprocess.run([sys.executable, "-m", "checks", "--only", "env.side,resources.cpus,resources.memory",
                           "--procfs", str(tree / "proc"), "--sysfs", str(tree / "sys"), "--json"],
                          env=env, capture_output=True, text=True, timeout=60, cwd=os.path.dirname(ROOT))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    results = {r["id"]: r for r in report["results"]}
    assert report["side"] == "server" and "SLURM_JOB_ID=3385" in results["env.side"]["summary"]
    assert results["resources.cpus"]["status"] == "pass" and results["resources.cpus"]["observed"]["cpuset"] == 8
    assert results["resources.memory"]["observed"]["limit_bytes"] == 32 * GIB


def test_tunnel_server_says_when_no_runtime_file_is_a_running_jupyter(tmp_path: Path) -> None:
    """Several runtime files in a shared home, none of them a Jupyter running here (this context's
    /proc is an empty folder): the check says so and how to find the live one."""
    ctx = jupyter_ctx(tmp_path, "node042")
    (tmp_path / "runtime" / "jpserver-99.json").write_text(json.dumps({"base_url": "/", "hostname": "node017", "pid": 99,
                                                                        "port": 8890, "token": TOKEN}))
    result = run_specs(ctx, select(["tunnel.server"]))["tunnel.server"]
    assert any("2 runtime files" in d and "jupyter server list" in d for d in result.details), result.details
    (tmp_path / "proc" / "4242").mkdir(parents=True)
    (tmp_path / "proc" / "4242" / "cmdline").write_text("/usr/bin/python3\0/home/jdoe/.local/bin/jupyter-lab\0")
    result = run_specs(jupyter_ctx(tmp_path, "node042"), select(["tunnel.server"]))["tunnel.server"]
    assert "listens on node042:8888" in result.summary and not any("runtime files" in d for d in result.details)
