"""The tunnel checks against real components: a real Jupyter Server (base_url /user/<name>/ and a
token), a real sshd, and real `ssh -N -L` tunnels — one per state a student can be in. On the
Slurm site (sites/example-hpc) the sshd plays the login node and a Jupyter Server bound to
127.0.0.2 plays the compute node; the tunnels are the commands the checks print, run as printed.

Every state asserts every tunnel check's verdict, and that the token appears nowhere in the
text, HTML or JSON output.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest
from helpers import make_ctx, site_expectations
from jupyter_helpers import HungListener, JupyterServer, PlainHttp
from realssh import Home, Sshd, SshUser, free_port, stop_process, wait_port

from checks import expectations, render
from checks.platform import Platform
from checks.registry import select
from checks.runner import run_specs

pytestmark = pytest.mark.slow

ALICE, BOB = "alice", "bob"
TOKEN = secrets.token_hex(32)  # 64 hex digits, as DSMLP's launcher makes them
OTHER_TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def alice_server(tmp_path_factory) -> Iterator[JupyterServer]:
    server = JupyterServer(f"/user/{ALICE}/", TOKEN, tmp_path_factory.mktemp("jp-alice")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bob_server(tmp_path_factory) -> Iterator[JupyterServer]:
    server = JupyterServer(f"/user/{BOB}/", OTHER_TOKEN, tmp_path_factory.mktemp("jp-bob")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tunnel_home(user: SshUser, keyring) -> SshUser:
    user.reset_home()
    Home(user, keyring).standard()
    return user


class Tunnel:
    """A real `ssh -N -L` as the student would run it, stopped by pid."""

    def __init__(self, sshd: Sshd, user: SshUser, local: int, remote: int) -> None:
        argv = sshd.ssh_argv(user, extra=["-N", "-L", f"127.0.0.1:{local}:127.0.0.1:{remote}",
                                          "-o", "ExitOnForwardFailure=yes"], command=[])
        self.proc = subprocess.Popen(argv, user=user.uid, group=user.gid, extra_groups=[],
                                     env={"HOME": str(user.home), "PATH": "/usr/bin:/bin"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(local, timeout=15)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc.stderr.close()


def run_tunnel_checks(local: int, url: Optional[str], token_secret: str = TOKEN, site: Optional[str] = None,
                      user: Optional[str] = None):
    exp = (site_expectations(site) if site else expectations.load()).replace(local_port=local)
    ctx = make_ctx(side="laptop", exp=exp, url=url, timeout=1.0, user=user)
    ctx.platform = Platform("linux")
    ctx.procfs = Path("/proc")  # the real one: which process holds the port
    if url:
        from checks.probes.jupyter import parse_url

        ctx.secret(parse_url(url).token)
    report = run_specs(ctx, select(["tunnel"]))
    outputs = [render.text(report, verbose=True), render.html(report), render.json_text(report)]
    for out in outputs:
        assert token_secret not in out
        assert OTHER_TOKEN not in out
    return {r.id: r for r in report.results}, outputs


def url_for(user: str, port: int = 12733, token: str = TOKEN) -> str:
    return f"http://dsmlp-login.ucsd.edu:{port}/user/{user}/?token={token}"


def through_tunnel(sshd: Sshd, home: SshUser, target: int, token: str = TOKEN):
    """The tunnel checks for Alice's URL over a real `ssh -N -L <free port>:127.0.0.1:<target>`."""
    local = free_port()
    tunnel = Tunnel(sshd, home, local, target)
    try:
        return run_tunnel_checks(local, url_for(ALICE, target, token=token), token_secret=token)
    finally:
        tunnel.stop()


def statuses(results: Dict) -> Dict[str, str]:
    return {k: v.status.value for k, v in results.items() if k != "tunnel.server"}


def test_1_no_tunnel() -> None:
    local = free_port()
    results, _ = run_tunnel_checks(local, url_for(ALICE))
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "fail", "tunnel.jupyter": "skip",
                                 "tunnel.user": "skip", "tunnel.token": "skip"}
    fix = results["tunnel.local_port"].fix.commands[0]
    assert fix == f"ssh -N -L {local}:127.0.0.1:12733 {ALICE}@dsmlp-login.ucsd.edu"


def test_2_good_tunnel(sshd: Sshd, tunnel_home: SshUser, alice_server: JupyterServer) -> None:
    results, outputs = through_tunnel(sshd, tunnel_home, alice_server.port)
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                                 "tunnel.user": "pass", "tunnel.token": "pass"}
    assert results["tunnel.local_port"].summary.startswith("ssh (process")
    assert "Jupyter Server 2." in results["tunnel.jupyter"].summary
    assert json.loads(outputs[2])["counts"]["fail"] == 0


def test_3_tunnel_to_a_port_with_nothing_behind_it(sshd: Sshd, tunnel_home: SshUser) -> None:
    results, _ = through_tunnel(sshd, tunnel_home, free_port())
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "fail",
                                 "tunnel.user": "skip", "tunnel.token": "skip"}
    assert "closed it with no reply" in results["tunnel.jupyter"].summary
    assert "relaunch" in results["tunnel.jupyter"].fix.text


def test_4_tunnel_to_another_users_server(sshd: Sshd, tunnel_home: SshUser, bob_server: JupyterServer) -> None:
    results, _ = through_tunnel(sshd, tunnel_home, bob_server.port)
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                                 "tunnel.user": "fail", "tunnel.token": "skip"}
    assert f"serves /user/{BOB}/, not /user/{ALICE}/" in results["tunnel.user"].summary


def test_5_local_jupyter_on_the_local_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = JupyterServer("/", OTHER_TOKEN, tmp_path / "local").start()
    local = server.port
    try:
        results, _ = run_tunnel_checks(local, url_for(ALICE))
        # The same port when the owner cannot be told (as on a laptop where lsof shows nothing):
        import checks.areas.tunnel as tunnel_module

        with monkeypatch.context() as patch:
            patch.setattr(tunnel_module, "listener_owner", lambda ctx, port: None)
            blind, _ = run_tunnel_checks(local, url_for(ALICE))
    finally:
        server.stop()
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "fail", "tunnel.jupyter": "skip",
                                 "tunnel.user": "skip", "tunnel.token": "skip"}
    assert "a Jupyter server running on your own computer" in results["tunnel.local_port"].summary
    assert statuses(blind) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                               "tunnel.user": "fail", "tunnel.token": "skip"}
    assert "another Jupyter" in blind["tunnel.user"].summary


def test_6_wrong_token(sshd: Sshd, tunnel_home: SshUser, alice_server: JupyterServer) -> None:
    stale = secrets.token_hex(32)
    results, outputs = through_tunnel(sshd, tunnel_home, alice_server.port, token=stale)
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                                 "tunnel.user": "pass", "tunnel.token": "fail"}
    assert "refuses the token (HTTP 403)" in results["tunnel.token"].summary
    assert all(stale not in out for out in outputs)


def test_7_hung_server_behind_the_tunnel(sshd: Sshd, tunnel_home: SshUser) -> None:
    hung = HungListener()
    try:
        results, _ = through_tunnel(sshd, tunnel_home, hung.port)
    finally:
        hung.stop()
    assert results["tunnel.jupyter"].status.value == "fail", results["tunnel.jupyter"].details
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "fail",
                                 "tunnel.user": "skip", "tunnel.token": "skip"}
    # Only the 1 s probe timeout gives this verdict: the listener never answers (bench/ measures the time).
    assert "sent nothing within 1 s" in results["tunnel.jupyter"].summary, results["tunnel.jupyter"].details


def test_8_plain_http_server_behind_the_tunnel(sshd: Sshd, tunnel_home: SshUser, tmp_path: Path) -> None:
    web = PlainHttp(tmp_path)
    try:
        results, _ = through_tunnel(sshd, tunnel_home, web.port)
    finally:
        web.stop()
    assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "fail",
                                 "tunnel.user": "skip", "tunnel.token": "skip"}
    assert "which is not Jupyter" in results["tunnel.jupyter"].summary


def test_server_side_reads_the_real_runtime_file(alice_server: JupyterServer) -> None:
    """tunnel.server, from the notebook: the real port and base URL from jpserver-<pid>.json."""
    ctx = make_ctx(side="server", env={"PATH": "/usr/bin:/bin", "JUPYTER_RUNTIME_DIR": str(alice_server.runtime)})
    ctx.procfs = Path("/proc")
    results = run_specs(ctx, select(["tunnel.server"]))
    result = results["tunnel.server"]
    assert result.status.value == "pass"
    assert f"port {alice_server.port} with base URL /user/{ALICE}/" in result.summary
    assert f"ssh -N -L 8889:127.0.0.1:{alice_server.port} {ALICE}@dsmlp-login.ucsd.edu" in result.summary
    assert TOKEN not in render.text(results, verbose=True) + render.json_text(results) + render.html(results)


def test_9_an_older_tunnel_still_holds_the_local_port(sshd: Sshd, tunnel_home: SshUser,
                                                      alice_server: JupyterServer) -> None:
    """The seed's second cause of "channel 2: open failed": this morning's tunnel, in another
    terminal, still holds the local port and forwards it to the previous server's port; the new
    server (the URL's) is elsewhere. The check reads the holding ssh's own command line."""
    local, old = free_port(), free_port()
    stale = Tunnel(sshd, tunnel_home, local, old)
    try:
        results, _ = run_tunnel_checks(local, url_for(ALICE, alice_server.port))
        blind, _ = run_tunnel_checks(local, None)  # no URL: the forward target is still named
        pid = stale.proc.pid
        assert statuses(results) == {"tunnel.url": "pass", "tunnel.local_port": "fail", "tunnel.jupyter": "skip",
                                     "tunnel.user": "skip", "tunnel.token": "skip"}
        summary = results["tunnel.local_port"].summary
        assert f"older tunnel: ssh (process {pid}) forwards it to 127.0.0.1:{old}" in summary
        assert f"port {alice_server.port}" in summary
        fix = results["tunnel.local_port"].fix
        assert list(fix.commands) == [f"kill {pid}",
                                      f"ssh -N -L {local}:127.0.0.1:{alice_server.port} {ALICE}@dsmlp-login.ucsd.edu"]
        assert blind["tunnel.jupyter"].status.value == "fail"
        assert any(f"forwarding to 127.0.0.1:{old}" in d for d in blind["tunnel.jupyter"].details)
        # The first command, pasted into bash, stops the old tunnel (the second is the tunnel command
        # the other states prove); then the right tunnel passes every check.
        subprocess.run(["bash", "--noprofile", "--norc", "-c", fix.commands[0]], check=True, timeout=30)
        stale.proc.wait(timeout=15)
    finally:
        stale.stop()
    fresh = Tunnel(sshd, tunnel_home, local, alice_server.port)
    try:
        after, _ = run_tunnel_checks(local, url_for(ALICE, alice_server.port))
    finally:
        fresh.stop()
    assert statuses(after) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                               "tunnel.user": "pass", "tunnel.token": "pass"}


# -- a Slurm site: the tunnel goes through the login node to a compute node -----------------------

NODE, WRONG_NODE = "127.0.0.2", "127.0.0.3"  # addresses of this machine standing in for compute nodes
HPC_LOGIN = "login.hpc.example.edu"


@pytest.fixture(scope="module")
def node_server(tmp_path_factory) -> Iterator[JupyterServer]:
    """Jupyter as a student starts it on a compute node: at /, on the node's address."""
    server = JupyterServer("/", TOKEN, tmp_path_factory.mktemp("jp-node"), ip=NODE).start()
    yield server
    server.stop()


class Pasted:
    """A command pasted into the student's bash on their computer, as printed; stopped by pid."""

    def __init__(self, user: SshUser, command: str, local: int) -> None:
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", f"exec {command}"], user=user.uid,
                                     group=user.gid, extra_groups=[], cwd=str(user.home),
                                     env={"HOME": str(user.home), "PATH": "/usr/bin:/bin"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_port(local, timeout=20, proc=self.proc), command

    def stop(self) -> None:
        stop_process(self.proc)


def _slurm_statuses(local: int, url: str, user: str) -> Dict:
    results, _ = run_tunnel_checks(local, url, site="example-hpc", user=user)
    return results


def test_10_slurm_a_tunnel_through_the_login_node_to_the_compute_node(sshd: Sshd, tunnel_home: SshUser,
                                                                      node_server: JupyterServer) -> None:
    """The tunnel command tunnel.server prints on the compute node, pasted on the student's
    computer, passes every tunnel check; a tunnel to the wrong node, or to the wrong port, fails
    tunnel.local_port with `kill PID` and the right tunnel, and pasting that fix makes them pass."""
    user, local = tunnel_home, free_port()
    config = user.home / ".ssh" / "config"  # name resolution only: the login host is the sshd on 127.0.0.1
    config.write_text(f"Host {HPC_LOGIN}\n    HostName 127.0.0.1\n    Port {sshd.port}\n    BatchMode yes\n"
                      "    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n")
    config.chmod(0o600)
    user.chown(config)
    left_behind = node_server.runtime / "jpserver-99999999.json"
    try:
        # On the compute node: tunnel.server reads the real runtime file and prints the tunnel. The
        # home (and so the runtime folder) is shared by every node: a file left by yesterday's job on
        # another node, killed at its time limit, sorts last and must not be the one chosen.
        left_behind.write_text(json.dumps({"base_url": "/", "hostname": "node017", "pid": 99999999,  # above any pid_max
                                     "port": node_server.port + 1, "token": "0" * 48, "url": "http://node017:8888/"}))
        exp = site_expectations("example-hpc").replace(local_port=local)
        node = make_ctx(side="server", exp=exp, env={"PATH": "/usr/bin:/bin", "USER": user.name,
                                                     "JUPYTER_RUNTIME_DIR": str(node_server.runtime)})
        node.procfs = Path("/proc")
        said = run_specs(node, select(["tunnel.server"]))["tunnel.server"]
        assert said.status.value == "pass", said.summary
        command = said.summary.split("on your computer run: ", 1)[1].split(" — ", 1)[0]
        assert command == f"ssh -N -L {local}:{NODE}:{node_server.port} {user.name}@{HPC_LOGIN}"
        url = f"http://{NODE}:{node_server.port}/lab?token={TOKEN}"

        tunnel = Pasted(user, command, local)
        try:
            good = _slurm_statuses(local, url, user.name)
        finally:
            tunnel.stop()
        assert statuses(good) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                                  "tunnel.user": "pass", "tunnel.token": "pass"}, {k: r.summary for k, r in good.items()}
        assert f"node {NODE}, port {node_server.port}" in good["tunnel.url"].summary
        assert command in good["tunnel.url"].summary

        for wrong in (f"{WRONG_NODE}:{node_server.port}", f"{NODE}:{free_port(NODE)}"):
            stale = Pasted(user, f"ssh -N -L {local}:{wrong} {user.name}@{HPC_LOGIN}", local)
            try:
                bad = _slurm_statuses(local, url, user.name)
                assert statuses(bad) == {"tunnel.url": "pass", "tunnel.local_port": "fail", "tunnel.jupyter": "skip",
                                         "tunnel.user": "skip", "tunnel.token": "skip"}, bad["tunnel.local_port"].summary
                result = bad["tunnel.local_port"]
                assert f"forwards it to {wrong}, but your server's URL says {NODE}:{node_server.port}" in result.summary
                assert list(result.fix.commands) == [f"kill {stale.proc.pid}", command]
                # The fix, pasted: the first command in bash, the second as the new tunnel.
                subprocess.run(["bash", "--noprofile", "--norc", "-c", result.fix.commands[0]], check=True, timeout=30)
                stale.proc.wait(timeout=15)
            finally:
                stale.stop()
            fixed = Pasted(user, result.fix.commands[1], local)
            try:
                after = _slurm_statuses(local, url, user.name)
            finally:
                fixed.stop()
            assert statuses(after) == {"tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass",
                                       "tunnel.user": "pass", "tunnel.token": "pass"}, wrong

        # The right node and port, but the Jupyter there has stopped (here: a port nothing listens on).
        gone = free_port(NODE)
        dead = Pasted(user, f"ssh -N -L {local}:{NODE}:{gone} {user.name}@{HPC_LOGIN}", local)
        try:
            stopped = _slurm_statuses(local, f"http://{NODE}:{gone}/lab?token={TOKEN}", user.name)
        finally:
            dead.stop()
        assert stopped["tunnel.local_port"].status.value == "pass"
        assert stopped["tunnel.jupyter"].status.value == "fail"
        assert "squeue --me" in stopped["tunnel.jupyter"].fix.text
        assert any("your server's address in the URL" in d for d in stopped["tunnel.jupyter"].details)
    finally:
        config.unlink()
        left_behind.unlink(missing_ok=True)
