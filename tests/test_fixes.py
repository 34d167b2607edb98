"""Fixes that work: every printed fix is pasted into the student's shell and the check runs again.

For each failure state of the check-the-checks matrix (test_matrix.py) that can be reproduced on
Linux, and for more states below, the fix's `commands` are pasted as they are into a fresh
`bash --noprofile --norc -i` and a fresh `zsh -f -i` (macOS's shell), with HOME set to the fixture
home, one line after another on the shell's input as a student pastes them (interactive: bash
expands `!`, zsh takes `#` as a word). Then the check runs again: it must pass,
or move on to a different, named problem.

What is not the student's own keyboard, and why:
- ssh-keygen asks for a file name and a passphrase. A stand-in on PATH answers as a student
  pressing Enter does: it adds `-N ""` (no passphrase) and the default file under $HOME, because
  the real ssh-keygen takes the home from the passwd entry, not from $HOME, and would write into
  the real home; as ssh-keygen does for the passwd home, it creates ~/.ssh (mode 700) first. The
  real /usr/bin/ssh-keygen then makes the key.
- ssh-add asks for the passphrase: an askpass program types it (SSH_ASKPASS_REQUIRE=force).
- A command that contacts the login host (ssh-copy-id) is shown, not run: there is no login host
  here (test_ssh_real.py proves key installation against a real sshd).
- Placeholders (<the URL>) are filled in, as the fix text asks.
- git commits are made with a test identity (a student's git has one).

Simulated Windows and macOS laptops (the same states, the platform swapped for a fake Windows or
for macOS; there is neither here) print their fixes too: every Windows command must pass the
PowerShell 5.1 lint (pslint.py), and the macOS commands are executed in zsh where they also run
here.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import pytest
from conftest import IN_CI, ROOT
from fakes import STUDENT_SID, FakeWindowsPlatform
from helpers import make_ctx
from pslint import lint
from test_matrix import MATRIX, URL, ak, git_repo, laptop, pub, ssh_home, tunnel_ctx

from checks import expectations
from checks.context import Context
from checks.model import Result, Status
from checks.platform import Platform
from checks.registry import get
from checks.runner import run_specs
from checks.shell import PowerShell
from checks.tools.explain import PATTERNS

pytestmark = pytest.mark.slow

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Jo Student", "GIT_AUTHOR_EMAIL": "jo@example.edu",
                "GIT_COMMITTER_NAME": "Jo Student", "GIT_COMMITTER_EMAIL": "jo@example.edu"}


class State(NamedTuple):
    check_id: str
    setup: Callable[[Path, dict], Context]
    stdin: Callable[[Context, dict], str] = lambda ctx, keys: ""
    windows: Optional[Callable[[Context], None]] = None  # what makes the same state on a fake Windows


# -- the states ----------------------------------------------------------------------------------


def _edit(change: Callable[[Path, dict], None], **kw) -> Callable[[Path, dict], Context]:
    def setup(tmp: Path, keys: dict) -> Context:
        change(ssh_home(tmp, keys, **kw), keys)
        return laptop(tmp)
    return setup


def _rewrite(name: str, edit: Callable[[bytes], bytes]) -> Callable[[Path, dict], None]:
    return lambda ssh, keys: (ssh / name).write_bytes(edit((ssh / name).read_bytes()))


def _user_config(tmp: Path, keys: dict) -> Context:
    ssh = ssh_home(tmp, keys)
    (ssh / "config").write_text("Host dsmlp-login.ucsd.edu\n    User wrongname\n")
    os.chmod(ssh / "config", 0o600)
    ctx = laptop(tmp)
    ctx.options.user = "ana"
    return ctx


def _no_ssh_dir_on_server(tmp: Path, keys: dict) -> Context:
    (tmp / "home").mkdir()
    os.chmod(tmp / "home", 0o755)
    ctx = make_ctx(tmp, side="server", pubkey=pub(keys))
    ctx.platform = Platform("linux", uid=os.getuid())
    return ctx


def _fingerprint_only(tmp: Path, keys: dict) -> Context:
    ctx = ak(lambda k: pub(k, "ed25519_b"))(tmp, keys)
    from checks.probes.keys import parse_public_line

    ctx.options.pubkey = parse_public_line(pub(keys)).fingerprint
    return ctx


def _group_writable_home(tmp: Path, keys: dict) -> Context:
    ctx = ak(lambda k: pub(k))(tmp, keys)
    os.chmod(tmp / "home", 0o775)
    return ctx


def _git(tmp: Path, state: str) -> Context:
    ctx = git_repo(tmp, dirty=False)
    env = {**os.environ, **GIT_IDENTITY}
    work = tmp / "work"

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env, timeout=30)

    if state == "ahead":
        (work / "g.py").write_text("y = 1\n")
        git("add", "g.py")
        git("commit", "-qm", "more")
    elif state == "no-upstream":
        git("checkout", "-qb", "topic")
    elif state == "behind":
        git("clone", "-q", str(tmp / "origin.git"), str(tmp / "other"), cwd=tmp)
        (tmp / "other" / "h.py").write_text("z = 1\n")
        git("add", "h.py", cwd=tmp / "other")
        git("commit", "-qm", "from the other side", cwd=tmp / "other")
        git("push", "-q", cwd=tmp / "other")
        git("fetch", "-q")
    return ctx


def _hidden_gpus(tmp: Path, keys: dict) -> Context:
    ctx = MATRIX["resources.gpus"][0](tmp, keys)  # the matrix's server with one GPU (a stand-in nvidia-smi)
    ctx.env = {**ctx.env, "CUDA_VISIBLE_DEVICES": ""}
    return ctx


def _acl(name: str, sddl: str) -> Callable[[Context], None]:
    def windows(ctx: Context) -> None:
        ctx.platform = FakeWindowsPlatform(acls={str(ctx.home / ".ssh" / name): sddl})
    return windows


READABLE_BY_USERS = f"O:{STUDENT_SID}D:AI(A;;FA;;;{STUDENT_SID})(A;;FR;;;BU)(A;ID;FA;;;SY)"
WRITABLE_BY_EVERYONE = f"O:{STUDENT_SID}D:AI(A;ID;FA;;;{STUDENT_SID})(A;;0x1301bf;;;WD)"

# The matrix's failure states (same setups), then more states.
STATES: Dict[str, State] = {
    "ssh.dir": State("ssh.dir", MATRIX["ssh.dir"][1]),
    "ssh.key.present": State("ssh.key.present", MATRIX["ssh.key.present"][1]),
    "ssh.key.permissions": State("ssh.key.permissions", MATRIX["ssh.key.permissions"][1],
                                 windows=_acl("id_ed25519", READABLE_BY_USERS)),
    "ssh.key.format": State("ssh.key.format", MATRIX["ssh.key.format"][1]),
    "ssh.key.type": State("ssh.key.type", MATRIX["ssh.key.type"][1]),
    "ssh.key.pair": State("ssh.key.pair", MATRIX["ssh.key.pair"][1]),
    "ssh.config": State("ssh.config", MATRIX["ssh.config"][1], windows=_acl("config", WRITABLE_BY_EVERYONE)),
    "ssh.agent": State("ssh.agent", MATRIX["ssh.agent"][1]),
    "ssh.authorized_keys": State("ssh.authorized_keys", MATRIX["ssh.authorized_keys"][1]),
    "ssh.home.permissions": State("ssh.home.permissions", MATRIX["ssh.home.permissions"][1]),
    "git.sync": State("git.sync", MATRIX["git.sync"][1]),
    "tunnel.url": State("tunnel.url", MATRIX["tunnel.url"][1]),
    # More states than the matrix has.
    "ssh.dir: writable by others": State("ssh.dir", lambda t, k: _writable_dir(t, k)),
    "ssh.key.present: no key at all": State("ssh.key.present", lambda t, k: _empty_ssh(t)),
    "ssh.key.present: a name with a space": State("ssh.key.present", lambda t, k: laptop_with(t, k, "dsmlp key")),
    "ssh.key.format: byte-order mark": State("ssh.key.format", _edit(_rewrite("id_ed25519", lambda d: b"\xef\xbb\xbf" + d))),
    "ssh.key.format: no final newline": State("ssh.key.format", _edit(_rewrite("id_ed25519", lambda d: d.rstrip(b"\n")))),
    "ssh.key.format: text before BEGIN": State("ssh.key.format", _edit(_rewrite("id_ed25519", lambda d: b"\n  " + d))),
    "ssh.key.pair: no .pub": State("ssh.key.pair", _edit(lambda s, k: (s / "id_ed25519.pub").unlink())),
    "ssh.config: another user": State("ssh.config", _user_config),
    "ssh.authorized_keys: no ~/.ssh": State("ssh.authorized_keys", _no_ssh_dir_on_server),
    "ssh.authorized_keys: fingerprint given": State("ssh.authorized_keys", _fingerprint_only,
                                                    stdin=lambda ctx, keys: pub(keys)),
    "ssh.home.permissions: group-writable home": State("ssh.home.permissions", _group_writable_home),
    "git.sync: ahead": State("git.sync", lambda t, k: _git(t, "ahead")),
    "git.sync: no upstream": State("git.sync", lambda t, k: _git(t, "no-upstream")),
    "git.sync: behind": State("git.sync", lambda t, k: _git(t, "behind")),
    "resources.gpus: CUDA_VISIBLE_DEVICES hides them": State("resources.gpus", _hidden_gpus),
}


def _writable_dir(tmp: Path, keys: dict) -> Context:
    ssh = ssh_home(tmp, keys)
    os.chmod(ssh, 0o777)
    return laptop(tmp)


def _empty_ssh(tmp: Path) -> Context:
    (tmp / "home" / ".ssh").mkdir(parents=True)
    os.chmod(tmp / "home" / ".ssh", 0o700)
    return laptop(tmp)


def laptop_with(tmp: Path, keys: dict, name: str) -> Context:
    ssh_home(tmp, keys, name=name)
    return laptop(tmp)


# The matrix's failure states that cannot be fixed by pasting here, and why.
NOT_REPRODUCIBLE = {
    "env.side": "the fix starts a server with the cluster's launch script",
    "env.python": "the fix installs another Python (conda, or python.org on Windows)",
    "env.packages": "the fix installs from the package index, which the tests do not reach",
    "ssh.client": "the Linux fix installs a system package; the macOS fix is proven below",
    "resources.cpus": "the fix relaunches the server on the cluster",
    "resources.memory": "the fix relaunches the server on the cluster",
    "resources.gpus": "the fix relaunches the server on the cluster (the CUDA_VISIBLE_DEVICES state is proven)",
    "resources.disk": "the fix lists what is largest; what to delete is the student's choice (the listing runs)",
    "tunnel.jupyter": "the fix restarts the tunnel after the student stops the old one (Ctrl+C) and relaunches",
    "tunnel.user": "the fix restarts the tunnel after the student stops the old one (Ctrl+C)",
    "tunnel.token": "the fix runs the checks with the URL of the latest launch on the cluster",
    "tunnel.server": "the fix starts Jupyter with the cluster's launch script",
}


# Proven against a real sshd playing the login host (test_tunnel_fix_through_a_real_login_host).
PROVEN_THROUGH_LOGIN_HOST = {"tunnel.local_port"}


def test_every_matrix_failure_state_is_proven_or_says_why_not() -> None:
    matrix_states = set(MATRIX) | {"tunnel.local_port", "tunnel.jupyter", "tunnel.user", "tunnel.token",
                                   "tunnel.server"}
    proven = {name for name in STATES if name in MATRIX} | PROVEN_THROUGH_LOGIN_HOST
    assert proven | set(NOT_REPRODUCIBLE) == matrix_states and not proven & set(NOT_REPRODUCIBLE)


# -- pasting -------------------------------------------------------------------------------------

CONTACTS_LOGIN_HOST = re.compile(r"^(ssh-copy-id|ssh) ")


class Pasted(NamedTuple):
    statuses: List[Tuple[str, int]]
    output: str
    env: Dict[str, str]


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    """ssh-keygen's prompt answers and ssh-add's passphrase (see the module's docstring)."""
    folder = tmp_path_factory.mktemp("stand-ins")
    keygen = shutil.which("ssh-keygen")
    assert keygen, "ssh-keygen is missing (openssh-client)"
    (folder / "ssh-keygen").write_text(
        "#!/bin/sh\n"
        "# Answer ssh-keygen's prompts as a student pressing Enter: no passphrase, the default file.\n"
        'case " $* " in *" -f "*|*" -y "*|*" -l "*|*" -R "*) exec ' + keygen + ' "$@";; esac\n'
        'type=ed25519; prev=""; for a in "$@"; do [ "$prev" = "-t" ] && type="$a"; prev="$a"; done\n'
        'mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh"\n'
        'exec ' + keygen + ' "$@" -N "" -f "$HOME/.ssh/id_$type"\n')
    (folder / "askpass").write_text("#!/bin/sh\necho 'correct horse'\n")
    for name in ("ssh-keygen", "askpass"):
        (folder / name).chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def single_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pyz") / "selfcheck.pyz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_pyz.py"), str(out)], check=True,
                   capture_output=True, timeout=120)
    return out


def shells() -> List[str]:
    found = [s for s in ("bash", "zsh") if shutil.which(s)]
    if "zsh" not in found and IN_CI:
        pytest.fail("zsh is missing: scripts/system-deps.sh installs it")
    return found


def paste(shell: str, commands: List[str], ctx: Context, stand_ins: Path, stdin: str = "") -> Pasted:
    """Paste the commands, one line at a time, into an interactive shell started fresh for the test.

    The lines reach the shell on its standard input, as typed (interactive: bash expands `!`, zsh
    takes `#` as a word). `stdin` is what the student types after the last command (a key line for
    `cat >>`, ended by Ctrl+D): that command reads it, and the paste ends there.
    """
    dump = ctx.home.parent / f"env-after-{shell}"
    lines = []
    for n, command in enumerate(commands):
        lines += [command, f"echo __status_{n}=$?"]
    lines.append(f"/usr/bin/env > {dump}")
    if stdin:
        lines = lines[:2 * len(commands) - 1] + [stdin.rstrip("\n")]
    program = shutil.which(shell)
    assert program, f"{shell} is not installed"
    argv = {"bash": [program, "--noprofile", "--norc", "-i"], "zsh": [program, "-f", "-i"]}[shell]
    env = {"HOME": str(ctx.home), "PATH": f"{stand_ins}:{ctx.env.get('PATH', '/usr/bin:/bin')}",
           "SSH_ASKPASS": str(stand_ins / "askpass"), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0",
           "LANG": "C.UTF-8", "TERM": "dumb", **GIT_IDENTITY,
           **{k: v for k, v in ctx.env.items() if k not in ("PATH", "HOME")}}
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(ctx.cwd), start_new_session=True)
    try:
        out, err = proc.communicate("\n".join(lines) + "\n", timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and everything the paste started
        out, err = proc.communicate()
    found = [(commands[int(n)], int(rc)) for n, rc in re.findall(r"__status_(\d+)=(\d+)", out)]
    after = {}
    if dump.exists():
        for line in dump.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                after[key] = value
    return Pasted(found, out + err, after)


def run_check(ctx: Context, check_id: str) -> Result:
    spec = get(check_id)
    ctx._memo.clear()
    return run_specs(ctx, [get(d) for d in spec.requires] + [spec])[check_id]


def _fill(command: str) -> str:
    """The placeholder filled in as the fix text asks: the whole URL the launch script printed."""
    return command.replace("<the URL>", URL(12733))


def _succeeded(command: str, rc: int) -> bool:
    """A pasted command worked: exit 0, or 1 for the checker itself (some other check failed)."""
    return rc == 0 or (rc == 1 and command.startswith("python3 selfcheck.pyz"))


ENV_THE_FIX_SETS = ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "CUDA_VISIBLE_DEVICES")


def _carry_env(ctx: Context, pasted: Pasted) -> None:
    """What the pasted commands changed in their shell, for the check run again from that shell."""
    env = {k: v for k, v in ctx.env.items() if k not in ENV_THE_FIX_SETS}
    env.update({k: pasted.env[k] for k in ENV_THE_FIX_SETS if k in pasted.env})
    ctx.env = env


@pytest.mark.parametrize("shell", ["bash", "zsh"])
@pytest.mark.parametrize("name", sorted(STATES))
def test_pasted_fix_works(name: str, shell: str, tmp_path: Path, keyring, stand_ins: Path, single_file: Path) -> None:
    if shell not in shells():
        pytest.skip(f"{shell} is not installed here (scripts/system-deps.sh installs it; CI fails without it)")
    state = STATES[name]
    ctx = state.setup(tmp_path, keyring)
    before = run_check(ctx, state.check_id)
    assert before.status in (Status.FAIL, Status.WARN) and before.fix is not None, before.summary
    assert before.fix.heading in get(state.check_id).fixes
    shutil.copy(single_file, ctx.cwd / "selfcheck.pyz")
    to_paste = [_fill(c) for c in before.fix.commands if not CONTACTS_LOGIN_HOST.match(c)]
    pasted = paste(shell, to_paste, ctx, stand_ins, state.stdin(ctx, keyring))
    try:
        reads_stdin = 1 if state.stdin(ctx, keyring) else 0  # the last command read to the end
        assert [c for c, _ in pasted.statuses] == to_paste[:len(to_paste) - reads_stdin], pasted.output
        assert all(_succeeded(c, rc) for c, rc in pasted.statuses), pasted.output
        if state.check_id == "tunnel.url":  # the fix is the checker itself, run with the whole URL
            assert re.search(r"pass\s+tunnel\.url", pasted.output), pasted.output
            return
        _carry_env(ctx, pasted)
        after = run_check(ctx, state.check_id)
        moved_on = after.status is not Status.PASS and after.fix is not None and \
            after.fix.heading != before.fix.heading and after.summary != before.summary
        assert after.status is Status.PASS or moved_on, \
            f"{name}: after pasting {to_paste} in {shell}: {after.status.value}: {after.summary}\n{pasted.output}"
    finally:
        agent = pasted.env.get("SSH_AGENT_PID")
        if agent and agent.isdigit():  # the agent the pasted fix started
            os.kill(int(agent), signal.SIGTERM)


def test_the_disk_listing_runs_in_both_shells(tmp_path: Path, stand_ins: Path) -> None:
    """resources.disk's fix lists what is largest; it must run (zsh stops on a glob that matches nothing)."""
    (tmp_path / "home" / "data").mkdir(parents=True)
    (tmp_path / "home" / "data" / "big").write_bytes(b"x" * 100_000)
    ctx = make_ctx(tmp_path, side="server", exp=expectations.load().replace(min_free_disk_gb=10**9))
    result = run_check(ctx, "resources.disk")
    assert result.status is Status.WARN
    for shell in shells():
        pasted = paste(shell, list(result.fix.commands), ctx, stand_ins)
        assert pasted.statuses and all(rc == 0 for _, rc in pasted.statuses), pasted.output
        assert "data" in pasted.output


# -- simulated laptops: macOS and Windows ------------------------------------------------------------

LAPTOP_STATES = [n for n, s in STATES.items() if "laptop" in get(s.check_id).sides]


def _simulated(name: str, tmp: Path, keyring, os_name: str) -> Context:
    state = STATES[name]
    ctx = state.setup(tmp, keyring)
    if os_name == "windows":
        ctx.platform = FakeWindowsPlatform()
        if state.windows:
            state.windows(ctx)
    else:
        ctx.platform = Platform("macos", uid=os.getuid())
    return ctx


@pytest.mark.parametrize("name", LAPTOP_STATES)
def test_simulated_windows_laptop_prints_powershell(name: str, tmp_path: Path, keyring) -> None:
    """A fake Windows laptop (no Windows here) in each failure state: its fix is PowerShell 5.1."""
    ctx = _simulated(name, tmp_path, keyring, "windows")
    result = run_check(ctx, STATES[name].check_id)
    if result.status is Status.PASS:  # mode bits mean nothing on Windows: no such state there
        assert name in ("ssh.dir: writable by others",), result.summary
        return
    assert result.fix is not None and result.fix.heading in get(STATES[name].check_id).fixes
    spaced = [p for p in ("dsmlp key",) if p in name]
    for command in result.fix.commands:
        assert lint(command, spaced) == [], (name, command)


@pytest.mark.parametrize("name", LAPTOP_STATES)
def test_simulated_macos_laptop_fix_runs_in_zsh(name: str, tmp_path: Path, keyring, stand_ins: Path,
                                                single_file: Path) -> None:
    """A macOS laptop (simulated: macOS's rules on this Linux) in each failure state: its fix is
    pasted into zsh -f -i, where the same commands run, and the check passes afterwards."""
    if "zsh" not in shells():
        pytest.skip("zsh is not installed here (scripts/system-deps.sh installs it; CI fails without it)")
    ctx = _simulated(name, tmp_path, keyring, "macos")
    result = run_check(ctx, STATES[name].check_id)
    assert result.status in (Status.FAIL, Status.WARN) and result.fix is not None
    if any("--apple-use-keychain" in c for c in result.fix.commands):
        return  # Apple's own ssh-add: read only here (see test_macos_keychain_fix)
    shutil.copy(single_file, ctx.cwd / "selfcheck.pyz")
    commands = [_fill(c) for c in result.fix.commands if not CONTACTS_LOGIN_HOST.match(c)]
    pasted = paste("zsh", commands, ctx, stand_ins, STATES[name].stdin(ctx, keyring))
    try:
        assert len(pasted.statuses) == len(commands) - (1 if STATES[name].stdin(ctx, keyring) else 0), pasted.output
        assert all(_succeeded(c, rc) for c, rc in pasted.statuses), pasted.output
        if STATES[name].check_id != "tunnel.url":
            _carry_env(ctx, pasted)
            assert run_check(ctx, STATES[name].check_id).status is Status.PASS
    finally:
        agent = pasted.env.get("SSH_AGENT_PID")
        if agent and agent.isdigit():
            os.kill(int(agent), signal.SIGTERM)


LAPTOP_MATRIX = sorted(c for c in MATRIX if "laptop" in get(c).sides and c != "env.side")


@pytest.mark.parametrize("check_id", LAPTOP_MATRIX)
def test_every_laptop_failure_state_on_simulated_windows_and_macos(check_id: str, tmp_path: Path, keyring) -> None:
    """Every laptop check's matrix failure state, reproducible here or not, on a fake Windows (no
    Windows here) and on macOS's rules: Windows prints PowerShell 5.1 that passes the lint, macOS
    prints POSIX commands (no PowerShell, no Windows programs)."""
    for os_name in ("windows", "macos"):
        folder = tmp_path / os_name
        folder.mkdir()
        ctx = MATRIX[check_id][1](folder, keyring)
        ctx.side = "laptop"
        ctx.platform = FakeWindowsPlatform() if os_name == "windows" else Platform("macos", uid=os.getuid())
        state = STATES.get(check_id)
        if os_name == "windows" and state is not None and state.windows:
            state.windows(ctx)
        result = run_check(ctx, check_id)
        assert result.status in (Status.FAIL, Status.WARN) and result.fix is not None, (os_name, result.summary)
        assert result.fix.heading in get(check_id).fixes
        for command in result.fix.commands:
            if os_name == "windows":
                assert lint(command) == [], (check_id, command)
            else:
                assert not re.search(r"\$env:|icacls|Get-|Set-|Add-Content|py selfcheck|\bpy -m", command), command


def test_macos_path_fix_makes_ssh_found(tmp_path: Path, stand_ins: Path) -> None:
    """ssh.client's macOS fix (PATH without /usr/bin), pasted into zsh and bash here, finds ssh again."""
    ctx = MATRIX["ssh.client"][1](tmp_path, {})
    ctx.platform = Platform("macos", uid=os.getuid())
    result = run_check(ctx, "ssh.client")
    assert result.status is Status.FAIL and result.fix.commands == ('export PATH="/usr/bin:$PATH"',)
    for shell in shells():
        pasted = paste(shell, list(result.fix.commands), ctx, stand_ins)
        fixed = make_ctx(tmp_path, side="laptop", env={"PATH": pasted.env["PATH"]})
        fixed.platform = Platform("macos", uid=os.getuid())
        assert run_check(fixed, "ssh.client").status is Status.PASS, pasted.output


def test_macos_keychain_fix(tmp_path: Path, keyring) -> None:
    """Read, not run: Apple's ssh-add --apple-use-keychain does not exist here. The config lines go
    in with a command, with IgnoreUnknown first so another ssh skips UseKeychain."""
    ctx = _simulated("ssh.agent", tmp_path, keyring, "macos")
    result = run_check(ctx, "ssh.agent")
    assert result.fix.heading == "Keep the passphrase in the macOS keychain"
    assert list(result.fix.commands) == [
        "ssh-add --apple-use-keychain ~/.ssh/id_ed25519",
        "printf '%s\\n' '' 'Host *' '    IgnoreUnknown UseKeychain' '    AddKeysToAgent yes' '    UseKeychain yes'"
        " >> ~/.ssh/config"]
    assert "ssh-add -K" in result.fix.text


def test_windows_port_holder_is_stopped_with_powershell(tmp_path: Path) -> None:
    """A fake Windows laptop (no Windows here) whose tunnel port is held by another program: a stand-in
    powershell.exe answers Get-NetTCPConnection; the fix stops the holder with Stop-Process."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "powershell.exe").write_text("#!/bin/sh\nprintf '4242\\tpython\\t127.0.0.1\\n'\n")
    (folder / "powershell.exe").chmod(0o755)
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        ctx = tunnel_ctx(tmp_path, port, URL(12733))
        ctx.platform = FakeWindowsPlatform()
        ctx.env = {"PATH": f"{folder}:/usr/bin:/bin"}
        result = run_check(ctx, "tunnel.local_port")
    finally:
        listener.close()
    assert result.status is Status.FAIL and "process 4242" in result.summary
    assert result.fix.commands[0] == "Stop-Process -Id 4242 -Force"
    for command in result.fix.commands:
        assert lint(command) == [], command


def test_explain_fixes_lint_as_powershell(tmp_path: Path) -> None:
    """`explain` on Windows: every pattern's fix, written for PowerShell, passes the lint."""
    shell = PowerShell(tmp_path / "home")
    for pattern in PATTERNS:
        match = pattern.regex.search(pattern.example)
        assert match, pattern.name
        for command in pattern.fix(match, shell).commands:
            assert lint(command) == [], (pattern.name, command)


def test_the_lint_catches_what_bash_habits_bring() -> None:
    """The lint itself: each of these is wrong in PowerShell 5.1."""
    bad = {
        'git add -A && git commit -m "x"': "PowerShell 7",
        'icacls "$HOME\\.ssh\\id" /grant:r "%USERNAME%:F"': "%VAR%",
        "du -sh ~/* 2>/dev/null | sort -h": "/dev/null",
        "ssh -v you@host true 2>&1 | grep -E 'Offering'": "grep",
        "puttygen key.ppk -O private-openssh -o ~/.ssh/id_rsa": "puttygen",
        "ssh -i ~/.ssh/id_ed25519 you@host": "'~'",
        "ssh-keygen -y -f key > key.pub": "UTF-16",
        "ssh-copy-id you@host": "ssh-copy-id",
        "notepad C:\\Users\\John Smith\\.ssh\\config": "not inside quotes",
        "py selfcheck.pyz --only ssh.key,tunnel": "comma",
        "ssh -N -L 8889:127.0.0.1:12733 <username>@host": "",
    }
    for command, why in bad.items():
        found = lint(command, ["John Smith"])
        if why:
            assert any(why in p for p in found), (command, found)
        else:
            assert found == [], (command, found)
    assert lint('Get-Content -Path "$HOME\\.ssh\\id_ed25519.pub" | ssh ana@host "umask 077; mkdir -p ~/.ssh && '
                "tr -d '\\r' >> ~/.ssh/authorized_keys\"") == []


# -- through a real login host ---------------------------------------------------------------------


def test_tunnel_fix_through_a_real_login_host(sshd, user, keyring, tmp_path: Path) -> None:
    """tunnel.local_port's fix (start the tunnel), pasted into bash as the student (a throwaway user
    whose ~/.ssh/config adds only the name resolution the test needs: dsmlp-login.ucsd.edu is the
    real sshd on loopback), against a real Jupyter Server under /user/<name>/. Then every tunnel
    check passes."""
    from jupyter_helpers import JupyterServer
    from realssh import Home, free_port, wait_port

    token = "ab" * 32
    server = JupyterServer(f"/user/{user.name}/", token, tmp_path / "jupyter").start()
    shell = None
    try:
        user.reset_home()
        home = Home(user, keyring)
        home.standard()
        home.put(".ssh/config", (f"Host dsmlp-login.ucsd.edu\n    HostName 127.0.0.1\n    Port {sshd.port}\n"
                                 "    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n"
                                 "    BatchMode yes\n").encode(), 0o600)
        local = free_port()
        url = f"http://dsmlp-login.ucsd.edu:{server.port}/user/{user.name}/?token={token}"
        ctx = make_ctx(tmp_path, side="laptop", exp=expectations.load().replace(local_port=local), url=url,
                       timeout=2.0)
        ctx.procfs = Path("/proc")  # the real one: which process holds the port
        ctx.secret(token)
        before = run_check(ctx, "tunnel.local_port")
        assert before.status is Status.FAIL and before.fix.heading == "Start the tunnel in a second terminal " \
            "on your computer and leave it running"
        assert list(before.fix.commands) == [f"ssh -N -L {local}:127.0.0.1:{server.port} "
                                             f"{user.name}@dsmlp-login.ucsd.edu"]
        # The second terminal: an interactive bash, as the student, that the tunnel keeps busy.
        shell = subprocess.Popen(["bash", "--noprofile", "--norc", "-i"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, user=user.uid, group=user.gid,
                                 extra_groups=[], cwd=str(user.home), start_new_session=True,
                                 env={"HOME": str(user.home), "USER": user.name, "PATH": "/usr/bin:/bin"})
        assert shell.stdin is not None
        shell.stdin.write((before.fix.commands[0] + "\n").encode())
        shell.stdin.flush()
        assert wait_port(local, timeout=30, proc=shell), "the pasted tunnel did not start"
        from checks.registry import select

        ctx._memo.clear()
        results = {r.id: r for r in run_specs(ctx, select(["tunnel"])).results}
        assert {k: r.status for k, r in results.items() if k != "tunnel.server"} == {
            "tunnel.url": Status.PASS, "tunnel.local_port": Status.PASS, "tunnel.jupyter": Status.PASS,
            "tunnel.user": Status.PASS, "tunnel.token": Status.PASS}, {k: r.summary for k, r in results.items()}
    finally:
        if shell is not None and shell.poll() is None:
            # The terminal closes: SIGHUP to the group we started (the shell and the pasted tunnel);
            # an interactive bash ignores SIGTERM.
            os.killpg(shell.pid, signal.SIGHUP)
            try:
                shell.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(shell.pid, signal.SIGKILL)
                shell.wait(timeout=15)
        if shell is not None and shell.stderr is not None:
            shell.stderr.close()
        server.stop()


def test_an_undeclared_fix_is_caught(declared_fixes_only: List[str]) -> None:
    """The session-wide guard (conftest.declared_fixes_only) sees a fix its check does not declare."""
    from checks.model import Fix, failed

    spec = get("env.python").replace(func=lambda ctx: failed("x", Fix("Do something else:", ["true"])))
    before = len(declared_fixes_only)
    run_specs(make_ctx(), [spec])
    assert declared_fixes_only[before:] == ["env.python: 'Do something else:'"]
    del declared_fixes_only[before:]  # caught: not a failure of the session
