"""Real Jupyter Servers and helper listeners on loopback, started and stopped by the tests."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

from realssh import PORT_TRIES, free_port, stop_process, wait_port


class JupyterServer:
    """`jupyter_server` on a loopback address (127.0.0.1, or 127.0.0.2 standing in for a compute
    node) with a base URL and a token; stopped by pid."""

    def __init__(self, base_url: str, token: str, workdir: Path, port: Optional[int] = None,
                 ip: str = "127.0.0.1") -> None:
        """`port` None: a free one, chosen again if another program takes it first."""
        self.port, self.base_url, self.token, self.ip = port or 0, base_url, token, ip
        self.fixed_port = port
        self.dir = workdir
        self.runtime = workdir / "runtime"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "JupyterServer":
        self.dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.runtime), "JUPYTER_CONFIG_DIR": str(self.dir / "cfg"),
               "JUPYTER_DATA_DIR": str(self.dir / "data"), "JUPYTER_PLATFORM_DIRS": "1"}
        for _ in range(PORT_TRIES if self.fixed_port is None else 1):
            self.port = self.fixed_port or free_port(self.ip)
            argv = [sys.executable, "-m", "jupyter_server", f"--ServerApp.ip={self.ip}",
                    f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                    f"--ServerApp.base_url={self.base_url}", "--ServerApp.open_browser=False",
                    f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.dir}",
                    "--ServerApp.allow_root=True"]
            with open(self.dir / "server.log", "ab") as log:
                self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            if wait_port(self.port, timeout=60, proc=self.proc, host=self.ip):
                return self
        raise RuntimeError(f"Jupyter Server could not bind port {self.port}; see {self.dir / 'server.log'}")

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)
        self.proc = None


class HungListener:
    """Accepts connections and never answers (a server that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


class PlainHttp:
    """A plain HTTP server that is not Jupyter."""

    def __init__(self, directory: Path) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(directory), **kwargs)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]  # keep test output quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
