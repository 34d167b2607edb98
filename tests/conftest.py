"""Shared fixtures. Real components only: the real book build, real sshd, real Jupyter Server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(scope="session", autouse=True)
def _no_state_in_the_home(tmp_path_factory) -> Iterator[None]:
    """Kernels, Chromium and IPython keep state under ~ (~/.ipython, ~/.config/chromium,
    ~/.cache): the tests point them at a folder of their own, removed with the rest."""
    state = tmp_path_factory.mktemp("user-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(state / "ipython"))
        patch.setenv("XDG_CONFIG_HOME", str(state / "config"))
        patch.setenv("XDG_CACHE_HOME", str(state / "cache"))
        yield


def jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        found = shutil.which("jupyter-book")
        if not found:
            pytest.fail("jupyter-book is not installed: run the tests with 'make test'")
        return found
    return str(exe)


def build_book(source: Path, out: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `jupyter-book build` with warnings as errors, into `out`."""
    return subprocess.run(
        [jupyter_book(), "build", str(source), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=timeout, cwd=str(source),
    )


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The whole book, built once per test session from scratch into a temporary directory."""
    out = tmp_path_factory.mktemp("book")
    proc = build_book(ROOT, out)
    html = out / "_build" / "html"
    if proc.returncode != 0:
        reports = "\n".join(p.read_text() for p in (html / "reports").glob("**/*.log")) if html.exists() else ""
        pytest.fail(f"the book build failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{reports}")
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    return html


# -- a real sshd and a throwaway user, shared by the SSH and tunnel tests ---------------------

from typing import Dict, List  # noqa: E402

from realssh import Sshd, SshUser, create_user, delete_user, require  # noqa: E402

KEYGEN: Dict[str, List[str]] = {
    "ed25519": ["-t", "ed25519"],
    "ed25519_b": ["-t", "ed25519"],
    "ecdsa": ["-t", "ecdsa", "-b", "256"],
    "rsa3072": ["-t", "rsa", "-b", "3072"],
    "rsa2048": ["-t", "rsa", "-b", "2048"],
    "rsa_pem": ["-t", "rsa", "-b", "3072", "-m", "PEM"],
    "rsa_pkcs8": ["-t", "rsa", "-b", "3072", "-m", "PKCS8"],
    "dsa": ["-t", "dsa"],
    "ed25519_pass": ["-t", "ed25519", "-N", "correct horse"],
}


@pytest.fixture(scope="session")
def keyring(tmp_path_factory) -> Dict[str, Path]:
    require(shutil.which("ssh-keygen") is not None, "ssh-keygen is missing (openssh-client)")
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name, args in KEYGEN.items():
        path = folder / name
        argv = ["ssh-keygen", "-q", *args, "-f", str(path), "-C", f"{name}@test"]
        if "-N" not in args:
            argv[2:2] = ["-N", ""]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        made[name] = path
    return made


@pytest.fixture(scope="session")
def user() -> SshUser:
    account = create_user()
    yield account
    delete_user(account)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, user: SshUser) -> Sshd:
    server = Sshd(tmp_path_factory.mktemp("sshd"), user.name).start()
    yield server
    server.stop()




# -- every fix a check returns is one it declares ------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def declared_fixes_only():
    """Across the whole session, every fix a registered check returns carries a heading that the
    check declares in `fixes=` (exactly, not by prefix): the troubleshooting page lists those."""
    from checks import runner
    from checks.registry import all_checks

    declared = {spec.id: spec.fixes for spec in all_checks()}
    seen: List[str] = []
    original = runner._result

    def recording(spec, verdict, duration):
        if verdict.fix is not None and spec.id in declared and verdict.fix.heading not in declared[spec.id]:
            seen.append(f"{spec.id}: {verdict.fix.heading or verdict.fix.text!r}")
        return original(spec, verdict, duration)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "_result", recording)
        yield seen
    assert not seen, "fixes returned but not declared by their check:\n" + "\n".join(sorted(set(seen)))
