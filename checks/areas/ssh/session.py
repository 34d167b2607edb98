"""How ssh connects to the login host: `ssh.config`, `ssh.agent` and (with --live) `ssh.login`."""

from __future__ import annotations

import re
from pathlib import Path

from ...context import Context
from ...model import Fix, Verdict, failed, passed, skipped, warned
from ...probes.acl import acl_problems
from ...probes.jupyter import cluster_user
from ...probes.openssh import loadable_keys, ssh_config, ssh_version
from ...registry import check
from ._common import DOCS, home_rel, icacls_fix, shell_path, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List


@check("ssh.config", title="ssh config file", sides=["laptop"], docs=f"{DOCS}#permissions",
       fixes=("Make the file writable only by you", "Take the file back", "Fix the line ssh complains about"))
def config(ctx: Context) -> Verdict:
    """Is ~/.ssh/config yours and writable only by you, and can ssh read it?

    ssh stops with "Bad owner or permissions" when others can write to it.
    """
    path = ctx.home / ".ssh" / "config"
    info = ctx.platform.stat(path)
    rel = home_rel(ctx, path)
    if not info.exists:
        return passed(f"no {rel} (you do not need one)", observed="none")
    if ctx.platform.is_windows:
        principals, owners = acl_problems(ctx, path, read_ok=True)
        if principals or owners:
            return failed(f"{path} can be changed by {', '.join(principals + owners)}: ssh stops with "
                          "\"Bad owner or permissions\"",
                          Fix("Make the file writable only by you (PowerShell):", icacls_fix(ctx, path, principals)),
                          observed=principals + owners)
    else:
        uid = ctx.platform.uid()
        if info.uid not in (0, uid):
            return failed(f"{rel} belongs to user id {info.uid}: ssh stops with \"Bad owner or permissions\"",
                          Fix("Take the file back:", [f"sudo chown $(id -u) {shell_path(ctx, path)}"]),
                          expected=f"owner {uid} or root", observed=f"owner {info.uid}")
        if info.mode & 0o022:
            tighten(ctx, path, 0o644)
            if not info.mode & 0o002 and _debian_ssh(ctx) and ctx.platform.group_is_private(info.gid, uid):
                return warned(f"{rel} has mode {info.mode:04o}: your ssh (Debian/Ubuntu's) accepts it because the "
                              "group is yours alone, but other ssh programs stop with \"Bad owner or permissions\"",
                              Fix("Make the file writable only by you:", [f"chmod 600 {shell_path(ctx, path)}"]),
                              expected="0600 (or 0644)", observed=f"{info.mode:04o}")
            return failed(f"{rel} has mode {info.mode:04o}: others can change it, so ssh stops with \"Bad owner "
                          "or permissions\"", Fix("Make the file writable only by you:",
                                                  [f"chmod 600 {shell_path(ctx, path)}"]),
                          expected="0600 (or 0644)", observed=f"{info.mode:04o}")
    cfg = ssh_config(ctx)
    if cfg.error and ("Bad configuration option" in cfg.error or "terminating" in cfg.error):
        return failed(f"ssh cannot read {rel}: {cfg.error}", Fix("Fix the line ssh complains about:", [f"nano {rel}"]),
                      observed=cfg.error)
    detail = [f"ssh -G {ctx.expectations.login_host}: user {cfg.user}, hostname {cfg.hostname}"] if cfg.from_ssh else []
    want = ctx.options.user
    if want and cfg.from_ssh and cfg.user and cfg.user != want and _sets_user(path):
        return warned(f"{rel} makes ssh log in to {ctx.expectations.login_host} as {cfg.user}, not {want}",
                      Fix("Set the right user for the login host in the config (or type you@host):",
                          [f"Host {ctx.expectations.login_host}", f"    User {want}"]),
                      expected=want, observed=cfg.user, details=detail)
    return passed(f"{rel} is yours, only you can change it, and ssh reads it", details=detail)


def _debian_ssh(ctx: Context) -> bool:
    """Debian and Ubuntu patch OpenSSH to accept files writable by the user's own private group."""
    banner, _ = ssh_version(ctx)
    return banner is not None and ("Debian" in banner or "Ubuntu" in banner)


def _sets_user(path: Path) -> bool:
    try:
        return bool(re.search(r"(?im)^\s*user\s", path.read_text(errors="replace")))
    except OSError:
        return False


@check("ssh.agent", title="Passphrase key loaded in an agent", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#use-an-agent",
       fixes=("Load your key into the agent once per session", "Offer only the key meant for the login host"))
def agent(ctx: Context) -> Verdict:
    """Is your passphrase-protected key loaded in an ssh agent, so ssh stops asking?

    Not an error: without an agent ssh simply asks for the passphrase each time.
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    key = candidates[0]
    if not key.encrypted:
        return passed(f"{home_rel(ctx, key.path)} has no passphrase: no agent needed")
    proc = ctx.run(["ssh-add", "-l"], timeout=5)
    listed = proc.stdout if proc.returncode == 0 else ""
    fp = key.public.fingerprint if key.public else None
    count = len([ln for ln in listed.splitlines() if "SHA256:" in ln or "MD5:" in ln])
    if fp and fp in listed:
        if count > 5:
            return warned(f"your key is in the agent, with {count - 1} others: servers stop after 6 tries "
                          "(\"Too many authentication failures\")",
                          Fix("Offer only the key meant for the login host: add to ~/.ssh/config:",
                              [f"Host {ctx.expectations.login_host}", "    IdentitiesOnly yes",
                               f"    IdentityFile {home_rel(ctx, key.path)}"]), observed=count)
        return passed("your passphrase-protected key is loaded in the agent", observed=fp)
    why = {1: "the agent holds no keys", 2: "no agent is running"}.get(proc.returncode or -1, proc.error or "")
    return warned(f"{home_rel(ctx, key.path)} has a passphrase and is not in an agent ({why or 'not listed'}): "
                  "ssh will ask for the passphrase every time", Fix("Load your key into the agent once per session:",
                                                                    _agent_commands(ctx, key.path)),
                  observed=why or "not loaded")


def _agent_commands(ctx: Context, path: Path) -> List[str]:
    rel = shell_path(ctx, path)
    if ctx.platform.is_windows:
        return ["Get-Service ssh-agent | Set-Service -StartupType Automatic   # PowerShell, as administrator",
                "Start-Service ssh-agent", f"ssh-add {path}"]
    if ctx.platform.name == "macos":
        return [f"ssh-add --apple-use-keychain {rel}"]
    return ['eval "$(ssh-agent -s)"', f"ssh-add {rel}"]


@check("ssh.login", title="Log in without a password", sides=["laptop"], requires=("ssh.client",), live=True,
       docs=f"{DOCS}#install-the-key", timeout=60,
       fixes=("Install your public key on the login node", "Forget the login host's old key", "Check your network"))
def login(ctx: Context) -> Verdict:
    """Does `ssh <login host> true` log in with your key, without a password?

    Contacts the login host: runs only with --live.
    """
    from ...tools.explain import explain  # only here: its pattern table costs milliseconds at import
    host = ctx.expectations.login_host
    user = cluster_user(ctx)
    target = f"{user}@{host}" if user else host
    config = ctx.home / ".ssh" / "config"
    banner, exe = ssh_version(ctx)
    if banner is None:
        return skipped("no ssh client (see ssh.client)")
    t = max(5, int(ctx.options.timeout * 3))
    argv = [exe, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={t}", "-o", "StrictHostKeyChecking=accept-new"]
    if config.is_file():
        argv += ["-F", str(config)]
    proc = ctx.run(argv + [target, "true"], timeout=t + 10)
    if proc.ok:
        return passed(f"logged in to {target} with your key, no password asked", observed="ok")
    err = proc.stderr.strip() or proc.error
    if proc.timed_out:
        return failed(f"ssh to {target} did not finish within {t + 10} s",
                      Fix("Check your network: try another network, or the campus VPN:", [f"ssh -v {target} true"]),
                      observed="timeout")
    found = explain(err)
    if found.matches:
        m = found.matches[0]
        if m.pattern.name == "publickey-denied":
            return failed(f"{target} refused your key: {m.pattern.cause}",
                          Fix("Install your public key on the login node (it asks your password once):",
                              [f"ssh-copy-id -i {home_rel(ctx, _first_pub(ctx))} {target}"]), observed=err)
        return failed(f"ssh to {target} failed: {m.pattern.cause}", m.fix, observed=err)
    return failed(f"ssh to {target} failed: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}",
                  Fix("See what ssh does step by step:", [f"ssh -v {target} true"]), observed=err)


def _first_pub(ctx: Context) -> Path:
    keys_ = loadable_keys(ctx)
    return Path(str(keys_[0].path) + ".pub") if keys_ else ctx.home / ".ssh" / "id_ed25519.pub"
