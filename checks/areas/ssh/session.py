"""How ssh connects to the login host: `ssh.config`, `ssh.agent` and (with --live) `ssh.login`."""

from __future__ import annotations

import re
from pathlib import Path

from ...context import Context
from ...files import FileProblem
from ...model import Fix, Verdict, failed, passed, skipped, warned
from ...probes import acl
from ...probes.jupyter import cluster_user
from ...probes.openssh import NO_SHELL, loadable_keys, ssh_config, ssh_version
from ...registry import check
from ...tools.explain import PATTERNS, explain
from ._common import DOCS, home_rel, lines_said, tighten

CONFIG_PRIVATE = "Make the file writable only by you"
TAKE_CONFIG_BACK = "Take the file back"
FIX_CONFIG_LINE = "Fix the line ssh complains about"
SET_USER = "Set the right user for the login host"
SEE_FOR_YOURSELF = "See what ssh makes of it yourself"


@check("ssh.config", title="ssh config file", sides=["laptop"], docs=f"{DOCS}#permissions",
       fixes=(CONFIG_PRIVATE, TAKE_CONFIG_BACK, FIX_CONFIG_LINE, SET_USER, SEE_FOR_YOURSELF))
def config(ctx: Context) -> Verdict:
    """Is ~/.ssh/config yours and writable only by you, and can ssh read it?

    ssh stops with "Bad owner or permissions" when others can write to it.
    """
    path = ctx.home / ".ssh" / "config"
    info = ctx.platform.stat(path)
    rel = home_rel(ctx, path)
    shell = ctx.shell
    if not info.exists:
        return passed(f"no {rel} (you do not need one)", observed="none")
    if ctx.platform.is_windows:
        found = acl.acl_problems(ctx, path, read_ok=True)
        if found.owner and not found.others:
            return failed(f"{rel} belongs to {acl.describe(found.owner)}, not to you: ssh stops with \"Bad owner or "
                          "permissions\"", Fix.under(TAKE_CONFIG_BACK, ":", [shell.take_ownership(path)]),
                          observed={"owner": found.owner})
        if found.others:
            commands = shell.private(path, found.explicit)
            if found.owner:
                commands = [shell.take_ownership(path)] + commands
            return failed(f"{rel} can be changed by {', '.join(acl.describe(s) for s in found.others)}: ssh stops "
                          "with \"Bad owner or permissions\"",
                          Fix.under(CONFIG_PRIVATE, " (one command, in PowerShell):", commands),
                          observed={"others": list(found.others), "owner": found.owner or None},
                          details=["--fix does not change access lists on Windows: run the command above"]
                          if ctx.options.fix else [])
    else:
        uid = ctx.platform.uid()
        if info.uid not in (0, uid):
            return failed(f"{rel} belongs to user id {info.uid}: ssh stops with \"Bad owner or permissions\"",
                          Fix.under(TAKE_CONFIG_BACK, ":", [shell.take_ownership(path)]),
                          expected=f"owner {uid} or root", observed=f"owner {info.uid}")
        if info.mode & 0o022:
            note = tighten(ctx, path, 0o644)
            notes = [note] if note else []
            private = Fix.under(CONFIG_PRIVATE, ":", [shell.chmod("600", [path])])
            if not info.mode & 0o002 and _debian_ssh(ctx) and ctx.platform.group_is_private(info.gid, uid):
                return warned(f"{rel} has mode {info.mode:04o}: your ssh (Debian/Ubuntu's) accepts it because the "
                              "group is yours alone, but other ssh programs stop with \"Bad owner or permissions\"",
                              private, expected="0600 (or 0644)", observed=f"{info.mode:04o}", details=notes)
            return failed(f"{rel} has mode {info.mode:04o}: others can change it, so ssh stops with \"Bad owner "
                          "or permissions\"", private, expected="0600 (or 0644)", observed=f"{info.mode:04o}",
                          details=notes)
    if ssh_version(ctx)[0] is None:
        return passed(f"{rel} is yours and only you can change it (no ssh program here to ask how it reads it)")
    cfg = ssh_config(ctx)
    lines = [f"{home_rel(ctx, e.path)} line {e.line_no}: {e.text}" for e in cfg.exec_lines]
    if cfg.would_exec:
        return warned(f"{rel} cannot be judged for {ctx.expectations.login_host}: reading it, ssh would run a "
                      "command from a 'Match exec' line, and the checker never runs commands from your files",
                      Fix.under(SEE_FOR_YOURSELF, " (this runs the Match exec command, as every ssh does):",
                                [f"ssh -G {ctx.expectations.login_host}"]),
                      observed="Match exec", details=lines)
    if cfg.error:
        return failed(f"ssh cannot read {rel}: {cfg.error}",
                      Fix.under(FIX_CONFIG_LINE, " (the line number is in the message above):", [shell.edit(path)]),
                      observed=cfg.error, details=lines)
    detail = [f"ssh -G {ctx.expectations.login_host}: user {cfg.user}, hostname {cfg.hostname}"] if cfg.from_ssh else []
    want = ctx.options.user
    if want and cfg.from_ssh and cfg.user and cfg.user != want and _sets_user(ctx, path):
        host = ctx.expectations.login_host
        user_lines = [f"Host {host}", f"    User {want}", "Host *"]
        return warned(f"{rel} makes ssh log in to {host} as {cfg.user}, not {want}",
                      Fix.under(SET_USER, f" (or type {want}@{host}): this puts the lines {lines_said(user_lines)} at "
                                "the top of ~/.ssh/config, where ssh reads them first:",
                                shell.prepend_lines(path, user_lines)),
                      expected=want, observed=cfg.user, details=detail)
    return passed(f"{rel} is yours, only you can change it, and ssh reads it", details=detail)


def _debian_ssh(ctx: Context) -> bool:
    """Debian and Ubuntu patch OpenSSH to accept files writable by the user's own private group."""
    banner, _ = ssh_version(ctx)
    return banner is not None and ("Debian" in banner or "Ubuntu" in banner)


def _sets_user(ctx: Context, path: Path) -> bool:
    try:
        return bool(re.search(r"(?im)^\s*user\s", ctx.read_file(path, 1 << 20, what="an ssh config file").text))
    except FileProblem:
        return False


LOAD_AGENT = "Load your key into the agent once per session"
KEYCHAIN = "Keep the passphrase in the macOS keychain"
ONLY_THIS_KEY = "Offer only the key meant for the login host"


@check("ssh.agent", title="Passphrase key loaded in an agent", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#use-an-agent", fixes=(LOAD_AGENT, KEYCHAIN, ONLY_THIS_KEY))
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
            lines = [f"Host {ctx.expectations.login_host}", "    IdentitiesOnly yes",
                     f"    IdentityFile {ctx.shell.config_path(key.path)}"]
            return warned(f"your key is in the agent, with {count - 1} others: servers stop after 6 tries "
                          "(\"Too many authentication failures\")",
                          Fix.under(ONLY_THIS_KEY, f": this adds the lines {lines_said(lines)} to ~/.ssh/config:",
                                    [ctx.shell.append_lines(ctx.home / ".ssh" / "config", lines)]), observed=count)
        return passed("your passphrase-protected key is loaded in the agent", observed=fp)
    why = {1: "the agent holds no keys", 2: "no agent is running"}.get(proc.returncode or -1, proc.error or "")
    return warned(f"{home_rel(ctx, key.path)} has a passphrase and is not in an agent ({why or 'not listed'}): "
                  "ssh will ask for the passphrase every time", _agent_fix(ctx, key.path),
                  observed=why or "not loaded")


KEYCHAIN_LINES = ("Host *", "    IgnoreUnknown UseKeychain", "    AddKeysToAgent yes", "    UseKeychain yes")


def _agent_fix(ctx: Context, path: Path) -> Fix:
    shell = ctx.shell
    if ctx.platform.is_windows:
        return Fix.under(LOAD_AGENT, " (the first two commands once, in PowerShell opened as administrator; "
                         "then the agent starts with Windows):",
                         ["Get-Service -Name ssh-agent | Set-Service -StartupType Automatic",
                          "Start-Service -Name ssh-agent", f"ssh-add {shell.path(path)}"])
    if ctx.platform.name == "macos":
        config = ctx.home / ".ssh" / "config"
        commands = [f"ssh-add --apple-use-keychain {shell.path(path)}"]
        if "usekeychain" not in (ctx.read_text(config) or "").lower():
            commands.append(shell.append_lines(config, KEYCHAIN_LINES))
        added = (f"; the second command adds the lines {lines_said(KEYCHAIN_LINES)} to ~/.ssh/config, so that "
                 "ssh takes it from there after a restart" if len(commands) > 1 else "")
        return Fix.under(KEYCHAIN, f" (on macOS 11 and earlier, type ssh-add -K instead of ssh-add "
                         f"--apple-use-keychain){added}:", commands)
    return Fix.under(LOAD_AGENT, " (in each new terminal):", ['eval "$(ssh-agent -s)"', f"ssh-add {shell.path(path)}"])


INSTALL_KEY = "Install your public key on the login node"
CHECK_NETWORK = "Check your network"
STEP_BY_STEP = "See what ssh does step by step"


@check("ssh.login", title="Log in without a password", sides=["laptop"], requires=("ssh.client",), live=True,
       docs=f"{DOCS}#install-the-key", timeout=60,
       fixes=(INSTALL_KEY, CHECK_NETWORK, STEP_BY_STEP) + tuple(p.heading for p in PATTERNS))
def login(ctx: Context) -> Verdict:
    """Does `ssh <login host> true` log in with your key, without a password?

    Contacts the login host: runs only with --live.
    """
    host = ctx.expectations.login_host
    user = cluster_user(ctx)
    target = f"{user}@{host}" if user else host
    config = ctx.home / ".ssh" / "config"
    banner, exe = ssh_version(ctx)
    if banner is None:
        return skipped("no ssh client (see ssh.client)")
    cfg = ssh_config(ctx)
    if cfg.would_exec or cfg.runs_commands:
        what = "a 'Match exec' line" if cfg.would_exec else cfg.runs_commands[0].split(" ", 1)[0]
        return skipped(f"your ssh config runs a command ({what}) when ssh connects to {host}, and the checker never "
                       f"runs commands from your files: try 'ssh {target} true' yourself",
                       details=list(cfg.runs_commands))
    t = max(5, int(ctx.options.timeout * 3))
    argv = [exe, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={t}", "-o", "StrictHostKeyChecking=accept-new"]
    if config.is_file():
        argv += ["-F", str(config)]
    # `--` ends ssh's options: the target (a validated user name and host) is never read as one.
    proc = ctx.run(argv + ["--", target, "true"], timeout=t + 10, env={"SHELL": NO_SHELL})
    if proc.ok:
        return passed(f"logged in to {target} with your key, no password asked", observed="ok")
    err = proc.stderr.strip() or proc.error
    if proc.timed_out:
        return failed(f"ssh to {target} did not finish within {t + 10} s",
                      Fix.under(CHECK_NETWORK, ": try another network, or the campus VPN:", [f"ssh -v {target} true"]),
                      observed="timeout")
    found = explain(err, ctx.shell)
    if found.matches:
        m = found.matches[0]
        if m.pattern.name == "publickey-denied":
            return failed(f"{target} refused your key: {m.pattern.cause}",
                          Fix.under(INSTALL_KEY, " (it asks your password once):",
                                    [ctx.shell.install_public_key(_first_pub(ctx), target)]), observed=err)
        return failed(f"ssh to {target} failed: {m.pattern.cause}", m.fix, observed=err)
    return failed(f"ssh to {target} failed: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}",
                  Fix.under(STEP_BY_STEP, ":", [f"ssh -v {target} true"]), observed=err)


def _first_pub(ctx: Context) -> Path:
    keys_ = loadable_keys(ctx)
    return Path(str(keys_[0].path) + ".pub") if keys_ else ctx.home / ".ssh" / "id_ed25519.pub"
