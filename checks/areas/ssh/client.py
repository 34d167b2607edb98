"""The OpenSSH client and its folder: `ssh.client`, `ssh.dir`."""

from __future__ import annotations

import re

from ...context import Context
from ...model import Fix, Verdict, failed, passed, warned
from ...probes.openssh import ssh_version
from ...registry import check
from ._common import DOCS, home_rel, tighten

INSTALL_WINDOWS = "Install Windows' own OpenSSH client"
PATH_MACOS = "macOS ships ssh in /usr/bin: make sure your PATH includes it"
INSTALL_LINUX = "Install the OpenSSH client"


def _install_ssh_fix(ctx: Context) -> Fix:
    if ctx.platform.is_windows:
        return Fix.under(INSTALL_WINDOWS, " (in PowerShell opened as administrator), then open a new terminal:",
                         ["Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0"])
    if ctx.platform.name == "macos":
        return Fix.under(PATH_MACOS, ":", [ctx.shell.prepend_path("/usr/bin")])
    for manager, command in (("apt-get", "sudo apt-get install openssh-client"),
                             ("dnf", "sudo dnf install openssh-clients"),
                             ("pacman", "sudo pacman -S openssh"), ("zypper", "sudo zypper install openssh-clients")):
        if ctx.which(manager):
            return Fix.under(INSTALL_LINUX, ":", [command])
    return Fix.under(INSTALL_LINUX, " with your system's package manager (on Fedora: sudo dnf install "
                     "openssh-clients):", ["sudo apt-get install openssh-client"])


@check("ssh.client", title="OpenSSH client installed", sides=["laptop"], docs=f"{DOCS}#before-you-start",
       fixes=(INSTALL_WINDOWS, PATH_MACOS, INSTALL_LINUX))
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


MAKE_KEY_FOR_DIR = "Create the folder by making a key"
MOVE_FILE = "Move the file away, then make a key"
DIR_PRIVATE = "Make the folder writable only by you"
TAKE_DIR_BACK = "Take the folder back"


@check("ssh.dir", title="~/.ssh folder", sides=["laptop"], docs=f"{DOCS}#permissions",
       fixes=(MAKE_KEY_FOR_DIR, MOVE_FILE, DIR_PRIVATE, TAKE_DIR_BACK))
def ssh_dir(ctx: Context) -> Verdict:
    """Does ~/.ssh exist, belong to you, and is it writable only by you?

    Your keys and config live there; anyone who can write to it can swap them.
    """
    path = ctx.home / ".ssh"
    info = ctx.platform.stat(path)
    if not info.exists:
        return failed(f"{home_rel(ctx, path)} does not exist yet, so you have no SSH key",
                      Fix.under(MAKE_KEY_FOR_DIR, " (press Enter to accept the default file name):",
                                ["ssh-keygen -t ed25519"]), expected="a folder", observed="missing")
    if not info.is_dir:
        return failed(f"{home_rel(ctx, path)} is a file, not a folder",
                      Fix.under(MOVE_FILE, " (which creates the folder):",
                                [ctx.shell.move(path, path.with_name(".ssh.old")), "ssh-keygen -t ed25519"]))
    if ctx.platform.is_windows:
        return passed(f"{path} exists")
    uid = ctx.platform.uid()
    if info.uid != uid:  # root's too: ssh-keygen and known_hosts could not write there
        owner = "root" if info.uid == 0 else f"user id {info.uid}"
        return failed(f"{home_rel(ctx, path)} belongs to {owner}, not you ({uid}): you cannot add keys or known hosts",
                      Fix.under(TAKE_DIR_BACK, " (it belongs to someone else, often after a 'sudo ssh-keygen'):",
                                [f"sudo chown -R $(id -u):$(id -g) {ctx.shell.path(path)}"]),
                      expected=f"owner {uid}", observed=f"owner {info.uid}")
    if info.mode & 0o022:
        note = tighten(ctx, path, 0o755)
        return warned(f"{home_rel(ctx, path)} has mode {info.mode:04o}: others can add or replace files in it "
                      "(the login node's sshd would refuse such a folder)",
                      Fix.under(DIR_PRIVATE, ":", [ctx.shell.chmod("700", [path])]),
                      expected="0700", observed=f"{info.mode:04o}", details=[note] if note else [])
    return passed(f"{home_rel(ctx, path)} exists, is yours and has mode {info.mode:04o}",
                  observed=f"{info.mode:04o}")
