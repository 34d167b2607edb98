"""SSH checks on fixture homes: names ssh never tries, PuTTY keys, --fix, the agent, Windows ACLs.

The verdicts themselves are proven against real OpenSSH in test_ssh_real.py; these tests cover
what a real sshd cannot show (Windows) and what the checks do to files (nothing, unless --fix).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict

import pytest
from fakes import STUDENT_SID, FakeWindowsPlatform
from helpers import make_ctx
from realssh import require

from checks.model import Status
from checks.platform import Platform
from checks.registry import select
from checks.runner import run_specs


def laptop(tmp_path: Path, **options):
    ctx = make_ctx(tmp_path, side="laptop", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, **options)
    ctx.platform = Platform("linux", uid=os.getuid())
    return ctx


def home_with(tmp_path: Path, keyring: Dict[str, Path], key: str = "ed25519", name: str = "id_ed25519") -> Path:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    os.chmod(ssh, 0o700)
    shutil.copy(keyring[key], ssh / name)
    shutil.copy(str(keyring[key]) + ".pub", ssh / f"{name}.pub")
    os.chmod(ssh / name, 0o600)
    return ssh


def run_ssh(ctx):
    return run_specs(ctx, select(["ssh"]))


def test_key_under_a_name_ssh_never_tries(tmp_path, keyring) -> None:
    ssh = home_with(tmp_path, keyring, name="dsmlp_key")
    result = run_ssh(laptop(tmp_path))["ssh.key.present"]
    assert result.status is Status.FAIL
    assert "never tries ~/.ssh/dsmlp_key" in result.summary
    # The lines are written by a command (and shown in the text), not given as "commands".
    assert list(result.fix.commands) == [
        "printf '%s\\n' '' 'Host dsmlp-login.ucsd.edu' '    IdentityFile ~/.ssh/dsmlp_key' >> ~/.ssh/config"]
    assert 'the lines "Host dsmlp-login.ucsd.edu" and "IdentityFile ~/.ssh/dsmlp_key" to ~/.ssh/config' in result.fix.text
    # ... and once the config names it, ssh -G lists it and the check passes.
    (ssh / "config").write_text("Host dsmlp-login.ucsd.edu\n    IdentityFile ~/.ssh/dsmlp_key\n")
    os.chmod(ssh / "config", 0o600)
    result = run_ssh(laptop(tmp_path))["ssh.key.present"]
    assert result.status is Status.PASS and "~/.ssh/dsmlp_key" in result.summary


def test_putty_key_is_recognised_and_explained(tmp_path, keyring) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    blob = Path(str(keyring["ed25519"]) + ".pub").read_text().split()[1]
    (ssh / "mykey.ppk").write_text(f"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\nComment: x\n"
                                   f"Public-Lines: 1\n{blob}\nKey-Derivation: Argon2id\nPrivate-Lines: 1\nAAAA\n")
    result = run_ssh(laptop(tmp_path))["ssh.key.present"]
    assert result.status is Status.FAIL and "PuTTY key" in result.summary
    assert result.fix.commands[0].startswith("puttygen ~/.ssh/mykey.ppk -O private-openssh")


def test_no_key_at_all(tmp_path) -> None:
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    report = run_ssh(laptop(tmp_path))
    assert list(report["ssh.key.present"].fix.commands) == ["ssh-keygen -t ed25519"]
    assert report["ssh.key.permissions"].summary == "blocked by: ssh.key.present"


def test_encrypted_key_metadata_is_read_without_the_passphrase(tmp_path, keyring) -> None:
    home_with(tmp_path, keyring, key="ed25519_pass")
    report = run_ssh(laptop(tmp_path))
    assert "passphrase-protected" in report["ssh.key.format"].summary
    assert report["ssh.key.type"].status is Status.PASS
    assert report["ssh.key.pair"].status is Status.PASS


def test_agent_with_a_real_ssh_agent(tmp_path, keyring) -> None:
    require(shutil.which("ssh-agent") is not None, "ssh-agent is missing (openssh-client)")
    home_with(tmp_path, keyring, key="ed25519_pass")
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            import time

            time.sleep(0.05)
        env = {"PATH": os.environ["PATH"], "SSH_AUTH_SOCK": str(sock)}
        ctx = laptop(tmp_path)
        ctx.env = env
        assert run_ssh(ctx)["ssh.agent"].status is Status.WARN
        # Load the key with its passphrase, as the student would (ssh-add reads it from SSH_ASKPASS).
        askpass = tmp_path / "askpass.sh"
        askpass.write_text("#!/bin/sh\necho 'correct horse'\n")
        os.chmod(askpass, 0o700)
        added = subprocess.run(["ssh-add", str(tmp_path / "home/.ssh/id_ed25519")], capture_output=True, timeout=20,
                               env={**env, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"},
                               stdin=subprocess.DEVNULL)
        assert added.returncode == 0, added.stderr
        ctx = laptop(tmp_path)
        ctx.env = env
        assert run_ssh(ctx)["ssh.agent"].status is Status.PASS
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def _snapshot(root: Path):
    return {str(p): (p.read_bytes() if p.is_file() else None, p.stat().st_mode, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def loose_home(tmp_path, keyring) -> Path:
    """A home whose key, ~/.ssh and config are all too open."""
    ssh = home_with(tmp_path, keyring)
    os.chmod(ssh / "id_ed25519", 0o644)
    os.chmod(ssh, 0o777)
    (ssh / "config").write_text("Host *\n")
    os.chmod(ssh / "config", 0o666)
    return ssh


def test_without_fix_nothing_changes(tmp_path, keyring) -> None:
    loose_home(tmp_path, keyring)
    before = _snapshot(tmp_path / "home")
    report = run_ssh(laptop(tmp_path))
    assert report["ssh.key.permissions"].status is Status.FAIL
    assert _snapshot(tmp_path / "home") == before


def test_fix_only_tightens_permissions_and_says_so(tmp_path, keyring) -> None:
    ssh = loose_home(tmp_path, keyring)
    contents = {p: p.read_bytes() for p in ssh.iterdir() if p.is_file()}
    ctx = laptop(tmp_path, fix=True)
    run_ssh(ctx)
    assert oct(os.stat(ssh / "id_ed25519").st_mode & 0o777) == oct(0o600)
    assert os.stat(ssh).st_mode & 0o022 == 0
    assert os.stat(ssh / "config").st_mode & 0o022 == 0
    assert {p: p.read_bytes() for p in ssh.iterdir() if p.is_file()} == contents  # no key created, changed or removed
    assert any("chmod 0600" in c and "id_ed25519" in c for c in ctx.changes)
    assert len(ctx.changes) == 3
    # A second run has nothing left to do.
    again = laptop(tmp_path, fix=True)
    report = run_ssh(again)
    assert again.changes == [] and report["ssh.key.permissions"].status is Status.PASS


def test_windows_acl_rule_through_the_fake_platform(tmp_path, keyring) -> None:
    """Windows cannot run here: Win32-OpenSSH's ACL rule is checked through a fake platform layer
    whose access lists are SDDL strings, read by the real parser (more in test_windows.py)."""
    ssh = home_with(tmp_path, keyring)
    key = str(ssh / "id_ed25519")
    me = STUDENT_SID
    fake = FakeWindowsPlatform(acls={key: f"O:{me}D:PAI(A;;FA;;;{me})(A;ID;FA;;;SY)(A;;0x1200a9;;;BU)"})
    ctx = laptop(tmp_path)
    ctx.platform = fake
    result = run_ssh(ctx)["ssh.key.permissions"]
    assert result.status is Status.FAIL and "Users (S-1-5-32-545)" in result.summary
    assert list(result.fix.commands) == [
        'icacls "$HOME\\.ssh\\id_ed25519" /inheritance:r /grant:r "$($env:USERDOMAIN)\\$($env:USERNAME):F" '
        '/remove:g "*S-1-5-32-545"']
    assert not any("chmod" in c or "%USERNAME%" in c for c in result.fix.commands)
    fake.acls[key] = f"O:{me}D:PAI(A;;FA;;;{me})(A;;FA;;;BA)"
    ctx = laptop(tmp_path)
    ctx.platform = fake
    assert run_ssh(ctx)["ssh.key.permissions"].status is Status.PASS


def test_windows_config_may_be_read_by_others_but_not_written(tmp_path, keyring) -> None:
    ssh = home_with(tmp_path, keyring)
    (ssh / "config").write_text("Host *\n")
    cfg = str(ssh / "config")
    me = STUDENT_SID
    fake = FakeWindowsPlatform(acls={cfg: f"O:{me}D:AI(A;ID;FA;;;{me})(A;ID;FR;;;BU)"})
    ctx = laptop(tmp_path)
    ctx.platform = fake
    assert run_ssh(ctx)["ssh.config"].status is Status.PASS
    fake.acls[cfg] = f"O:{me}D:AI(A;ID;FA;;;{me})(A;;0x1301bf;;;WD)"
    ctx = laptop(tmp_path)
    ctx.platform = fake
    result = run_ssh(ctx)["ssh.config"]
    assert result.status is Status.FAIL and "Everyone (S-1-1-0)" in result.summary
    assert result.fix.commands[0].endswith('/remove:g "*S-1-1-0"')


def test_fingerprint_matches_ssh_keygen(keyring) -> None:
    from checks.probes import keys

    for name in ("ed25519", "ecdsa", "rsa3072", "ed25519_pass"):
        out = subprocess.run(["ssh-keygen", "-l", "-f", str(keyring[name]) + ".pub"], capture_output=True, text=True,
                             timeout=20).stdout.split()
        info = keys.read_key_file(keyring[name])
        assert info.public.fingerprint == out[1], name
        assert str(info.bits) == out[0], name


def test_authorized_keys_with_pubkey_fingerprint(tmp_path, keyring) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    pub = Path(str(keyring["ed25519"]) + ".pub").read_text()
    (ssh / "authorized_keys").write_text(pub)
    fp = subprocess.run(["ssh-keygen", "-l", "-f", str(keyring["ed25519"]) + ".pub"], capture_output=True, text=True,
                        timeout=20).stdout
    ctx = make_ctx(tmp_path, side="server", pubkey=fp)
    assert run_specs(ctx, select(["ssh.authorized_keys"]))["ssh.authorized_keys"].status is Status.PASS
    other = Path(str(keyring["ed25519_b"]) + ".pub")
    ctx = make_ctx(tmp_path, side="server", pubkey=str(other))
    result = run_specs(ctx, select(["ssh.authorized_keys"]))["ssh.authorized_keys"]
    assert result.status is Status.FAIL and "is not in ~/.ssh/authorized_keys" in result.summary


@pytest.mark.parametrize("text, check", [
    ("WARNING: UNPROTECTED PRIVATE KEY FILE!\nPermissions 0644 for '/home/u/.ssh/id_rsa' are too open.", "ssh.key.permissions"),
    ("Bad owner or permissions on /home/u/.ssh/config", "ssh.config"),
    ('Load key "/home/u/.ssh/id_ed25519": invalid format', "ssh.key.format"),
    ("u@dsmlp-login.ucsd.edu: Permission denied (publickey).", "ssh.key.present"),
    ("Permission denied (publickey,gssapi-keyex,gssapi-with-mic,password).", "ssh.key.present"),
    ("@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @", "ssh.login"),
    ("ssh: connect to host dsmlp-login.ucsd.edu port 22: Connection timed out", "ssh.login"),
    ("ssh: Could not resolve hostname dsmlp-logn.ucsd.edu: Name or service not known", "ssh.login"),
    ("channel 3: open failed: connect failed: Connection refused", "tunnel.jupyter"),
    ("bind [127.0.0.1]:8889: Address already in use\nchannel_setup_fwd_listener_tcpip: cannot listen to port: 8889",
     "tunnel.local_port"),
    ("channel 2: open failed: administratively prohibited: open failed", "ssh.authorized_keys"),
])
def test_explain_maps_pasted_errors_to_a_check(text, check) -> None:
    from checks import explain

    found = explain(text)
    assert found.matches and found.matches[0].pattern.check == check
    from checks.registry import get

    get(check)  # the check it points to exists
