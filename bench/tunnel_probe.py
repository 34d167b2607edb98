"""Tunnel probe speed: a refused port, a hung listener, and a full run against a good tunnel.

Goals (issue 5): a refused port's verdict within 50 ms; a hung listener's within the probe
timeout + 0.5 s; the tunnel checks against a good tunnel in well under a second. The good
tunnel is a real Jupyter Server behind a real `ssh -L` to a real sshd (root only, as in the
tests); without root it is measured against the Jupyter Server directly and says so.

Run: .venv/bin/python bench/tunnel_probe.py
"""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import make_ctx  # noqa: E402
from jupyter_helpers import HungListener, JupyterServer  # noqa: E402
from realssh import free_port  # noqa: E402

from checks import expectations  # noqa: E402
from checks.registry import select  # noqa: E402
from checks.runner import run_specs  # noqa: E402

TIMEOUT = 1.0


def tunnel_run(port: int, url: str) -> float:
    exp = expectations.load().replace(local_port=port)
    ctx = make_ctx(side="laptop", exp=exp, url=url, timeout=TIMEOUT)
    ctx.procfs = Path("/proc")
    started = time.perf_counter()
    run_specs(ctx, select(["tunnel"]))
    return time.perf_counter() - started


def one(port: int, check: str) -> float:
    exp = expectations.load().replace(local_port=port)
    ctx = make_ctx(side="laptop", exp=exp, timeout=TIMEOUT)
    started = time.perf_counter()
    run_specs(ctx, select([check]))
    return time.perf_counter() - started


def main() -> int:
    token = secrets.token_hex(32)
    refused = statistics.median(one(free_port(), "tunnel.local_port") for _ in range(20))
    hung = HungListener()
    try:
        from checks.probes.net import http_get

        started = time.perf_counter()
        http_get(hung.port, "/api", TIMEOUT)
        hang = time.perf_counter() - started
    finally:
        hung.stop()
    work = Path(tempfile.mkdtemp())
    server = JupyterServer("/user/alice/", token, work / "jp").start()
    tunnel = sshd = user = None
    try:
        target, how = server.port, "directly (not root: no sshd)"
        if os.geteuid() == 0:
            import subprocess

            from realssh import Home, Sshd, create_user, delete_user
            from test_tunnel_real import Tunnel

            user = create_user()
            keydir = work / "keys"
            keydir.mkdir()
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keydir / "ed25519")], check=True)
            Home(user, {"ed25519": keydir / "ed25519"}).standard()
            sshd = Sshd(work / "sshd", user.name).start()
            target = free_port()
            tunnel = Tunnel(sshd, user, target, server.port)
            how = "through a real ssh -L tunnel"
        url = f"http://dsmlp-login.ucsd.edu:{server.port}/user/alice/?token={token}"
        full = statistics.median(tunnel_run(target, url) for _ in range(10))
    finally:
        if tunnel:
            tunnel.stop()
        if sshd:
            sshd.stop()
        if user:
            delete_user(user)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)  # it holds a private key
    print(f"refused port verdict     {refused * 1000:7.1f} ms   (goal <= 50 ms)")
    print(f"hung listener verdict    {hang * 1000:7.1f} ms   (goal <= timeout {TIMEOUT * 1000:.0f} ms + 500 ms)")
    print(f"all tunnel checks, good  {full * 1000:7.1f} ms   {how} (goal well under 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
