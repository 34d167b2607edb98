"""The tunnel checks against real components: a real Jupyter Server (base_url /user/<name>/ and a
token), a real sshd, and real `ssh -N -L` tunnels — one per state a student can be in.

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
from helpers import make_ctx
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


def run_tunnel_checks(local: int, url: Optional[str], token_secret: str = TOKEN):
    exp = expectations.load().replace(local_port=local)
    ctx = make_ctx(side="laptop", exp=exp, url=url, timeout=1.0)
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
