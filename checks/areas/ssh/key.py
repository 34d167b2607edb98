"""The key ssh will offer to the login host: `ssh.key.*` (present, private, readable by OpenSSH,
of an accepted type, and matching its public half)."""

from __future__ import annotations

from pathlib import Path

from ...context import Context
from ...model import Fix, Verdict, failed, passed, skipped, warned
from ...probes import acl, keys
from ...probes.jupyter import cluster_user
from ...probes.openssh import KeyChoice, key_choice, loadable_keys, ssh_version
from ...registry import check
from ._common import DOCS, home_rel, lines_said, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

MAKE_KEY = "Make a key"
CONVERT_PUTTY = "Convert the PuTTY key to OpenSSH's format"
USE_THAT_KEY = "Tell ssh to use that key for the login host"


def convert_putty(ctx: Context, ppk: Path, target: Path) -> Fix:
    """PuTTYgen's export to OpenSSH's format: a command where puttygen has one, the menu on Windows."""
    if ctx.platform.is_windows:
        return Fix.under(CONVERT_PUTTY, f": open {ppk} in PuTTYgen, choose Conversions, then Export OpenSSH key, "
                         f"and save it as {ctx.shell.path(target)}", [])
    return Fix.under(CONVERT_PUTTY, " (puttygen comes with PuTTY: brew install putty, or sudo apt install "
                     "putty-tools):", [f"puttygen {ctx.shell.path(ppk)} -O private-openssh -o {ctx.shell.path(target)}"])


def _key_fix_for_missing(ctx: Context, choice: KeyChoice) -> Tuple[str, Fix]:
    putty = [k for k in choice.stray if k.kind == "putty"]
    if putty:
        ppk = putty[0].path
        target = ctx.home / ".ssh" / f"id_{putty[0].key_type or 'rsa'}"
        return (f"ssh tries none of its default key files, and {home_rel(ctx, ppk)} is a PuTTY key, which OpenSSH "
                "cannot read", convert_putty(ctx, ppk, target))
    if choice.stray:
        other = choice.stray[0].path
        host = ctx.expectations.login_host
        lines = [f"Host {host}", f"    IdentityFile {ctx.shell.config_path(other)}"]
        return (f"ssh tries none of its default key files, and never tries {home_rel(ctx, other)} "
                "(it is not a default name)",
                Fix.under(USE_THAT_KEY, f" ({host}): this adds the lines {lines_said(lines)} to ~/.ssh/config:",
                          [ctx.shell.append_lines(ctx.home / ".ssh" / "config", lines)]))
    return ("no private key: ssh has nothing to offer, so you will be asked for your password every time",
            Fix.under(MAKE_KEY, " (press Enter to accept the default file name; a passphrase is recommended):",
                      ["ssh-keygen -t ed25519"]))


TAKE_KEY_BACK = "Take the key file back"
MOVE_AND_MAKE = "Move what is there out of the way, then make a key"


def _key_in_the_way(ctx: Context, key: keys.KeyFile, source: str) -> Verdict:
    """A file at a name ssh tries that is no key: say what is there, not "no key"."""
    rel = home_rel(ctx, key.path)
    what = key.error or ("is empty" if key.kind == "empty" else "cannot be read")
    summary = f"{rel} {what}: ssh cannot use it as a key, and ssh-keygen would ask to overwrite it"
    if "permission denied" in what and not ctx.platform.is_windows:
        fix = Fix.under(TAKE_KEY_BACK, " (it belongs to someone else, often after a 'sudo ssh-keygen'):",
                        [ctx.shell.take_ownership(key.path), ctx.shell.chmod("600", [key.path])])
    else:
        old = key.path.with_name(key.path.name + ".old")
        fix = Fix.under(MOVE_AND_MAKE, ":", [ctx.shell.move(key.path, old), "ssh-keygen -t ed25519"])
    return failed(summary, fix, expected="a private key", observed=what, details=[f"looked at ({source})"])


@check("ssh.key.present", title="A key ssh will offer", sides=["laptop"], requires=("ssh.dir",),
       docs=f"{DOCS}#create-a-key", fixes=(MAKE_KEY, CONVERT_PUTTY, USE_THAT_KEY, TAKE_KEY_BACK, MOVE_AND_MAKE))
def key_present(ctx: Context) -> Verdict:
    """Is there a private key that ssh will offer to the login host?

    ssh only tries certain file names (id_ed25519, id_rsa, ...) unless ~/.ssh/config names
    another; a key saved under another name, or in PuTTY's format, is never offered.
    """
    choice = key_choice(ctx)
    usable = [k for k in choice.offered if k.kind not in ("unreadable", "empty")]
    source = "ssh -G" if choice.config.from_ssh else "OpenSSH's default key names"
    blocked = [k for k in choice.offered if k.kind in ("unreadable", "empty")]
    if not usable and blocked:
        return _key_in_the_way(ctx, blocked[0], source)
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


KEY_PRIVATE = "Make the key readable only by you"
KEY_ACL = "Remove every other account's access to the key"
KEY_OWNER = "Make the key yours again"


@check("ssh.key.permissions", title="Private key is private", sides=["laptop"], requires=("ssh.key.present",),
       docs=f"{DOCS}#permissions", fixes=(KEY_PRIVATE, KEY_ACL, KEY_OWNER))
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
        note = tighten(ctx, path, 0o600)
        notes += [note] if note else []
    listing = "; ".join(f"{home_rel(ctx, p)} has mode {m:04o}" for p, m in bad)
    return failed(f"{listing}: others can read it, so ssh ignores it (\"UNPROTECTED PRIVATE KEY FILE!\")",
                  Fix.under(KEY_PRIVATE, ":", [ctx.shell.chmod("600", [p for p, _ in bad])]),
                  expected="0600", observed={home_rel(ctx, p): f"{m:04o}" for p, m in bad}, details=notes)


def _windows_key_permissions(ctx: Context, candidates: List[keys.KeyFile]) -> Verdict:
    found: Dict[Path, acl.AclProblems] = {}
    for key in candidates:
        problems = acl.acl_problems(ctx, key.path, read_ok=False)
        if not problems.ok:
            found[key.path] = problems
    if not found:
        return passed("only you (and the system accounts) can read your key",
                      details=["Windows' OpenSSH checks the file's access list, not mode bits"])
    path, problems = next(iter(found.items()))
    shown = ctx.shell.path(path)
    observed = {home_rel(ctx, p): _acl_observed(p_) for p, p_ in found.items()}
    details = ["mode bits mean nothing on Windows: the access list (ACL) is what ssh checks"]
    if ctx.options.fix:
        details.append("--fix does not change access lists on Windows: run the command below")
    if problems.unknown:
        return warned(f"{shown}: {problems.unknown}, so whether Windows' OpenSSH accepts it is not known",
                      Fix.under(KEY_ACL, ", keeping only yours (this is safe to run either way):",
                                ctx.shell.private(path)), observed=observed, details=details)
    if problems.owner and not problems.others:
        return failed(f"{shown} belongs to {acl.describe(problems.owner)}, not to you: Windows' OpenSSH ignores it "
                      "(\"Bad owner\")", Fix.under(KEY_OWNER, ":", [ctx.shell.take_ownership(path)]),
                      expected="owned by you, SYSTEM or Administrators", observed=observed, details=details)
    commands = ctx.shell.private(path, problems.explicit)
    if problems.owner:
        commands = [ctx.shell.take_ownership(path)] + commands
    who = ", ".join(acl.describe(s) for s in problems.others)
    return failed(f"{shown} can also be read by {who}: Windows' OpenSSH ignores it (\"UNPROTECTED PRIVATE KEY "
                  "FILE!\")", Fix.under(KEY_ACL, ", keeping only yours (one command, in PowerShell):", commands),
                  expected="only you, SYSTEM and Administrators", observed=observed, details=details)


def _acl_observed(problems: acl.AclProblems) -> Dict[str, object]:
    return {"others": list(problems.others), "owner": problems.owner or None, "unknown": problems.unknown or None}


def _windows_openssh(ctx: Context) -> bool:
    banner, where = ssh_version(ctx)
    return bool(banner) and ctx.platform.is_windows and "git" not in where.lower()


CRLF_TO_LF = "Convert the line endings to Unix (LF)"
ADD_NEWLINE = "Add the missing newline at the end of the key"
REMOVE_BOM = "Remove the invisible mark at the start of the file"
REMOVE_LEADING = "Remove what comes before the BEGIN line"
POINT_AT_PRIVATE = "This is not a private key: point ssh at the private half"
MAKE_NEW_KEY = "Make a new key"


@check("ssh.key.format", title="Key file OpenSSH can read", sides=["laptop"], requires=("ssh.key.present",),
       docs=f"{DOCS}#key-files",
       fixes=(CRLF_TO_LF, ADD_NEWLINE, REMOVE_BOM, REMOVE_LEADING, CONVERT_PUTTY, POINT_AT_PRIVATE, MAKE_NEW_KEY))
def key_format(ctx: Context) -> Verdict:
    """Is the key file one OpenSSH can load (OpenSSH or PEM format, Unix line endings)?

    A key with Windows line endings, without its last newline, or saved by PuTTY makes ssh say
    "invalid format" or "error in libcrypto".
    """
    candidates = loadable_keys(ctx)
    if not candidates:
        return skipped("no private key to look at (see ssh.key.present)")
    key = candidates[0]
    rel = home_rel(ctx, key.path)
    shell = ctx.shell
    if key.kind == "putty":
        target = key.path.with_suffix("") if key.path.suffix == ".ppk" else \
            ctx.home / ".ssh" / f"id_{key.key_type or 'rsa'}"
        return failed(f"{rel} is a PuTTY key (.ppk, version {key.putty_version}): OpenSSH cannot read it",
                      convert_putty(ctx, key.path, target), observed="putty")
    if key.kind in ("public", "rfc4716"):
        return failed(f"{rel} holds a public key: ssh needs the private half here",
                      Fix.under(POINT_AT_PRIVATE, " (the file without .pub), or make a new key:",
                                ["ssh-keygen -t ed25519"]), observed=key.kind)
    if key.kind == "unknown" or "corrupt" in key.problems or "truncated" in key.problems:
        why = key.error or ("it is cut short" if "truncated" in key.problems else "it is not a key file ssh knows")
        return failed(f"{rel} is not a private key OpenSSH can read ({why})",
                      Fix.under(MAKE_NEW_KEY, " (and install its .pub on the login node):", ["ssh-keygen -t ed25519"]),
                      observed=key.kind)
    if "crlf" in key.problems:
        fix = Fix.under(CRLF_TO_LF, ":", [shell.rewrite_bytes(key.path, "d.replace(b'\\r\\n', b'\\n')")])
        if _windows_openssh(ctx):
            return warned(f"{rel} has Windows line endings (CRLF): Windows' OpenSSH accepts them, but other "
                          "ssh programs (Git Bash, WSL, the server) say \"invalid format\"", fix, observed="CRLF")
        return failed(f"{rel} has Windows line endings (CRLF): ssh says \"invalid format\" or \"error in libcrypto\"",
                      fix, expected="LF", observed="CRLF")
    if "bom" in key.problems:
        return failed(f"{rel} starts with an invisible byte-order mark (saved by a text editor): ssh cannot read it",
                      Fix.under(REMOVE_BOM, ":", [shell.rewrite_bytes(
                          key.path, "d[3:] if d.startswith(b'\\xef\\xbb\\xbf') else d")]),
                      observed="BOM")
    if "leading-space" in key.problems:
        return failed(f"{rel} does not start with its -----BEGIN line (spaces or blank lines before it)",
                      Fix.under(REMOVE_LEADING, ":", [shell.rewrite_bytes(key.path, "d.lstrip()")]),
                      observed="text before -----BEGIN")
    if "no-final-newline" in key.problems:
        return failed(f"{rel} lacks the newline after its last line: ssh says \"invalid format\"",
                      Fix.under(ADD_NEWLINE, ":", [shell.add_final_newline(key.path)]), observed="no final newline")
    label = {"openssh": "OpenSSH format", "pem": "PEM format", "pkcs8": "PKCS#8 format"}[key.kind]
    enc = ", passphrase-protected" if key.encrypted else ""
    return passed(f"{rel} is a {key.key_type or 'private'} key in {label}{enc}", observed=key.kind)


NEW_ED25519 = "Make a new ed25519 key and install it on the login node"


@check("ssh.key.type", title="Key type and size", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#create-a-key", fixes=(NEW_ED25519,))
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
    target = f"{cluster_user(ctx) or '<username>'}@{exp.login_host}"
    new_pub = ctx.home / ".ssh" / "id_ed25519.pub"
    new_key = Fix.under(NEW_ED25519, " (press Enter to accept the default file name; the second command asks "
                        "your cluster password once):",
                        ["ssh-keygen -t ed25519", ctx.shell.install_public_key(new_pub, target)])
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


WRITE_PUBLIC = "Write the public half again from the private key"


@check("ssh.key.pair", title="Public half matches", sides=["laptop"], requires=("ssh.key.format",),
       docs=f"{DOCS}#install-the-key", fixes=(WRITE_PUBLIC,))
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
    regen = Fix.under(WRITE_PUBLIC, " (then install that .pub on the login node):",
                      [ctx.shell.write_public_half(key.path, pub_path)])
    if not pub_path.exists():
        return warned(f"{rel} has no {pub_path.name} beside it: you need it to install the key on the server", regen,
                      expected=pub_path.name, observed="missing")
    pub, problem = keys.read_public(pub_path)
    if pub is None:
        return failed(f"{home_rel(ctx, pub_path)} {problem}", regen, observed="unreadable")
    if key.public is None:
        return passed(f"{home_rel(ctx, pub_path)} holds a {pub.type} key {pub.fingerprint} (a {key.kind.upper()} "
                      "key carries no public half to compare without its passphrase)", observed=pub.fingerprint)
    if pub.blob != key.public.blob:
        return failed(f"{home_rel(ctx, pub_path)} is another key's public half ({pub.fingerprint}, but the private "
                      f"key's is {key.public.fingerprint})", regen, expected=key.public.fingerprint,
                      observed=pub.fingerprint)
    return passed(f"{home_rel(ctx, pub_path)} matches the private key ({pub.fingerprint})", observed=pub.fingerprint)
