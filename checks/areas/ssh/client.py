"""The OpenSSH client and its folder: `ssh.client`, `ssh.dir`."""

from __future__ import annotations

import re

from ...context import Context
from ...model import Fix, Verdict, failed, passed, warned
from ...probes.openssh import ssh_version
from ...registry import check
from ._common import DOCS, home_rel, shell_path, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass


def _install_ssh_fix(ctx: Context) -> Fix:
    if ctx.platform.is_windows:
        return Fix("Install Windows' own OpenSSH client (PowerShell, as administrator), then open a new terminal:",
                   ["Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0"])
    if ctx.platform.name == "macos":
        return Fix("macOS ships ssh in /usr/bin: make sure your PATH includes it:", ['export PATH="/usr/bin:$PATH"'])
    return Fix("Install the OpenSSH client:", ["sudo apt install openssh-client   # Debian/Ubuntu",
                                                "sudo dnf install openssh-clients  # Fedora"])


@check("ssh.client", title="OpenSSH client installed", sides=["laptop"], docs=f"{DOCS}#before-you-start",
       fixes=("Install Windows' own OpenSSH client (PowerShell, as administrator), then open a new terminal",
              "macOS ships ssh in /usr/bin: make sure your PATH includes it", "Install the OpenSSH client"))
def client(ctx: Context) -> Verdict:
    """Is an OpenSSH client installed (`ssh -V`), which one, and which version?

    Every step of the lesson runs ssh from your computer's terminal.
    """
    banner, where = ssh_version(ctx)
    if banner is None:
        return failed(f"no OpenSSH client found: {where}", _install_ssh_fix(ctx), expected="ssh", observed=None)
    match = re.search(r"OpenSSH_for_Windows_([\d.]+p?\d*)|OpenSSH_([\d.]+p?\d*)", banner)
    version = (match.group(1) or match.group(2)) if match else "unknown version"
    low = where.lower().replace("/", "\\")
    if "system32\\openssh" in low or "OpenSSH_for_Windows" in banner:
        flavour = "Windows' own OpenSSH"
    elif "\\git\\" in low or "mingw" in low or "msys" in low:
        flavour = "Git for Windows' OpenSSH"
    elif "LibreSSL" in banner or ctx.platform.name == "macos":
        flavour = "macOS's OpenSSH"
    else:
        flavour = "OpenSSH"
    return passed(f"{flavour} {version} at {ctx.shown(where)}",
                  observed={"version": version, "flavour": flavour, "path": ctx.shown(where)}, details=[banner])


@check("ssh.dir", title="~/.ssh folder", sides=["laptop"], docs=f"{DOCS}#permissions",
       fixes=("Create the folder by making a key", "Make the folder writable only by you",
              "Take the folder back (it belongs to someone else)"))
def ssh_dir(ctx: Context) -> Verdict:
    """Does ~/.ssh exist, belong to you, and is it writable only by you?

    Your keys and config live there; anyone who can write to it can swap them.
    """
    path = ctx.home / ".ssh"
    info = ctx.platform.stat(path)
    if not info.exists:
        return failed(f"{home_rel(ctx, path)} does not exist yet, so you have no SSH key",
                      Fix("Create the folder by making a key (press Enter to accept the default file name):",
                          ["ssh-keygen -t ed25519"]), expected="a folder", observed="missing")
    if not info.is_dir:
        return failed(f"{home_rel(ctx, path)} is a file, not a folder",
                      Fix("Move the file away, then make a key (which creates the folder):",
                          [f"mv {shell_path(ctx, path)} {shell_path(ctx, path)}.old", "ssh-keygen -t ed25519"]))
    if ctx.platform.is_windows:
        return passed(f"{path} exists")
    uid = ctx.platform.uid()
    if info.uid != uid:  # root's too: ssh-keygen and known_hosts could not write there
        owner = "root" if info.uid == 0 else f"user id {info.uid}"
        return failed(f"{home_rel(ctx, path)} belongs to {owner}, not you ({uid}): you cannot add keys or known hosts",
                      Fix("Take the folder back (it belongs to someone else, often after a 'sudo ssh-keygen'):",
                          [f"sudo chown -R $(id -u):$(id -g) {shell_path(ctx, path)}"]),
                      expected=f"owner {uid}", observed=f"owner {info.uid}")
    if info.mode & 0o022:
        note = tighten(ctx, path, 0o755)
        return warned(f"{home_rel(ctx, path)} has mode {info.mode:04o}: others can add or replace files in it "
                      "(the login node's sshd would refuse such a folder)",
                      Fix("Make the folder writable only by you:", [f"chmod 700 {shell_path(ctx, path)}"]),
                      expected="0700", observed=f"{info.mode:04o}", details=[note] if note else [])
    return passed(f"{home_rel(ctx, path)} exists, is yours and has mode {info.mode:04o}",
                  observed=f"{info.mode:04o}")
