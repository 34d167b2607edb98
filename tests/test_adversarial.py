"""Adversarial runs of the command line and of the single file, as processes (issue 12).

Each case builds a hostile machine in the test's own folders: a pasted URL that tries to become
an ssh option, config and repository files that would run commands (each would create a marker
file), links into a shared 1777 folder, named pipes, /dev/zero, 2 GB sparse files, tokens with
encoded line breaks, names with escape sequences, broken instructor files. Then `python -m checks`
and `python3 selfcheck.pyz` run on it, and every run must: print no traceback, exit 0-3 as
documented, finish (a run that hangs is killed by the guard and fails the test), show no token in
any output mode, create no marker, and change nothing outside the test's folders (the shared
folder and its file keep their modes and bytes; the real home's ~/.ssh is untouched).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

TOKEN = "4f0c" * 12  # 48 hex digits, as Jupyter makes them
HANG_GUARD = 120  # seconds: a run past this is a hang (the checker bounds every probe far below it)
MODES = {"text": ["-v"], "json": ["--json", "-v"], "plain": []}


class Case(NamedTuple):
    name: str
    setup: Callable[["World"], List[str]]  # returns the arguments
    exits: Sequence[int] = (0, 1, 3)  # 2 only where the case is a usage error
    says: str = ""  # text that must appear in the output (the answer, not a crash)
    modes: Sequence[str] = ("text", "json")
    env: Optional[Dict[str, str]] = None


class World:
    """The test's folders: a home, a working folder, a shared 1777 folder with someone's file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.ssh = self.home / ".ssh"
        self.cwd = root / "work"
        self.marks = root / "marks"
        self.shared = root / "shared"
        for folder in (self.home, self.cwd, self.marks, self.shared, root / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.shared, 0o1777)
        self.victim = self.shared / "someone-elses-file"
        self.victim.write_bytes(b"not yours\n")
        os.chmod(self.victim, 0o666)

    def mark(self, name: str) -> Path:
        return self.marks / name

    def key_home(self, keyring: Dict[str, Path]) -> None:
        self.ssh.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(keyring["ed25519"], self.ssh / "id_ed25519")
        shutil.copy(str(keyring["ed25519"]) + ".pub", self.ssh / "id_ed25519.pub")
        os.chmod(self.ssh / "id_ed25519", 0o600)

    def write(self, rel: str, data: str, mode: int = 0o600) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        os.chmod(path, mode)
        return path

    def snapshot(self) -> Dict[str, object]:
        return {"shared": stat.S_IMODE(os.lstat(self.shared).st_mode), "victim": self.victim.read_bytes(),
                "victim_mode": stat.S_IMODE(os.lstat(self.victim).st_mode)}


def _sparse(path: Path) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(2 << 30)
    return path


GOOD = (ROOT / "checks" / "assignments" / "methodology-1.toml").read_text()


def _expectations(w: World, text: str = GOOD) -> str:
    return str(w.write("exp.toml", text, 0o644))


def _local_login(w: World) -> str:
    """An assignment whose login host is this machine, and a config that sends ssh to a closed
    port there: a --live run connects nowhere and writes no known host."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w.ssh.mkdir(mode=0o700, exist_ok=True)
    with open(w.ssh / "config", "a") as handle:
        handle.write(f"Host 127.0.0.1\n    Port {port}\n    UserKnownHostsFile /dev/null\n")
    return _expectations(w, GOOD.replace('login_host = "dsmlp-login.ucsd.edu"', 'login_host = "127.0.0.1"'))


# -- the cases, by the issue's classes ----------------------------------------------------------

def _match_exec(w: World) -> List[str]:
    w.key_home(KEYRING)
    w.write("home/.ssh/config", f'Host *\n    ServerAliveInterval 30\nInclude {w.ssh}/more\n')
    w.write("home/.ssh/more", f'Match exec "touch {w.mark("match-exec")}; sleep 60"\n    User x\n')
    return ["--side", "laptop", "--only", "ssh", "--home", str(w.home)]


def _proxy_command_live(w: World) -> List[str]:
    w.key_home(KEYRING)
    w.write("home/.ssh/config", f"Host *\n    ProxyCommand touch {w.mark('proxy')}\n"
                                f"    LocalCommand touch {w.mark('local')}\n    PermitLocalCommand yes\n")
    return ["--expectations", _local_login(w), "--side", "laptop", "--only", "ssh", "--live", "--user", "student",
            "--home", str(w.home)]


def _url_option_live(w: World) -> List[str]:
    w.key_home(KEYRING)
    exp = _local_login(w)
    url = f"http://127.0.0.1:12733/user/-oProxyCommand=touch%20{w.mark('url-option')}/?token={TOKEN}"
    return ["--expectations", exp, "--side", "laptop", "--only", "ssh,tunnel", "--live", "--url", url,
            "--home", str(w.home)]


def _user_option(w: World) -> List[str]:
    return ["--side", "laptop", "--live", "--user", f"-oProxyCommand=touch {w.mark('user-option')}"]


def _host_option(w: World) -> List[str]:
    exp = GOOD + f'\n[server]\nlogin_host = "-oProxyCommand=touch {w.mark("host")}"\n'
    assert "[server]" not in GOOD
    return ["--expectations", _expectations(w, exp), "--side", "laptop", "--live"]


def _git_repo(w: World) -> List[str]:
    repo = w.cwd

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30)

    git("init", "-q")
    (repo / "a.txt").write_text("one\n")
    (repo / ".gitattributes").write_text("a.txt filter=evil\n")
    git("add", "-A")
    git("-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "x")
    git("config", "core.fsmonitor", f"touch {w.mark('fsmonitor')}; false")
    git("config", "filter.evil.clean", f"touch {w.mark('filter')}; cat")
    hook = repo / ".git" / "hooks" / "post-index-change"
    hook.write_text(f"#!/bin/sh\ntouch {w.mark('hook')}\n")
    os.chmod(hook, 0o755)
    later = time.time() + 5
    os.utime(repo / "a.txt", (later, later))  # stat-dirty: git must look inside, through the filter
    return ["--side", "laptop", "--only", "git"]


def _fix_through_links(w: World) -> List[str]:
    w.home.mkdir(exist_ok=True)
    shutil.copy(KEYRING["ed25519"], w.shared / "id_ed25519")
    os.chmod(w.shared / "id_ed25519", 0o644)
    w.ssh.symlink_to(w.shared)  # ~/.ssh is a link to a shared 1777 folder
    return ["--side", "laptop", "--only", "ssh", "--fix", "--home", str(w.home)]


def _fix_key_links(w: World) -> List[str]:
    w.key_home(KEYRING)
    os.chmod(w.ssh, 0o777)
    (w.ssh / "id_ed25519").unlink()
    (w.ssh / "id_ed25519").symlink_to(w.victim)
    (w.ssh / "authorized_keys").symlink_to(w.victim)
    return ["--side", "laptop", "--only", "ssh", "--fix", "--home", str(w.home)]


def _fix_server_links(w: World) -> List[str]:
    w.key_home(KEYRING)
    (w.ssh / "authorized_keys").symlink_to(w.victim)
    os.chmod(w.home, 0o777)
    return ["--side", "server", "--only", "ssh", "--fix", "--home", str(w.home)]


def _pub_is_zero(w: World) -> List[str]:
    w.key_home(KEYRING)
    (w.ssh / "id_ed25519.pub").unlink()
    (w.ssh / "id_ed25519.pub").symlink_to("/dev/zero")
    return ["--side", "laptop", "--only", "ssh", "--home", str(w.home)]


def _key_is_fifo(w: World) -> List[str]:
    w.key_home(KEYRING)
    (w.ssh / "id_ed25519").unlink()
    os.mkfifo(w.ssh / "id_ed25519")
    os.mkfifo(w.ssh / "config")
    return ["--side", "laptop", "--only", "ssh", "--home", str(w.home)]


def _authorized_keys_kinds(kind: str) -> Callable[[World], List[str]]:
    def setup(w: World) -> List[str]:
        w.key_home(KEYRING)
        target = w.ssh / "authorized_keys"
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "zero":
            target.symlink_to("/dev/zero")
        else:
            _sparse(target)
        return ["--side", "server", "--only", "ssh", "--home", str(w.home), "--pubkey", str(w.ssh / "id_ed25519.pub")]
    return setup


def _inputs_kinds(kind: str) -> Callable[[World], List[str]]:
    def setup(w: World) -> List[str]:
        paths = [w.root / f"input-{i}" for i in range(3)]
        for path in paths:
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "zero":
                path.symlink_to("/dev/zero")
            else:
                _sparse(path)
        return ["--side", "server", "--only", "env.packages,ssh.authorized_keys", "--compare", str(paths[0]),
                "--pubkey", str(paths[1]), "--home", str(w.home)]
    return setup


def _expectations_kind(kind: str) -> Callable[[World], List[str]]:
    def setup(w: World) -> List[str]:
        path = w.root / "exp.toml"
        {"fifo": lambda: os.mkfifo(path), "zero": lambda: path.symlink_to("/dev/zero"),
         "sparse": lambda: _sparse(path)}[kind]()
        return ["--expectations", str(path)]
    return setup


def _procfs_pipes(w: World) -> List[str]:
    proc, sys_ = w.root / "proc", w.root / "sys"
    (proc / "self").mkdir(parents=True)
    for name in ("cgroup", "mountinfo", "status"):
        os.mkfifo(proc / "self" / name)
    os.mkfifo(proc / "meminfo")
    (proc / "cpuinfo").symlink_to("/dev/zero")
    (sys_ / "devices" / "system" / "cpu").mkdir(parents=True)
    (sys_ / "devices" / "system" / "cpu" / "online").symlink_to("/dev/zero")
    runtime = w.root / "runtime"
    runtime.mkdir()
    os.mkfifo(runtime / "jpserver-1.json")
    return ["--side", "server", "--only", "resources,tunnel,env.side", "--procfs", str(proc), "--sysfs", str(sys_)]


def _token_url(encoded: str) -> Callable[[World], List[str]]:
    def setup(w: World) -> List[str]:
        return ["--side", "laptop", "--only", "tunnel", "--url",
                f"http://dsmlp-login:12733/user/bob/?token={TOKEN}{encoded}{TOKEN[::-1]}"]
    return setup


def _server_token(w: World) -> List[str]:
    runtime = w.root / "runtime"
    runtime.mkdir()
    (runtime / "jpserver-1.json").write_text(json.dumps({"port": 8888, "base_url": "/user/bob/", "token": TOKEN,
                                                         "pid": 1}))
    return ["--side", "server", "--only", "tunnel,env"]


def _bad_instructor_file(edit: Callable[[str], str]) -> Callable[[World], List[str]]:
    return lambda w: ["--expectations", _expectations(w, edit(GOOD))]


def _shadowed_assignment(w: World) -> List[str]:
    (w.cwd / "methodology-1").write_text(GOOD.replace('id = "methodology-1"', 'id = "shadow"'))
    (w.cwd / "methodology-1.toml").mkdir()
    return ["--assignment", "methodology-1", "--only", "env.side"]


def _escape_names(w: World) -> List[str]:
    w.key_home(KEYRING)
    (w.ssh / "id_ed25519").rename(w.ssh / "k\x1b[2J\x1b]0;pwned\x07")
    shutil.copy(KEYRING["rsa3072"], os.fsencode(str(w.ssh)) + b"/stray\xff\x1b[31m")
    return ["--side", "laptop", "--only", "ssh,tunnel", "--home", str(w.home), "--url",
            f"http://dsmlp-login:12733/user/a%1b%5b2Jb/?token={TOKEN}"]


CASES = [
    # 1. Never execute what the student's files say.
    Case("ssh config Match exec, through an Include", _match_exec, says="cannot be judged"),
    Case("ssh config ProxyCommand and LocalCommand, --live", _proxy_command_live, says="runs a command"),
    Case("git fsmonitor, clean filter and post-index-change hook", _git_repo),
    # 2. Never turn input into options.
    Case("URL user -oProxyCommand=..., --live", _url_option_live, says="is not a user name"),
    Case("--user -oProxyCommand=...", _user_option, exits=(2,), says="not a user name"),
    Case("expectations login_host -oProxyCommand=...", _host_option, exits=(2,), says="server.login_host"),
    # 3. --fix stays inside ~/.ssh and never follows a link.
    Case("--fix with ~/.ssh a link to a shared 1777 folder", _fix_through_links),
    Case("--fix with a key and authorized_keys linked outside", _fix_key_links),
    Case("--fix on the server side with authorized_keys linked outside", _fix_server_links),
    # 4. Every read is bounded and safe.
    Case(".pub is /dev/zero", _pub_is_zero, says="is not a regular file"),
    Case("key and config are named pipes", _key_is_fifo, says="named pipe"),
    Case("authorized_keys is a named pipe", _authorized_keys_kinds("fifo"), says="not a regular file"),
    Case("authorized_keys is /dev/zero", _authorized_keys_kinds("zero"), says="not a regular file"),
    Case("authorized_keys is a 2 GB sparse file", _authorized_keys_kinds("sparse"), says="too large"),
    Case("--compare and --pubkey are named pipes", _inputs_kinds("fifo"), says="named pipe"),
    Case("--compare and --pubkey are /dev/zero", _inputs_kinds("zero"), says="device"),
    Case("--compare and --pubkey are 2 GB sparse files", _inputs_kinds("sparse"), says="too large"),
    Case("--expectations is a named pipe", _expectations_kind("fifo"), exits=(2,), says="named pipe"),
    Case("--expectations is /dev/zero", _expectations_kind("zero"), exits=(2,), says="device"),
    Case("--expectations is a 2 GB sparse file", _expectations_kind("sparse"), exits=(2,), says="too large"),
    Case("procfs, sysfs and runtime files are pipes and devices", _procfs_pipes,
         env={"JUPYTER_RUNTIME_DIR": "{root}/runtime"}),
    # 5. No token ever shows.
    Case("token with an encoded newline", _token_url("%0a"), says="not a valid Jupyter token",
         modes=("plain", "text", "json")),
    Case("token with an encoded CR LF and a header", _token_url("%0d%0aX-Evil:%201"), says="not a valid Jupyter token",
         modes=("plain", "text", "json")),
    Case("token with a non-ASCII byte", _token_url("%C3%A9%FF"), says="not a valid Jupyter token",
         modes=("plain", "text", "json")),
    Case("token with an encoded NUL", _token_url("%00"), says="not a valid Jupyter token",
         modes=("plain", "text", "json")),
    Case("the server's own token in its runtime file and JUPYTER_TOKEN", _server_token,
         modes=("plain", "text", "json"), env={"JUPYTER_TOKEN": TOKEN, "JUPYTER_RUNTIME_DIR": "{root}/runtime"}),
    # 6. Instructors' files are fully validated.
    Case("unknown check id", _bad_instructor_file(lambda t: t.replace('"git"]', '"gti"]')), exits=(2,),
         says="checks names no check: 'gti'"),
    Case("empty checks", _bad_instructor_file(lambda t: t.replace(
        'checks = ["env.side", "ssh", "tunnel", "resources", "env", "git"]', "checks = []")), exits=(2,),
        says="checks is empty"),
    Case("nan CPUs", _bad_instructor_file(lambda t: t.replace("cpus = 2", "cpus = nan")), exits=(2,),
         says="resources.cpus is nan"),
    Case("deeply nested array", _bad_instructor_file(lambda t: "x = " + "[" * 20000 + "]" * 20000 + "\n" + t),
         exits=(2,), says="nested too deeply"),
    Case("a file named like the shipped assignment", _shadowed_assignment, says='"assignment": "methodology-1"',
         modes=("json",)),
    # 8. Terminal escape sequences in names are printed safely.
    Case("escape sequences and undecodable bytes in names", _escape_names, says="\\x1b"),
]

KEYRING: Dict[str, Path] = {}


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_pyz import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return build(tmp_path_factory.mktemp("pyz") / "selfcheck.pyz")


@pytest.fixture(scope="module", autouse=True)
def real_home_untouched():
    """The real user's ~/.ssh (where ssh itself would write known hosts) is the same afterwards."""
    import pwd

    real = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".ssh"

    def listing() -> Dict[str, int]:
        try:
            return {p.name: p.lstat().st_mtime_ns for p in real.iterdir()}
        except OSError:
            return {}

    before = listing()
    yield
    assert listing() == before, "a run changed the real ~/.ssh"


def _run(command: List[str], world: World, args: List[str], extra_env: Optional[Dict[str, str]]) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(world.home), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT), "TMPDIR": str(world.root / "tmp"),
           "XDG_DATA_HOME": str(world.root / "xdg"), "JUPYTER_RUNTIME_DIR": str(world.root / "no-runtime"),
           "SSH_AUTH_SOCK": str(world.root / "no-agent")}
    env.update({k: v.format(root=world.root) for k, v in (extra_env or {}).items()})
    proc = subprocess.Popen(command + args, cwd=str(world.cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{' '.join(args)} hung (killed after {HANG_GUARD} s)")
    return subprocess.CompletedProcess(command + args, proc.returncode, out, err)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_an_answer_and_does_no_harm(case: Case, tmp_path: Path, pyz: Path, keyring) -> None:
    KEYRING.update(keyring)
    for runner in ("cli", "pyz"):
        world = World(tmp_path / runner)
        args = case.setup(world)
        before = world.snapshot()
        command = [sys.executable, "-m", "checks"] if runner == "cli" else [sys.executable, str(pyz)]
        seen = ""
        for mode in case.modes:
            proc = _run(command, world, args + MODES[mode], case.env)
            out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
            where = f"{runner} {mode}: {out[-3000:]}"
            assert "Traceback" not in out, where
            assert proc.returncode in case.exits, f"exit {proc.returncode}; {where}"
            assert TOKEN not in out and TOKEN[::-1] not in out, f"the token shows; {where}"
            assert b"\x1b" not in proc.stdout + proc.stderr, f"a raw escape sequence reached the terminal; {where}"
            if mode == "json" and proc.returncode != 2:
                json.loads(proc.stdout)  # stdout holds exactly the report
            seen += out
        assert case.says in seen, f"{runner}: expected {case.says!r} in:\n{seen[-3000:]}"
        made = sorted(p.name for p in world.marks.iterdir())
        assert made == [], f"{runner}: something ran and made {made}"
        assert world.snapshot() == before, f"{runner}: the shared folder or its file changed"


def test_every_class_of_the_issue_has_cases() -> None:
    """Each class of issue 12 that runs as a process is covered (collect has its own tests)."""
    names = " ".join(c.name for c in CASES)
    for word in ("Match exec", "git fsmonitor", "-oProxyCommand", "--fix", "pipe", "/dev/zero", "sparse", "token",
                 "check id", "nan", "nested", "named like the shipped", "escape sequences"):
        assert word in names, word
