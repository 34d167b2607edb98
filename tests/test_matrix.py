"""Check the checks: every registered check passes on one fixture and fails (or warns) on another,
with the fix it declares (the nbgrader `validate --invert` idea, for environment checks), for
every site under sites/ (the course's site set with COURSE_SITE, as `make book SITE=` does).

The fixtures are the real kinds used elsewhere: generated keys, captured cgroup trees (a
Kubernetes container on DSMLP; a Slurm job's tree and environment on the Slurm site — no Slurm
cluster runs here, see tests/data/slurm), a real Jupyter Server (on a Slurm site: one at / on
127.0.0.2 standing in for the compute node), real git repositories, fake nvidia-smi programs (no
GPU can run here).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable, Dict, Iterator, Tuple

import pytest
from conftest import DATA
from helpers import make_ctx
from jupyter_helpers import JupyterServer
from realssh import free_port

from checks import course, expectations
from checks.context import Context
from checks.model import Status
from checks.platform import Platform
from checks.registry import all_checks, get
from checks.runner import run_specs
from checks.site import available, load_site

pytestmark = pytest.mark.slow
TOKEN = secrets.token_hex(32)
Setup = Callable[[Path, dict], Context]


def laptop(tmp: Path, env=None, **options) -> Context:
    ctx = make_ctx(tmp, side="laptop", env=env or {"PATH": "/usr/bin:/bin"}, **options)
    ctx.platform = Platform("linux", uid=os.getuid())
    return ctx


def ssh_home(tmp: Path, keys: dict, key="ed25519", name="id_ed25519", mode=0o600) -> Path:
    ssh = tmp / "home" / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    os.chmod(ssh, 0o700)
    shutil.copy(keys[key], ssh / name)
    shutil.copy(str(keys[key]) + ".pub", ssh / f"{name}.pub")
    os.chmod(ssh / name, mode)
    return ssh


def with_home(**kw) -> Setup:
    def setup(tmp: Path, keys: dict) -> Context:
        ssh_home(tmp, keys, **kw)
        return laptop(tmp)
    return setup


def edit_home(edit: Callable[[Path, dict], None], **kw) -> Setup:
    def setup(tmp: Path, keys: dict) -> Context:
        edit(ssh_home(tmp, keys, **kw), keys)
        return laptop(tmp)
    return setup


def server_ctx(tmp: Path, cgroup: str = "k8s-v2-limited", **changes) -> Context:
    exp = expectations.load().replace(**changes) if changes else None
    ctx = make_ctx(tmp, side="server", exp=exp)
    tree = DATA / "cgroup" / cgroup
    if load_site().slurm:  # a compute node in a Slurm job: the job's cgroup tree and environment
        import json

        tree = DATA / "slurm" / "v1-job"  # salloc -c 4 --mem-per-cpu=4G
        ctx.env = json.loads((tree / "env.json").read_text())
    ctx.procfs, ctx.sysfs = tree / "proc", tree / "sys"
    return ctx


def smi(tmp: Path, body: str, gpus: int) -> Context:
    (tmp / "bin").mkdir(exist_ok=True)
    script = tmp / "bin" / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return server_ctx_env(tmp, {"PATH": f"{tmp / 'bin'}:/usr/bin:/bin"}, gpus=gpus)


def server_ctx_env(tmp: Path, env: dict, **changes) -> Context:
    ctx = server_ctx(tmp, **changes)
    ctx.env = {**ctx.env, "SLURM_GPUS_ON_NODE": str(changes.get("gpus", 0)), **env} if load_site().slurm else env
    return ctx


def ak(text: Callable[[dict], str], pub: bool = True) -> Setup:
    def setup(tmp: Path, keys: dict) -> Context:
        ssh = tmp / "home" / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp / "home", 0o755)
        os.chmod(ssh, 0o700)
        (ssh / "authorized_keys").write_text(text(keys))
        os.chmod(ssh / "authorized_keys", 0o600)
        mine = Path(str(keys["ed25519"]) + ".pub").read_text() if pub else None
        ctx = make_ctx(tmp, side="server", pubkey=mine)
        ctx.platform = Platform("linux", uid=os.getuid())
        return ctx
    return setup


def pub(keys: dict, name: str = "ed25519") -> str:
    return Path(str(keys[name]) + ".pub").read_text()


def git_repo(tmp: Path, dirty: bool) -> Context:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    run = lambda *a, cwd=tmp: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True, env=env, timeout=30)  # noqa: E731
    run("init", "-q", "--bare", "-b", "main", "origin.git")
    run("clone", "-q", "origin.git", "work")
    (tmp / "work" / "f.py").write_text("x = 1\n")
    run("add", "f.py", cwd=tmp / "work")
    run("commit", "-qm", "c", cwd=tmp / "work")
    run("push", "-q", "-u", "origin", "main", cwd=tmp / "work")
    if dirty:
        (tmp / "work" / "f.py").write_text("x = 2\n")
    ctx = laptop(tmp, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)})
    ctx.cwd = tmp / "work"
    return ctx


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    server = JupyterServer("/user/ana/", TOKEN, tmp_path_factory.mktemp("jp")).start()
    yield server
    server.stop()


def tunnel_ctx(tmp: Path, port: int, url: str) -> Context:
    exp = expectations.load().replace(local_port=port)
    ctx = make_ctx(tmp, side="laptop", exp=exp, url=url, timeout=1.0)
    from checks.probes.jupyter import parse_url

    ctx.secret(parse_url(url).token)
    return ctx


def URL(port: int, user: str = "ana", token: str = TOKEN) -> str:
    """The Jupyter URL as the course's site prints it."""
    site = load_site()
    if not site.per_user_path:
        return f"http://{site.example_node}:{port}/lab?token={token}"
    return f"http://{site.login_host}:{port}/user/{user}/?token={token}"


SITES = available()


@pytest.fixture(params=SITES, autouse=True)
def course_site(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test here runs once per site: the course's site set as `make book SITE=` sets it."""
    saved = dict(course._CACHE)
    monkeypatch.setenv("COURSE_SITE", request.param)
    course._CACHE.clear()
    assert load_site().name == request.param
    yield request.param
    course._CACHE.clear()
    course._CACHE.update(saved)


def agent_unloaded(tmp: Path, keys: dict) -> Context:
    ssh_home(tmp, keys, key="ed25519_pass")
    return laptop(tmp, env={"PATH": "/usr/bin:/bin", "SSH_AUTH_SOCK": str(tmp / "no-agent.sock")})


# check id -> (setup where it passes, setup where it fails or warns)
MATRIX: Dict[str, Tuple[Callable, Callable]] = {
    "env.side": (lambda t, k: make_ctx(t, side="laptop"), lambda t, k: make_ctx(t, side="jumpbox")),
    "env.python": (lambda t, k: make_ctx(t), lambda t, k: make_ctx(t, exp=expectations.load().replace(python=">=4"))),
    "env.packages": (lambda t, k: _pkgs(t, ">=1.0"), lambda t, k: _pkgs(t, ">=9.0")),
    "ssh.client": (lambda t, k: laptop(t), lambda t, k: laptop(t, env={"PATH": str(t)})),
    "ssh.dir": (with_home(), lambda t, k: laptop(t)),
    "ssh.key.present": (with_home(), with_home(name="dsmlp_key")),
    "ssh.key.permissions": (with_home(), with_home(mode=0o644)),
    "ssh.key.format": (with_home(), edit_home(lambda s, k: (s / "id_ed25519").write_bytes(
        (s / "id_ed25519").read_bytes().replace(b"\n", b"\r\n")))),
    "ssh.key.type": (with_home(), with_home(key="dsa", name="id_dsa")),
    "ssh.key.pair": (with_home(), edit_home(lambda s, k: shutil.copy(str(k["ed25519_b"]) + ".pub", s / "id_ed25519.pub"))),
    "ssh.config": (with_home(), edit_home(lambda s, k: ((s / "config").write_text("Host *\n"), os.chmod(s / "config", 0o666)))),
    "ssh.agent": (with_home(), agent_unloaded),
    "ssh.authorized_keys": (ak(lambda k: pub(k)), ak(lambda k: pub(k, "ed25519_b"))),
    "ssh.home.permissions": (ak(lambda k: pub(k)), lambda t, k: _writable_ssh(ak(lambda k2: pub(k2))(t, k), t)),
    "resources.cpus": (lambda t, k: server_ctx(t), lambda t, k: server_ctx(t, cpus=8)),
    "resources.memory": (lambda t, k: server_ctx(t), lambda t, k: server_ctx(t, memory_gb=32)),
    "resources.gpus": (lambda t, k: smi(t, "echo '0, GPU-5f0c5a16-21a8-7b3e-0c5e-2f6a0d1e9a01, NVIDIA A100-SXM4-40GB, 40960'", 1),
                       lambda t, k: smi(t, "exit 9", 1)),
    "resources.disk": (lambda t, k: (t / "home").mkdir() or make_ctx(t, side="server"),
                       lambda t, k: (t / "home").mkdir() or make_ctx(
                           t, side="server", exp=expectations.load().replace(min_free_disk_gb=10**9))),
    "git.sync": (lambda t, k: git_repo(t, dirty=False), lambda t, k: git_repo(t, dirty=True)),
    "tunnel.url": (lambda t, k: tunnel_ctx(t, 8889, URL(12733)), lambda t, k: tunnel_ctx(t, 8889, "http://login/tree")),
}


def _pkgs(tmp: Path, spec: str) -> Context:
    site = tmp / "site" / "pandas-2.2.3.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Name: pandas\nVersion: 2.2.3\n")
    ctx = make_ctx(tmp, exp=expectations.load().replace(packages=(("pandas", spec),)))
    ctx.python_path = [str(tmp / "site")]
    return ctx


def _writable_ssh(ctx: Context, tmp: Path) -> Context:
    os.chmod(tmp / "home" / ".ssh", 0o777)
    return ctx


def _assert_pair(check_id: str, good: Context, bad: Context) -> None:
    spec = get(check_id)
    deps = [get(d) for d in spec.requires]
    ok = run_specs(good, deps + [spec])[check_id]
    assert ok.status is Status.PASS, f"{check_id} on its good fixture: {ok.status.value}: {ok.summary}"
    nok = run_specs(bad, deps + [spec])[check_id]
    assert nok.status in (Status.FAIL, Status.WARN), f"{check_id} on its bad fixture: {nok.status.value}: {nok.summary}"
    assert nok.fix is not None, check_id
    assert nok.fix.heading in spec.fixes and nok.fix.text.startswith(nok.fix.heading), \
        f"{check_id}'s fix {nok.fix.text!r} is not among the fixes it declares (the troubleshooting page lists those)"


@pytest.mark.parametrize("check_id", sorted(MATRIX))
def test_passes_on_good_and_fails_on_bad(check_id: str, tmp_path: Path, keyring) -> None:
    good_setup, bad_setup = MATRIX[check_id]
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    _assert_pair(check_id, good_setup(tmp_path / "good", keyring), bad_setup(tmp_path / "bad", keyring))


@pytest.fixture(scope="module")
def root_jupyters(tmp_path_factory) -> Iterator[Tuple[JupyterServer, JupyterServer]]:
    """A Slurm site's Jupyter, started by hand at /: the tunnel's far end as the laptop reaches it
    (127.0.0.1, as through the tunnel), and one on 127.0.0.2 as the compute node runs it."""
    local = JupyterServer("/", TOKEN, tmp_path_factory.mktemp("jp-root")).start()
    try:
        node = JupyterServer("/", TOKEN, tmp_path_factory.mktemp("jp-node"), ip="127.0.0.2").start()
    except BaseException:
        local.stop()
        raise
    yield local, node
    node.stop()
    local.stop()


def test_tunnel_checks_against_a_real_jupyter(tmp_path: Path, jupyter: JupyterServer,
                                              request: pytest.FixtureRequest) -> None:
    per_user = load_site().per_user_path
    mine, node = (jupyter, jupyter) if per_user else request.getfixturevalue("root_jupyters")
    good = lambda: tunnel_ctx(tmp_path, mine.port, URL(mine.port))  # noqa: E731
    _assert_pair("tunnel.local_port", good(), tunnel_ctx(tmp_path, free_port(), URL(12733)))
    from jupyter_helpers import PlainHttp

    web = PlainHttp(tmp_path)
    try:
        _assert_pair("tunnel.jupyter", good(), tunnel_ctx(tmp_path, web.port, URL(web.port)))
    finally:
        web.stop()
    # Someone else's server: under another user's path (on a site at /, a per-user one)
    other = tunnel_ctx(tmp_path, jupyter.port, URL(jupyter.port, user="bob")) if per_user else \
        tunnel_ctx(tmp_path, jupyter.port, URL(jupyter.port))
    _assert_pair("tunnel.user", good(), other)
    _assert_pair("tunnel.token", good(), tunnel_ctx(tmp_path, mine.port, URL(mine.port, token=secrets.token_hex(32))))
    # tunnel.server (server side) reads the server's runtime file (on the compute node, the node's
    # Jupyter); with none it fails.
    ctx = make_ctx(tmp_path, side="server", env={"JUPYTER_RUNTIME_DIR": str(node.runtime), "USER": "ana"})
    empty = make_ctx(tmp_path, side="server", env={"JUPYTER_RUNTIME_DIR": str(tmp_path / "none")})
    _assert_pair("tunnel.server", ctx, empty)
    if not per_user:
        said = run_specs(ctx, [get("tunnel.server")])["tunnel.server"].summary
        assert f"ssh -N -L 8889:127.0.0.2:{node.port} ana@{load_site().login_host}" in said


def test_every_check_is_in_the_matrix() -> None:
    # The tunnel pairs run against a real Jupyter above; ssh.login's pass and fail need a login
    # host, so they are proven against a real sshd in test_ssh_real.py.
    covered = set(MATRIX) | {"tunnel.local_port", "tunnel.jupyter", "tunnel.user", "tunnel.token", "tunnel.server",
                             "ssh.login"}
    assert {spec.id for spec in all_checks()} == covered
