"""The key ssh will offer to the login host: `ssh.key.*` (present, private, readable by OpenSSH,
of an accepted type, and matching its public half)."""

from __future__ import annotations

from pathlib import Path

from ...context import Context
from ...model import Fix, Verdict, failed, passed, skipped, warned
from ...probes import keys
from ...probes.acl import acl_problems
from ...probes.openssh import KeyChoice, key_choice, loadable_keys, ssh_version
from ...registry import check
from ._common import DOCS, home_rel, icacls_fix, shell_path, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Tuple


def _key_fix_for_missing(ctx: Context, choice: KeyChoice) -> Tuple[str, Fix]:
    putty = [k for k in choice.stray if k.kind == "putty"]
    if putty:
        ppk = putty[0].path
        return (f"ssh tries none of its default key files, and {home_rel(ctx, ppk)} is a PuTTY key, which OpenSSH "
                "cannot read",
                Fix("Convert the PuTTY key to OpenSSH's format (or in PuTTYgen: Conversions → Export OpenSSH key):",
                    [f"puttygen {shell_path(ctx, ppk)} -O private-openssh -o ~/.ssh/id_{putty[0].key_type or 'rsa'}"]))
    if choice.stray:
        other = choice.stray[0].path
        return (f"ssh tries none of its default key files, and never tries {home_rel(ctx, other)} "
                "(it is not a default name)",
                Fix(f"Tell ssh to use that key for the login host ({ctx.expectations.login_host}): add these lines "
                    "to ~/.ssh/config:",
                    [f"Host {ctx.expectations.login_host}", f"    IdentityFile {home_rel(ctx, other)}"]))
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
                      details=[f"looked at ({source}): " + ", ".join(home_rel(ctx, p) for p in choice.config.identity_files)]
                      + ([choice.config.error] if choice.config.error else []))
    first = usable[0]
    names = ", ".join(home_rel(ctx, k.path) for k in usable)
    details = [f"from {source}"] + ([choice.config.error] if choice.config.error else [])
    if choice.stray:
        details.append("ssh never tries: " + ", ".join(home_rel(ctx, k.path) for k in choice.stray))
    kind = first.key_type or first.kind
    return passed(f"ssh will offer {names} ({kind})" if len(usable) == 1 else f"ssh will offer, in order: {names}",
                  observed={"files": [home_rel(ctx, k.path) for k in usable],
                            "fingerprints": [fp for fp in map(_offered_fingerprint, usable) if fp]},
                  details=details)


def _offered_fingerprint(key: keys.KeyFile) -> str:
    """The SHA256 fingerprint of the key ssh offers (from its public part, or its .pub beside it):
    instructors compare it with the server's authorized_keys, and a report never carries a key."""
    if key.public is not None:
        return key.public.fingerprint
    pub = keys.read_public_file(Path(str(key.path) + ".pub"))
    return pub.fingerprint if pub is not None else ""


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
        modes.append(f"{home_rel(ctx, key.path)} {info.mode:04o}")
        if info.uid != uid:
            notes.append(f"{home_rel(ctx, key.path)} belongs to user id {info.uid}: ssh does not check its mode")
            continue
        if info.mode & 0o077:
            bad.append((key.path, info.mode))
    if not bad:
        return passed(f"only you can read your key ({', '.join(modes)})", expected="0600 or stricter", details=notes)
    for path, _mode in bad:
        tighten(ctx, path, 0o600)
    listing = "; ".join(f"{home_rel(ctx, p)} has mode {m:04o}" for p, m in bad)
    return failed(f"{listing}: others can read it, so ssh ignores it (\"UNPROTECTED PRIVATE KEY FILE!\")",
                  Fix("Make the key readable only by you:", [f"chmod 600 {shell_path(ctx, p)}" for p, _ in bad]),
                  expected="0600", observed={home_rel(ctx, p): f"{m:04o}" for p, m in bad}, details=notes)


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
                      icacls_fix(ctx, path, principals)),
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
    path = shell_path(ctx, key.path)
    rel = home_rel(ctx, key.path)
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
    rel = home_rel(ctx, key.path)
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
    rel = home_rel(ctx, key.path)
    regen = Fix("Write the public half again from the private key (then install that .pub on the login node):",
                [f"ssh-keygen -y -f {shell_path(ctx, key.path)} > {shell_path(ctx, pub_path)}"])
    if not pub_path.exists():
        return warned(f"{rel} has no {pub_path.name} beside it: you need it to install the key on the server", regen,
                      expected=pub_path.name, observed="missing")
    pub = keys.read_public_file(pub_path)
    if pub is None:
        return failed(f"{home_rel(ctx, pub_path)} holds no readable public key line", regen, observed="unreadable")
    if key.public is None:
        return passed(f"{home_rel(ctx, pub_path)} holds a {pub.type} key {pub.fingerprint} (a {key.kind.upper()} "
                      "key carries no public half to compare without its passphrase)", observed=pub.fingerprint)
    if pub.blob != key.public.blob:
        return failed(f"{home_rel(ctx, pub_path)} is another key's public half ({pub.fingerprint}, but the private "
                      f"key's is {key.public.fingerprint})", regen, expected=key.public.fingerprint,
                      observed=pub.fingerprint)
    return passed(f"{home_rel(ctx, pub_path)} matches the private key ({pub.fingerprint})", observed=pub.fingerprint)
