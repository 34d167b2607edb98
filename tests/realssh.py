"""A real sshd on loopback and a throwaway user, for differential tests against OpenSSH.

The tests start `/usr/sbin/sshd` (Debian's openssh-server) on a free loopback port with its own
configuration and host key, create a throwaway user whose home holds the fixture files, and run
the real `ssh` client as that user. Everything is stopped by the test that started it, by
process id.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

IN_CI = bool(os.environ.get("CI"))

SSHD = "/usr/sbin/sshd"


def require(condition: bool, why: str) -> None:
    """A missing real component fails the test in CI, and skips it (saying why) elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI must have it: 'make test' installs it)")
    pytest.skip(why)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stop_process(proc: Optional[subprocess.Popen], timeout: float = 10.0) -> None:
    """Stop a process this test started, by its pid: terminate, then kill if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def wait_port(port: int, timeout: float = 10.0, proc: Optional[subprocess.Popen] = None,
              host: str = "127.0.0.1") -> bool:
    """Wait until something listens on the port. With `proc`, False as soon as that process has
    exited (it could not bind: the port was taken between choosing it and starting the server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout} s")


PORT_TRIES = 5  # a free port can be taken by another program before our server binds it: try another


@dataclass
class SshUser:
    name: str
    uid: int
    gid: int
    home: Path

    def run(self, argv: List[str], timeout: float = 20, env: Optional[Dict[str, str]] = None,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run a program as this user, with their HOME, and no agent from the outside."""
        base = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8"}
        return subprocess.run(argv, user=self.uid, group=self.gid, extra_groups=[], env={**base, **(env or {})},
                              cwd=str(self.home), capture_output=True, text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def chown(self, path: Path, uid: Optional[int] = None) -> None:
        os.chown(path, self.uid if uid is None else uid, self.gid if uid is None else -1, follow_symlinks=False)

    def reset_home(self) -> None:
        """An empty home with sshd's preferred modes: ~ 0755, owned by the user."""
        for child in self.home.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        os.chmod(self.home, 0o755)
        self.chown(self.home)


def create_user() -> SshUser:
    require(os.geteuid() == 0, "creating a throwaway user for sshd needs root")
    require(shutil.which("useradd") is not None, "useradd is missing")
    name = "sc" + uuid.uuid4().hex[:8]
    home = Path("/home") / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", "--user-group", name],
                   check=True, capture_output=True, timeout=30)
    # A '*' password: no password login, but not a locked account (sshd refuses locked ones).
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True, timeout=30)
    import pwd  # POSIX only: this module must import on Windows too (the cross-OS CI imports conftest)

    entry = pwd.getpwnam(name)
    return SshUser(name, entry.pw_uid, entry.pw_gid, home)


def delete_user(user: SshUser) -> None:
    subprocess.run(["userdel", "--remove", user.name], capture_output=True, timeout=30)
    shutil.rmtree(user.home, ignore_errors=True)


class Sshd:
    """A real sshd on 127.0.0.1, started and stopped by the test (by pid)."""

    def __init__(self, workdir: Path, allow_user: str, extra: str = "") -> None:
        require(Path(SSHD).exists(), "sshd is not installed (Debian package openssh-server)")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = 0  # chosen when it starts
        self.allow_user, self.extra = allow_user, extra
        self.host_key = self.dir / "host_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True,
                       capture_output=True, timeout=30)
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.proc: Optional[subprocess.Popen] = None

    def _write_config(self) -> None:
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\nPidFile {self.dir}/sshd.pid\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nStrictModes yes\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            f"AllowUsers {self.allow_user}\nAllowTcpForwarding yes\nLogLevel VERBOSE\nMaxStartups 100:30:200\n"
            f"{self.extra}")

    def start(self) -> "Sshd":
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # Debian's privilege-separation directory
        for _ in range(PORT_TRIES):
            self.port = free_port()
            self._write_config()
            check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=subprocess.DEVNULL,
                                             stderr=log, stdin=subprocess.DEVNULL)
            if wait_port(self.port, proc=self.proc):
                return self
        raise RuntimeError(f"sshd could not bind a free port in {PORT_TRIES} tries; see {self.log}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def ssh_argv(self, user: SshUser, key: Optional[Path] = None, extra: Optional[List[str]] = None,
                 command: Optional[List[str]] = None) -> List[str]:
        # ssh keeps the first value given for an option, so the caller's extras come first.
        argv = ["ssh", *(extra or []), "-p", str(self.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]
        if key is not None:
            argv += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        return argv + [f"{user.name}@127.0.0.1"] + (command if command is not None else ["true"])

    def login(self, user: SshUser, key: Optional[Path] = None, extra: Optional[List[str]] = None):
        """Log in as the user with the real client; True when sshd let them in."""
        proc = user.run(self.ssh_argv(user, key, extra), timeout=30)
        return proc.returncode == 0, proc.stderr


class Home:
    """The throwaway user's home, set up for one scenario."""

    def __init__(self, user: SshUser, keyring: Dict[str, Path]) -> None:
        self.user, self.keyring = user, keyring
        self.ssh = user.home / ".ssh"

    def put(self, rel: str, data: bytes, mode: int, uid: Optional[int] = None) -> Path:
        path = self.user.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
        self.user.chown(path, uid)
        return path

    def standard(self, key: str = "ed25519", name: str = "id_ed25519", authorize: Optional[str] = None) -> Path:
        """~/.ssh 0700 with key (0600) and .pub, and the key in authorized_keys (0600)."""
        self.ssh.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.ssh, 0o700)
        self.user.chown(self.ssh)
        private = self.put(f".ssh/{name}", self.keyring[key].read_bytes(), 0o600)
        self.put(f".ssh/{name}.pub", Path(str(self.keyring[key]) + ".pub").read_bytes(), 0o644)
        self.authorize(authorize or key)
        return private

    def authorize(self, *keys: str, text: Optional[bytes] = None, mode: int = 0o600) -> Path:
        body = text if text is not None else b"".join(Path(str(self.keyring[k]) + ".pub").read_bytes() for k in keys)
        return self.put(".ssh/authorized_keys", body, mode)

    def pub(self, key: str) -> bytes:
        return Path(str(self.keyring[key]) + ".pub").read_bytes()
