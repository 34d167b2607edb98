"""Differential tests: the SSH checks' verdicts against what real OpenSSH does.

For every permission, ownership and format scenario the checks judge, a real `ssh` client
logs in (or fails to) to a real `sshd` on loopback, as a throwaway user whose home holds the
scenario's files. The check's verdict must agree: PASS or WARN where OpenSSH lets the user in,
FAIL where it refuses. Each scenario also states what OpenSSH does, so the table documents it
and a change in OpenSSH's behaviour is noticed.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

import pytest
from helpers import make_ctx
from realssh import Home, Sshd, SshUser

from checks import expectations
from checks.model import Status
from checks.platform import Platform
from checks.registry import get
from checks.runner import run_specs

pytestmark = pytest.mark.slow

# -- building homes ---------------------------------------------------------------------------

NOBODY = 65534
USERS_GID = 100  # Debian's shared "users" group: not the user's own


def _crlf(h: Home) -> None:
    p = h.standard()
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))


def _no_newline(h: Home) -> None:
    p = h.standard()
    p.write_bytes(p.read_bytes().rstrip(b"\n"))


def _bom(h: Home) -> None:
    p = h.standard()
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())


def _leading_blank(h: Home) -> None:
    p = h.standard()
    p.write_bytes(b"\n" + p.read_bytes())


def _ppk(h: Home) -> None:
    """A PuTTY key file under ssh's default name (its public lines are the real key's)."""
    h.standard()
    blob = h.pub("ed25519").split()[1]
    body = base64.b64encode(os.urandom(64)).decode()
    text = ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: test\n"
            f"Public-Lines: 1\n{blob.decode()}\nPrivate-Lines: 1\n{body}\nPrivate-MAC: {'0' * 64}\n")
    h.put(".ssh/id_ed25519", text.encode(), 0o600)


def _pub_mismatch(h: Home) -> None:
    h.standard()
    h.put(".ssh/id_ed25519.pub", h.pub("ed25519_b"), 0o644)


def _config(mode: int, uid: Optional[int] = None, gid: Optional[int] = None) -> Callable[[Home], None]:
    def setup(h: Home) -> None:
        h.standard()
        p = h.put(".ssh/config", b"Host *\n    ServerAliveInterval 30\n", mode, uid)
        if gid is not None:
            os.chown(p, -1, gid)
    return setup


def _key_mode(mode: int, uid: Optional[int] = None) -> Callable[[Home], None]:
    def setup(h: Home) -> None:
        h.standard()
        p = h.ssh / "id_ed25519"
        os.chmod(p, mode)
        if uid is not None:
            os.chown(p, uid, -1)
    return setup


def _key_type(key: str, name: str) -> Callable[[Home], None]:
    return lambda h: h.standard(key, name)


def _mode(rel: str, mode: int, uid: Optional[int] = None, gid: Optional[int] = None) -> Callable[[Home], None]:
    def setup(h: Home) -> None:
        h.standard()
        p = h.user.home / rel if rel else h.user.home
        os.chmod(p, mode)
        if uid is not None or gid is not None:
            os.chown(p, -1 if uid is None else uid, -1 if gid is None else gid)
    return setup


def _ak(text: Callable[[Home], bytes]) -> Callable[[Home], None]:
    def setup(h: Home) -> None:
        h.standard()
        h.authorize(text=text(h))
    return setup


def _ak_dir(h: Home) -> None:
    h.standard()
    (h.ssh / "authorized_keys").unlink()
    (h.ssh / "authorized_keys").mkdir(mode=0o700)
    h.user.chown(h.ssh / "authorized_keys")


def _ak_missing(h: Home) -> None:
    h.standard()
    (h.ssh / "authorized_keys").unlink()


def _ak_symlink(h: Home) -> None:
    h.standard()
    real = h.put(".ssh/keys.real", h.pub("ed25519"), 0o600)
    (h.ssh / "authorized_keys").unlink()
    (h.ssh / "authorized_keys").symlink_to(real.name)


def _wrapped(h: Home) -> bytes:
    kind, b64, comment = h.pub("ed25519").split()
    return kind + b" " + b64[:40] + b"\n" + b64[40:] + b" " + comment + b"\n"


def _junk_after(h: Home) -> bytes:
    """A stray word on the line after a whole key: sshd skips the word and accepts the key."""
    return h.pub("ed25519") + b"helloworldjunk\n"


def _junk_before(h: Home) -> bytes:
    return b"helloworldjunk\n" + h.pub("ed25519")


def _damaged_before(h: Home) -> bytes:
    """A key line cut short, then the whole key: the whole key is not taken for its continuation."""
    kind, b64, _ = h.pub("ed25519_b").split()
    return kind + b" " + b64[:30] + b"\n" + h.pub("ed25519")


def _ak_utf16(h: Home) -> None:
    h.standard()
    h.authorize(text=b"\xff\xfe" + h.pub("ed25519").decode().encode("utf-16-le"))


def _ak_bom_first(h: Home) -> None:
    h.standard()
    h.authorize(text=b"\xef\xbb\xbf" + h.pub("ed25519"))


def _ak_bom_comment(h: Home) -> None:
    h.standard()
    h.authorize(text=b"\xef\xbb\xbf# my keys\n" + h.pub("ed25519"))


def _key_empty(h: Home) -> None:
    h.standard()
    h.put(".ssh/id_ed25519", b"", 0o600)


def _key_folder(h: Home) -> None:
    h.standard()
    (h.ssh / "id_ed25519").unlink()
    (h.ssh / "id_ed25519").mkdir(mode=0o700)
    h.user.chown(h.ssh / "id_ed25519")


def _rfc4716(h: Home) -> bytes:
    b64 = h.pub("ed25519").split()[1].decode()
    lines = [b64[i:i + 70] for i in range(0, len(b64), 70)]
    return ("---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"test\"\n" + "\n".join(lines)
            + "\n---- END SSH2 PUBLIC KEY ----\n").encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    check: str  # the check whose verdict is compared with OpenSSH's
    setup: Callable[[Home], None]
    login: bool  # what real OpenSSH does: True = it lets the user in
    side: str = "laptop"


SCENARIOS = [
    # Client: private key permissions (authfile.c sshkey_perm_ok: st_uid == getuid() && mode & 077).
    Scenario("key 0600", "ssh.key.permissions", _key_mode(0o600), True),
    Scenario("key 0400", "ssh.key.permissions", _key_mode(0o400), True),
    Scenario("key 0700", "ssh.key.permissions", _key_mode(0o700), True),
    Scenario("key 0640", "ssh.key.permissions", _key_mode(0o640), False),
    Scenario("key 0644", "ssh.key.permissions", _key_mode(0o644), False),
    Scenario("key 0604", "ssh.key.permissions", _key_mode(0o604), False),
    Scenario("key 0660", "ssh.key.permissions", _key_mode(0o660), False),
    Scenario("key 0610 (group execute)", "ssh.key.permissions", _key_mode(0o610), False),
    Scenario("key 0601 (other execute)", "ssh.key.permissions", _key_mode(0o601), False),
    Scenario("key 0755", "ssh.key.permissions", _key_mode(0o755), False),
    Scenario("key 0644 owned by root (not checked)", "ssh.key.permissions", _key_mode(0o644, uid=0), True),
    # Client: key file formats (sshkey.c private2_uudecode, then OpenSSL's PEM reader).
    Scenario("openssh format", "ssh.key.format", lambda h: h.standard(), True),
    Scenario("CRLF line endings", "ssh.key.format", _crlf, False),
    Scenario("no final newline", "ssh.key.format", _no_newline, False),
    Scenario("byte-order mark", "ssh.key.format", _bom, False),
    Scenario("blank line before BEGIN", "ssh.key.format", _leading_blank, False),
    Scenario("PEM RSA", "ssh.key.format", _key_type("rsa_pem", "id_rsa"), True),
    Scenario("PKCS#8 RSA", "ssh.key.format", _key_type("rsa_pkcs8", "id_rsa"), True),
    Scenario("PuTTY .ppk under a default name", "ssh.key.format", _ppk, False),
    # Client: types OpenSSH refuses (DSA is off by default since 7.0).
    Scenario("DSA key", "ssh.key.type", _key_type("dsa", "id_dsa"), False),
    Scenario("ed25519 key", "ssh.key.type", _key_type("ed25519", "id_ed25519"), True),
    Scenario("ECDSA key", "ssh.key.type", _key_type("ecdsa", "id_ecdsa"), True),
    Scenario("RSA 3072 key", "ssh.key.type", _key_type("rsa3072", "id_rsa"), True),
    Scenario("RSA 2048 key (warn)", "ssh.key.type", _key_type("rsa2048", "id_rsa"), True),
    # Client: something that is no key at the default name (ssh-keygen would offer to overwrite it).
    Scenario("empty id_ed25519", "ssh.key.present", _key_empty, False),
    Scenario("id_ed25519 is a folder", "ssh.key.present", _key_folder, False),
    # Client: the .pub beside the key is another key's.
    Scenario(".pub of another key", "ssh.key.pair", _pub_mismatch, False),
    # Client: ~/.ssh/config (readconf.c: owner root or user, and mode & 022 == 0).
    Scenario("config 0600", "ssh.config", _config(0o600), True),
    Scenario("config 0644", "ssh.config", _config(0o644), True),
    Scenario("config 0664, own group (Debian's ssh accepts; warn)", "ssh.config", _config(0o664), True),
    Scenario("config 0664, group users", "ssh.config", _config(0o664, gid=USERS_GID), False),
    Scenario("config 0666", "ssh.config", _config(0o666), False),
    Scenario("config 0602", "ssh.config", _config(0o602), False),
    Scenario("config owned by root", "ssh.config", _config(0o644, uid=0), True),
    Scenario("config owned by nobody", "ssh.config", _config(0o644, uid=NOBODY), False),
    # Server: StrictModes (misc.c safe_path; Debian accepts a group that is the user's alone).
    Scenario("home 0755, .ssh 0700, keys 0600", "ssh.home.permissions", lambda h: h.standard(), True, "server"),
    Scenario("home 0775, own group", "ssh.home.permissions", _mode("", 0o775), True, "server"),
    Scenario("home 0775, group users", "ssh.home.permissions", _mode("", 0o775, gid=USERS_GID), False, "server"),
    Scenario("home 0757", "ssh.home.permissions", _mode("", 0o757), False, "server"),
    Scenario("home owned by nobody", "ssh.home.permissions", _mode("", 0o755, uid=NOBODY), False, "server"),
    Scenario(".ssh 0755", "ssh.home.permissions", _mode(".ssh", 0o755), True, "server"),
    Scenario(".ssh 0777", "ssh.home.permissions", _mode(".ssh", 0o777), False, "server"),
    Scenario(".ssh 0770, group users", "ssh.home.permissions", _mode(".ssh", 0o770, gid=USERS_GID), False, "server"),
    Scenario(".ssh owned by nobody", "ssh.home.permissions", _mode(".ssh", 0o700, uid=NOBODY), False, "server"),
    Scenario("authorized_keys 0644", "ssh.home.permissions", _mode(".ssh/authorized_keys", 0o644), True, "server"),
    Scenario("authorized_keys 0666", "ssh.home.permissions", _mode(".ssh/authorized_keys", 0o666), False, "server"),
    Scenario("authorized_keys 0620, own group", "ssh.home.permissions", _mode(".ssh/authorized_keys", 0o620), True,
             "server"),
    Scenario("authorized_keys owned by root", "ssh.home.permissions", _mode(".ssh/authorized_keys", 0o644, uid=0), True,
             "server"),
    Scenario("authorized_keys owned by nobody", "ssh.home.permissions",
             _mode(".ssh/authorized_keys", 0o600, uid=NOBODY), False, "server"),
    Scenario("authorized_keys is a symlink", "ssh.home.permissions", _ak_symlink, True, "server"),
    # Server: authorized_keys content (auth2-pubkeyfile.c, sshkey_read).
    Scenario("authorized_keys holds the key", "ssh.authorized_keys", lambda h: h.standard(), True, "server"),
    Scenario("authorized_keys missing", "ssh.authorized_keys", _ak_missing, False, "server"),
    Scenario("authorized_keys is a folder", "ssh.authorized_keys", _ak_dir, False, "server"),
    Scenario("key wrapped over two lines", "ssh.authorized_keys", _ak(_wrapped), False, "server"),
    Scenario("PuTTY RFC 4716 block", "ssh.authorized_keys", _ak(_rfc4716), False, "server"),
    Scenario("private key pasted", "ssh.authorized_keys", _ak(lambda h: h.keyring["ed25519"].read_bytes()), False,
             "server"),
    Scenario("CRLF authorized_keys (warn)", "ssh.authorized_keys",
             _ak(lambda h: h.pub("ed25519").replace(b"\n", b"\r\n")), True, "server"),
    Scenario("options before the key", "ssh.authorized_keys",
             _ak(lambda h: b'no-agent-forwarding,environment="A=b c" ' + h.pub("ed25519")), True, "server"),
    Scenario("other key only", "ssh.authorized_keys", _ak(lambda h: h.pub("ed25519_b")), False, "server"),
    Scenario("junk line after the key", "ssh.authorized_keys", _ak(_junk_after), True, "server"),
    Scenario("junk line before the key", "ssh.authorized_keys", _ak(_junk_before), True, "server"),
    Scenario("a key cut short, then the whole key", "ssh.authorized_keys", _ak(_damaged_before), True, "server"),
    Scenario("authorized_keys saved as UTF-16", "ssh.authorized_keys", _ak_utf16, False, "server"),
    Scenario("byte-order mark before the key", "ssh.authorized_keys", _ak_bom_first, False, "server"),
    Scenario("byte-order mark before a comment, then the key", "ssh.authorized_keys", _ak_bom_comment, True,
             "server"),
]


def _verdict(user: SshUser, scenario: Scenario, pubkey: Optional[str]) -> Status:
    ctx = make_ctx(side=scenario.side, env={"PATH": "/usr/bin:/bin"}, pubkey=pubkey)
    ctx.home = user.home
    ctx.platform = Platform("linux", uid=user.uid)
    spec = get(scenario.check)
    deps = [get(d) for d in spec.requires]
    report = run_specs(ctx, deps + [spec])
    return report[scenario.check]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_verdict_agrees_with_openssh(scenario: Scenario, user: SshUser, sshd: Sshd, keyring) -> None:
    user.reset_home()
    home = Home(user, keyring)
    scenario.setup(home)
    # The real client, as the user, offering ssh's default identity files (no -i): the same
    # files the laptop checks look at.
    logged_in, stderr = sshd.login(user)
    pubkey = home.pub("ed25519").decode() if scenario.check == "ssh.authorized_keys" else None
    result = _verdict(user, scenario, pubkey)
    assert logged_in == scenario.login, f"OpenSSH did not behave as the table says: {stderr}"
    accepted = result.status in (Status.PASS, Status.WARN)
    assert accepted == logged_in, f"{scenario.check} said {result.status.value}: {result.summary}"
    if not logged_in:
        assert result.fix is not None and result.fix.text


def test_scenario_table_is_large_enough() -> None:
    assert len(SCENARIOS) >= 30
    judged = {s.check for s in SCENARIOS}
    assert {"ssh.key.permissions", "ssh.key.format", "ssh.config", "ssh.home.permissions",
            "ssh.authorized_keys"} <= judged


def test_restrict_option_refuses_the_tunnel(user: SshUser, sshd: Sshd, keyring) -> None:
    """`restrict` lets the user log in but refuses `ssh -L`: the check fails for the tunnel's sake."""
    from realssh import free_port

    user.reset_home()
    home = Home(user, keyring)
    home.standard()
    home.authorize(text=b"restrict " + home.pub("ed25519"))
    local = free_port()
    argv = sshd.ssh_argv(user, extra=["-L", f"127.0.0.1:{local}:127.0.0.1:{sshd.port}", "-o",
                                      "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO"], command=["sleep", "3"])
    proc = subprocess.Popen(argv, user=user.uid, group=user.gid, extra_groups=[], env={"HOME": str(user.home),
                            "PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        from realssh import wait_port

        wait_port(local, timeout=10)
        import socket

        with socket.create_connection(("127.0.0.1", local), timeout=5) as s:
            s.settimeout(5)
            data = s.recv(100)  # sshd's banner if the forward worked; nothing if it was refused
    finally:
        proc.wait(timeout=20)
    stderr = proc.stderr.read().decode()
    assert data == b"" and "administratively prohibited" in stderr
    result = _verdict(user, Scenario("restrict", "ssh.authorized_keys", lambda h: None, True, "server"),
                      home.pub("ed25519").decode())
    assert result.status is Status.FAIL and "restrict" in result.summary


def test_login_check_against_a_real_sshd(user: SshUser, sshd: Sshd, keyring) -> None:
    """ssh.login (--live) logs in through the config to the real sshd, and explains a refusal."""
    user.reset_home()
    home = Home(user, keyring)
    home.standard()
    home.put(".ssh/config", (f"Host {expectations.load().login_host}\n    HostName 127.0.0.1\n"
                             f"    Port {sshd.port}\n    UserKnownHostsFile /dev/null\n").encode(), 0o600)
    ctx = make_ctx(side="laptop", env={"PATH": "/usr/bin:/bin", "HOME": str(user.home)}, live=True, user=user.name)
    ctx.home = user.home
    ctx.platform = Platform("linux", uid=user.uid)
    ctx_run = ctx.run

    def as_user(argv, timeout=10.0, input=None, env=None):  # the check's ssh runs as the user, like a student's would
        proc = user.run(list(argv), timeout=timeout, env=env)
        from checks.context import Completed

        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    ctx.run = as_user  # type: ignore[method-assign]
    good = run_specs(ctx, [get("ssh.client"), get("ssh.login")])["ssh.login"]
    assert good.status is Status.PASS, good.summary
    home.authorize("ed25519_b")
    ctx._memo.clear()
    bad = run_specs(ctx, [get("ssh.client"), get("ssh.login")])["ssh.login"]
    assert bad.status is Status.FAIL and "refused your key" in bad.summary
    assert any(c.startswith("ssh-copy-id") for c in bad.fix.commands)
    ctx.run = ctx_run


# -- --fix, run by the student themself -----------------------------------------------------------

def _user_python(user: SshUser) -> str:
    """A Python the throwaway user may run (the test's own may live under root's home)."""
    import shutil
    import sys

    from realssh import require

    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        try:
            if candidate and user.run([candidate, "-c", "pass"], timeout=30).returncode == 0:
                return candidate
        except OSError:  # not executable by that user
            continue
    require(False, "no Python that the throwaway user may run")
    return ""


def test_fix_as_a_normal_user_tightens_only_what_it_may(user: SshUser, sshd: Sshd, keyring, tmp_path) -> None:
    """`selfcheck.pyz --fix` run by the student (not root) tightens their key, ~/.ssh, ~ and
    authorized_keys, so that the real ssh and sshd let them in; it leaves a shared 1777 folder
    reached through a link in ~/.ssh alone, and a file it may not change (root's) is a fail
    with the command to run, never an error."""
    import json
    import shutil
    import stat
    import sys
    import tempfile
    from pathlib import Path

    from conftest import ROOT

    user.reset_home()
    home = Home(user, keyring)
    home.standard()
    os.chmod(home.ssh / "id_ed25519", 0o644)
    os.chmod(home.ssh / "authorized_keys", 0o666)
    os.chmod(home.ssh, 0o777)
    os.chmod(user.home, 0o777)
    home.put(".ssh/config", b"Host *\n    ServerAliveInterval 30\n", 0o666, uid=0)  # root's: not the student's to change
    shared = Path(tempfile.mkdtemp(prefix="selfcheck-shared-"))
    try:
        os.chmod(shared, 0o1777)
        victim = shared / "id_rsa"
        victim.write_bytes(keyring["rsa3072"].read_bytes())
        os.chmod(victim, 0o666)
        user.chown(victim)
        (home.ssh / "id_rsa").symlink_to(victim)  # a default key name, through a link to the shared folder
        os.lchown(home.ssh / "id_rsa", user.uid, user.gid)
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            from build_pyz import build
        finally:
            sys.path.remove(str(ROOT / "scripts"))
        pyz = build(tmp_path / "selfcheck.pyz")
        shutil.copy(pyz, user.home / "selfcheck.pyz")
        os.chmod(user.home / "selfcheck.pyz", 0o644)
        python = _user_python(user)
        runs = {}
        for side, only in (("laptop", "ssh"), ("server", "ssh.home.permissions")):
            proc = user.run([python, str(user.home / "selfcheck.pyz"), "--side", side, "--only", only, "--fix",
                             "--json"], timeout=120)
            assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
            assert proc.returncode in (0, 1), proc.stderr
            runs[side] = {r["id"]: r for r in json.loads(proc.stdout)["results"]}
            assert not [r for r in runs[side].values() if r["status"] == "error"], runs[side]
        mode = lambda p: stat.S_IMODE(os.lstat(p).st_mode)  # noqa: E731
        assert mode(home.ssh / "id_ed25519") == 0o600
        assert mode(home.ssh) == 0o755 and mode(user.home) == 0o755
        assert mode(home.ssh / "authorized_keys") == 0o644
        # Left alone: the shared folder and the file behind the link, and root's config.
        assert mode(shared) == 0o1777 and mode(victim) == 0o666
        assert mode(home.ssh / "config") == 0o666
        config = runs["laptop"]["ssh.config"]
        assert config["status"] == "fail" and config["fix"]["commands"], config
        (home.ssh / "config").unlink()  # root's 0666 config makes ssh itself stop
        (home.ssh / "id_rsa").unlink()
        logged_in, stderr = sshd.login(user)
        assert logged_in, stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_fix_refused_by_the_kernel_is_a_reason_not_a_crash(user: SshUser) -> None:
    """Where chmod itself is not allowed (EPERM: a normal user and root's file), Platform.tighten
    says so; run as the throwaway user, with the owner check told the file is theirs."""
    user.reset_home()
    ssh_dir = user.home / ".ssh"
    ssh_dir.mkdir(mode=0o755)
    user.chown(ssh_dir)
    target = ssh_dir / "config"
    target.write_text("Host *\n")
    os.chmod(target, 0o666)  # root's
    from conftest import ROOT

    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from checks.platform import FixRefused, Platform\n"
            "try:\n    Platform('linux', uid=0).tighten(Path(sys.argv[2]), Path(sys.argv[3]), 0o644)\n"
            "except FixRefused as exc:\n    print('refused:', exc.reason)\n")
    python = _user_python(user)
    proc = user.run([python, "-S", "-c", code, str(ROOT), str(user.home), str(target)], timeout=60,
                    env={"PYTHONDONTWRITEBYTECODE": "1"})
    if "No module named" in proc.stderr:  # the user cannot read this checkout: nothing to prove with
        import pytest as _pytest

        _pytest.skip("the throwaway user cannot read the checkout")
    assert proc.stdout.strip() == "refused: not allowed (Operation not permitted)", proc.stdout + proc.stderr
    import stat

    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666
