"""SSH keys and configuration, judged by OpenSSH's own rules.

Laptop side: the client, ~/.ssh, the key ssh will offer, its permissions, format, type and
public half, the config file, the agent, and (with --live) a real login. Server side: the
authorized_keys file and sshd's StrictModes walk. Each verdict follows what OpenSSH's code does
(authfile.c, readconf.c, auth2-pubkeyfile.c, misc.c: safe_path), proven in the tests against a
real sshd and ssh.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..context import Context
from ..model import Fix, Verdict, failed, passed, skipped, warned
from ..probes import keys
from ..probes.acl import acl_problems
from ..probes.jupyter import cluster_user
from ..probes.openssh import KeyChoice, key_choice, loadable_keys, ssh_config, ssh_version
from ..registry import check
from ..tools.explain import explain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

DOCS = "lessons/ssh-keys.html"


def _home_rel(ctx: Context, path: Path) -> str:
    """A path as the student would type it: ~/.ssh/id_ed25519."""
    return ctx.shown(path)


def _shell_path(ctx: Context, path: Path) -> str:
    text = _home_rel(ctx, path) if not ctx.platform.is_windows else str(path)
    return f'"{text}"' if " " in text else text


# -- laptop checks -----------------------------------------------------------------------------

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
        return failed(f"{_home_rel(ctx, path)} does not exist yet, so you have no SSH key",
                      Fix("Create the folder by making a key (press Enter to accept the default file name):",
                          ["ssh-keygen -t ed25519"]), expected="a folder", observed="missing")
    if not info.is_dir:
        return failed(f"{_home_rel(ctx, path)} is a file, not a folder",
                      Fix("Move the file away, then make a key (which creates the folder):",
                          [f"mv {_shell_path(ctx, path)} {_shell_path(ctx, path)}.old", "ssh-keygen -t ed25519"]))
    if ctx.platform.is_windows:
        return passed(f"{path} exists")
    uid = ctx.platform.uid()
    if info.uid not in (uid, 0):
        return failed(f"{_home_rel(ctx, path)} belongs to user id {info.uid}, not you ({uid}): you cannot add keys",
                      Fix("Take the folder back (it belongs to someone else, often after a 'sudo ssh-keygen'):",
                          [f"sudo chown -R $(id -u):$(id -g) {_shell_path(ctx, path)}"]),
                      expected=f"owner {uid}", observed=f"owner {info.uid}")
    if info.mode & 0o022:
        _tighten(ctx, path, 0o755)
        return warned(f"{_home_rel(ctx, path)} has mode {info.mode:04o}: others can add or replace files in it "
                      "(the login node's sshd would refuse such a folder)",
                      Fix("Make the folder writable only by you:", [f"chmod 700 {_shell_path(ctx, path)}"]),
                      expected="0700", observed=f"{info.mode:04o}")
    return passed(f"{_home_rel(ctx, path)} exists, is yours and has mode {info.mode:04o}",
                  observed=f"{info.mode:04o}")


def _tighten(ctx: Context, path: Path, mode: int) -> None:
    """With --fix, chmod to a stricter mode and record it. Never touches content."""
    if not ctx.options.fix or ctx.platform.is_windows:
        return
    before = ctx.platform.stat(path).mode
    if before & ~mode & 0o777 == 0:
        return
    ctx.platform.chmod(path, before & mode)
    ctx.note_change(f"chmod {before & mode:04o} {path} (was {before:04o})")


def _key_fix_for_missing(ctx: Context, choice: KeyChoice) -> Tuple[str, Fix]:
    putty = [k for k in choice.stray if k.kind == "putty"]
    if putty:
        ppk = putty[0].path
        return (f"ssh tries none of its default key files, and {_home_rel(ctx, ppk)} is a PuTTY key, which OpenSSH "
                "cannot read",
                Fix("Convert the PuTTY key to OpenSSH's format (or in PuTTYgen: Conversions → Export OpenSSH key):",
                    [f"puttygen {_shell_path(ctx, ppk)} -O private-openssh -o ~/.ssh/id_{putty[0].key_type or 'rsa'}"]))
    if choice.stray:
        other = choice.stray[0].path
        return (f"ssh tries none of its default key files, and never tries {_home_rel(ctx, other)} "
                "(it is not a default name)",
                Fix(f"Tell ssh to use that key for the login host ({ctx.expectations.login_host}): add these lines "
                    "to ~/.ssh/config:",
                    [f"Host {ctx.expectations.login_host}", f"    IdentityFile {_home_rel(ctx, other)}"]))
    return ("no private key: ssh has nothing to offer, so you will be asked for your password every time",
            Fix("Make a key (press Enter to accept the default file name; a passphrase is recommended):",
                ["ssh-keygen -t ed25519"]))


@check("ssh.key.present", title="A key ssh will offer", sides=["laptop"], requires=("ssh.dir",),
       docs=f"{DOCS}#create-a-key",
       fixes=("Make a key", "Convert the PuTTY key to OpenSSH's format",
              "Tell ssh to use that key for the login host"))
def key_present(ctx: Context) -> Verdict:
    """Is there a private key that ssh will offer to the login host?

    ssh only tries certain file names (id_ed25519, id_rsa, ...) unless ~/.ssh/config names
    another; a key saved under another name, or in PuTTY's format, is never offered.
    """
    choice = key_choice(ctx)
    usable = [k for k in choice.offered if k.kind not in ("unreadable", "empty")]
    source = "ssh -G" if choice.config.from_ssh else "OpenSSH's default key names"
    if not usable:
        summary, fix = _key_fix_for_missing(ctx, choice)
        return failed(summary, fix, expected="a private key", observed=None,
                      details=[f"looked at ({source}): " + ", ".join(_home_rel(ctx, p) for p in choice.config.identity_files)]
                      + ([choice.config.error] if choice.config.error else []))
    first = usable[0]
    names = ", ".join(_home_rel(ctx, k.path) for k in usable)
    details = [f"from {source}"] + ([choice.config.error] if choice.config.error else [])
    if choice.stray:
        details.append("ssh never tries: " + ", ".join(_home_rel(ctx, k.path) for k in choice.stray))
    kind = first.key_type or first.kind
    return passed(f"ssh will offer {names} ({kind})" if len(usable) == 1 else f"ssh will offer, in order: {names}",
                  observed=[_home_rel(ctx, k.path) for k in usable], details=details)


def _icacls_fix(ctx: Context, path: Path, principals: List[str]) -> List[str]:
    p = f'"{path}"'
    commands = [f"icacls {p} /inheritance:r", f'icacls {p} /grant:r "%USERNAME%:F"']
    commands += [f'icacls {p} /remove:g "{who}"' for who in principals]
    return commands


@check("ssh.key.permissions", title="Private key is private", sides=["laptop"], requires=("ssh.key.present",),
       docs=f"{DOCS}#permissions",
       fixes=("Make the key readable only by you", "Remove every other account's access to the key (PowerShell)"))
def key_permissions(ctx: Context) -> Verdict:
    """Can only you read your private key? ssh ignores a key that others can read.

    OpenSSH refuses a private key you own if group or others have any permission on it
    ("UNPROTECTED PRIVATE KEY FILE!"); on Windows, if any other account may read it.
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    if ctx.platform.is_windows:
        return _windows_key_permissions(ctx, candidates)
    uid = ctx.platform.uid()
    bad, notes, modes = [], [], []
    for key in candidates:
        info = ctx.platform.stat(key.path)
        modes.append(f"{_home_rel(ctx, key.path)} {info.mode:04o}")
        if info.uid != uid:
            notes.append(f"{_home_rel(ctx, key.path)} belongs to user id {info.uid}: ssh does not check its mode")
            continue
        if info.mode & 0o077:
            bad.append((key.path, info.mode))
    if not bad:
        return passed(f"only you can read your key ({', '.join(modes)})", expected="0600 or stricter", details=notes)
    for path, _mode in bad:
        _tighten(ctx, path, 0o600)
    listing = "; ".join(f"{_home_rel(ctx, p)} has mode {m:04o}" for p, m in bad)
    return failed(f"{listing}: others can read it, so ssh ignores it (\"UNPROTECTED PRIVATE KEY FILE!\")",
                  Fix("Make the key readable only by you:", [f"chmod 600 {_shell_path(ctx, p)}" for p, _ in bad]),
                  expected="0600", observed={_home_rel(ctx, p): f"{m:04o}" for p, m in bad}, details=notes)


def _windows_key_permissions(ctx: Context, candidates: List[keys.KeyFile]) -> Verdict:
    bad: Dict[Path, List[str]] = {}
    for key in candidates:
        principals, owners = acl_problems(ctx, key.path, read_ok=False)
        if principals or owners:
            bad[key.path] = principals + [f"owner {o}" for o in owners]
    if not bad:
        return passed("only you (and the system accounts) can read your key",
                      details=["Windows' OpenSSH checks the file's access list, not mode bits"])
    path, who = next(iter(bad.items()))
    principals = [w for w in who if not w.startswith("owner ")]
    return failed(f"{path} can also be read by {', '.join(who)}: Windows' OpenSSH ignores it "
                  "(\"UNPROTECTED PRIVATE KEY FILE!\")",
                  Fix("Remove every other account's access to the key (PowerShell), keeping only yours:",
                      _icacls_fix(ctx, path, principals)),
                  expected="only you, SYSTEM and Administrators", observed={str(p): w for p, w in bad.items()},
                  details=["mode bits mean nothing on Windows: the access list (ACL) is what ssh checks"])


def _windows_openssh(ctx: Context) -> bool:
    banner, where = ssh_version(ctx)
    return bool(banner) and ctx.platform.is_windows and "git" not in where.lower()


@check("ssh.key.format", title="Key file OpenSSH can read", sides=["laptop"], requires=("ssh.key.present",),
       docs=f"{DOCS}#key-files",
       fixes=("Convert the line endings to Unix (LF)", "Add the missing newline at the end of the key",
              "Remove the invisible mark at the start of the file", "Convert the PuTTY key to OpenSSH's format",
              "This is not a private key: point ssh at the private half", "Make a new key"))
def key_format(ctx: Context) -> Verdict:
    """Is the key file one OpenSSH can load (OpenSSH or PEM format, Unix line endings)?

    A key with Windows line endings, without its last newline, or saved by PuTTY makes ssh say
    "invalid format" or "error in libcrypto".
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    key = candidates[0]
    path = _shell_path(ctx, key.path)
    rel = _home_rel(ctx, key.path)
    if key.kind == "putty":
        return failed(f"{rel} is a PuTTY key (.ppk, version {key.putty_version}): OpenSSH cannot read it",
                      Fix("Convert the PuTTY key to OpenSSH's format (or in PuTTYgen: Conversions → Export "
                          "OpenSSH key):", [f"puttygen {path} -O private-openssh -o {path}.openssh"]),
                      observed="putty")
    if key.kind in ("public", "rfc4716"):
        return failed(f"{rel} holds a public key: ssh needs the private half here",
                      Fix("This is not a private key: point ssh at the private half (the file without .pub), "
                          "or make a new key:", ["ssh-keygen -t ed25519"]), observed=key.kind)
    if key.kind == "unknown" or "corrupt" in key.problems or "truncated" in key.problems:
        why = key.error or ("it is cut short" if "truncated" in key.problems else "it is not a key file ssh knows")
        return failed(f"{rel} is not a private key OpenSSH can read ({why})",
                      Fix("Make a new key (and install its .pub on the login node):", ["ssh-keygen -t ed25519"]),
                      observed=key.kind)
    if "crlf" in key.problems:
        if _windows_openssh(ctx):
            return warned(f"{rel} has Windows line endings (CRLF): Windows' OpenSSH accepts them, but other "
                          "ssh programs (Git Bash, WSL, the server) say \"invalid format\"",
                          Fix("Convert the line endings to Unix (LF):", [_crlf_fix(ctx, key.path)]), observed="CRLF")
        return failed(f"{rel} has Windows line endings (CRLF): ssh says \"invalid format\" or \"error in libcrypto\"",
                      Fix("Convert the line endings to Unix (LF):", [_crlf_fix(ctx, key.path)]),
                      expected="LF", observed="CRLF")
    if "bom" in key.problems:
        return failed(f"{rel} starts with an invisible byte-order mark (saved by a text editor): ssh cannot read it",
                      Fix("Remove the invisible mark at the start of the file:",
                          [_py_rewrite(key.path, "d[3:] if d.startswith(b'\\xef\\xbb\\xbf') else d")]),
                      observed="BOM")
    if "leading-space" in key.problems:
        return failed(f"{rel} does not start with its -----BEGIN line (spaces or blank lines before it)",
                      Fix("Remove what comes before -----BEGIN:", [_py_rewrite(key.path, "d.lstrip()")]),
                      observed="text before -----BEGIN")
    if "no-final-newline" in key.problems:
        return failed(f"{rel} lacks the newline after its last line: ssh says \"invalid format\"",
                      Fix("Add the missing newline at the end of the key:",
                          [f"echo >> {path}" if not ctx.platform.is_windows else _py_rewrite(key.path, "d + b'\\n'")]),
                      observed="no final newline")
    label = {"openssh": "OpenSSH format", "pem": "PEM format", "pkcs8": "PKCS#8 format"}[key.kind]
    enc = ", passphrase-protected" if key.encrypted else ""
    return passed(f"{rel} is a {key.key_type or 'private'} key in {label}{enc}", observed=key.kind)


def _py_rewrite(path: Path, expr: str) -> str:
    """A one-line Python rewrite of a file, for the student to run (it works on every OS)."""
    return f"python3 -c \"p=r'{path}'; d=open(p,'rb').read(); open(p,'wb').write({expr})\""


def _crlf_fix(ctx: Context, path: Path) -> str:
    return _py_rewrite(path, "d.replace(b'\\r\\n', b'\\n')")


@check("ssh.key.type", title="Key type and size", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#create-a-key",
       fixes=("Make a new ed25519 key and install it on the login node",))
def key_type(ctx: Context) -> Verdict:
    """Is the key a type and size the assignment accepts (ed25519, ECDSA, RSA of enough bits)?

    OpenSSH has removed DSA keys, and small RSA keys are refused or discouraged.
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    key = candidates[0]
    exp = ctx.expectations
    kind = key.key_type
    bits = key.bits
    if bits is None:
        pub = keys.read_public_file(Path(str(key.path) + ".pub"))
        if pub is not None and (not kind or pub.type == kind):
            kind, bits = pub.type, pub.bits
    rel = _home_rel(ctx, key.path)
    new_key = Fix("Make a new ed25519 key and install it on the login node:",
                  ["ssh-keygen -t ed25519", f"ssh-copy-id <username>@{exp.login_host}"])
    base = kind.replace("-sk", "")
    if kind == "dsa":
        return failed(f"{rel} is a DSA key: OpenSSH has removed DSA, so the login host refuses it", new_key,
                      expected=", ".join(exp.key_types), observed="dsa")
    if not kind:
        return warned(f"{rel}: its type cannot be told without its .pub file", new_key, observed="unknown")
    if base not in exp.key_types:
        return failed(f"{rel} is a {kind} key, which this assignment does not accept ({', '.join(exp.key_types)})",
                      new_key, expected=", ".join(exp.key_types), observed=kind)
    if base == "rsa":
        if bits is None:
            return warned(f"{rel} is an RSA key of unknown size (no .pub beside it)", new_key, observed="rsa")
        if bits < exp.min_rsa_bits:
            return failed(f"{rel} is an RSA key of {bits} bits, below the {exp.min_rsa_bits} the assignment requires",
                          new_key, expected=f">= {exp.min_rsa_bits}", observed=bits)
        if bits < exp.recommended_rsa_bits:
            return warned(f"{rel} is an RSA key of {bits} bits: accepted, but {exp.recommended_rsa_bits} or more "
                          "is recommended", new_key, expected=f">= {exp.recommended_rsa_bits}", observed=bits)
    size = f" of {bits} bits" if bits else ""
    return passed(f"{rel} is an {kind} key{size}" if kind[0] in "ae" else f"{rel} is a {kind} key{size}",
                  observed={"type": kind, "bits": bits})


@check("ssh.key.pair", title="Public half matches", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#install-the-key",
       fixes=("Write the public half again from the private key",))
def key_pair(ctx: Context) -> Verdict:
    """Is the .pub file beside your key its public half (same SHA256 fingerprint)?

    You install the .pub on the server; if it belongs to another key, the server will never
    accept your private key.
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    key = candidates[0]
    pub_path = Path(str(key.path) + ".pub")
    rel = _home_rel(ctx, key.path)
    regen = Fix("Write the public half again from the private key (then install that .pub on the login node):",
                [f"ssh-keygen -y -f {_shell_path(ctx, key.path)} > {_shell_path(ctx, pub_path)}"])
    if not pub_path.exists():
        return warned(f"{rel} has no {pub_path.name} beside it: you need it to install the key on the server", regen,
                      expected=pub_path.name, observed="missing")
    pub = keys.read_public_file(pub_path)
    if pub is None:
        return failed(f"{_home_rel(ctx, pub_path)} holds no readable public key line", regen, observed="unreadable")
    if key.public is None:
        return passed(f"{_home_rel(ctx, pub_path)} holds a {pub.type} key {pub.fingerprint} (a {key.kind.upper()} "
                      "key carries no public half to compare without its passphrase)", observed=pub.fingerprint)
    if pub.blob != key.public.blob:
        return failed(f"{_home_rel(ctx, pub_path)} is another key's public half ({pub.fingerprint}, but the private "
                      f"key's is {key.public.fingerprint})", regen, expected=key.public.fingerprint,
                      observed=pub.fingerprint)
    return passed(f"{_home_rel(ctx, pub_path)} matches the private key ({pub.fingerprint})", observed=pub.fingerprint)


@check("ssh.config", title="ssh config file", sides=["laptop"], docs=f"{DOCS}#permissions",
       fixes=("Make the file writable only by you", "Take the file back", "Fix the line ssh complains about"))
def config(ctx: Context) -> Verdict:
    """Is ~/.ssh/config yours and writable only by you, and can ssh read it?

    ssh stops with "Bad owner or permissions" when others can write to it.
    """
    path = ctx.home / ".ssh" / "config"
    info = ctx.platform.stat(path)
    rel = _home_rel(ctx, path)
    if not info.exists:
        return passed(f"no {rel} (you do not need one)", observed="none")
    if ctx.platform.is_windows:
        principals, owners = acl_problems(ctx, path, read_ok=True)
        if principals or owners:
            return failed(f"{path} can be changed by {', '.join(principals + owners)}: ssh stops with "
                          "\"Bad owner or permissions\"",
                          Fix("Make the file writable only by you (PowerShell):", _icacls_fix(ctx, path, principals)),
                          observed=principals + owners)
    else:
        uid = ctx.platform.uid()
        if info.uid not in (0, uid):
            return failed(f"{rel} belongs to user id {info.uid}: ssh stops with \"Bad owner or permissions\"",
                          Fix("Take the file back:", [f"sudo chown $(id -u) {_shell_path(ctx, path)}"]),
                          expected=f"owner {uid} or root", observed=f"owner {info.uid}")
        if info.mode & 0o022:
            _tighten(ctx, path, 0o644)
            if not info.mode & 0o002 and _debian_ssh(ctx) and ctx.platform.group_is_private(info.gid, uid):
                return warned(f"{rel} has mode {info.mode:04o}: your ssh (Debian/Ubuntu's) accepts it because the "
                              "group is yours alone, but other ssh programs stop with \"Bad owner or permissions\"",
                              Fix("Make the file writable only by you:", [f"chmod 600 {_shell_path(ctx, path)}"]),
                              expected="0600 (or 0644)", observed=f"{info.mode:04o}")
            return failed(f"{rel} has mode {info.mode:04o}: others can change it, so ssh stops with \"Bad owner "
                          "or permissions\"", Fix("Make the file writable only by you:",
                                                  [f"chmod 600 {_shell_path(ctx, path)}"]),
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
    return bool(banner) and ("Debian" in banner or "Ubuntu" in banner)


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
        return passed(f"{_home_rel(ctx, key.path)} has no passphrase: no agent needed")
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
                               f"    IdentityFile {_home_rel(ctx, key.path)}"]), observed=count)
        return passed("your passphrase-protected key is loaded in the agent", observed=fp)
    why = {1: "the agent holds no keys", 2: "no agent is running"}.get(proc.returncode or -1, proc.error or "")
    return warned(f"{_home_rel(ctx, key.path)} has a passphrase and is not in an agent ({why or 'not listed'}): "
                  "ssh will ask for the passphrase every time", Fix("Load your key into the agent once per session:",
                                                                    _agent_commands(ctx, key.path)),
                  observed=why or "not loaded")


def _agent_commands(ctx: Context, path: Path) -> List[str]:
    rel = _shell_path(ctx, path)
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
                              [f"ssh-copy-id -i {_home_rel(ctx, _first_pub(ctx))} {target}"]), observed=err)
        return failed(f"ssh to {target} failed: {m.pattern.cause}", m.fix, observed=err)
    return failed(f"ssh to {target} failed: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}",
                  Fix("See what ssh does step by step:", [f"ssh -v {target} true"]), observed=err)


def _first_pub(ctx: Context) -> Path:
    keys_ = loadable_keys(ctx)
    return Path(str(keys_[0].path) + ".pub") if keys_ else ctx.home / ".ssh" / "id_ed25519.pub"


# -- server side ---------------------------------------------------------------------------------


