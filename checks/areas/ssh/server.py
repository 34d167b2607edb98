"""SSH on the cluster's side: the authorized_keys file and sshd's StrictModes walk (`ssh.*` ids
that run on the login node or the server). Each verdict follows OpenSSH's own code
(auth2-pubkeyfile.c, misc.c: safe_path), proven in the tests against a real sshd.
"""

from __future__ import annotations

import base64
from pathlib import Path

from ...context import Context
from ...files import TOO_LARGE, FileProblem
from ...model import Fix, Verdict, failed, passed, warned
from ...probes import authorized_keys as authorized_keys_
from ...probes import keys
from ...registry import check
from ._common import DOCS, home_rel, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple


FORWARD_BLOCKERS = ("no-port-forwarding", "restrict")
MAX_AUTHORIZED_KEYS = 8 << 20  # a few hundred keys are a few hundred KB


def _fingerprint(entry: authorized_keys_.AuthorizedKey) -> str:
    return entry.key.fingerprint if entry.key is not None else ""


def _observed(good: List[authorized_keys_.AuthorizedKey], broken: List[authorized_keys_.AuthorizedKey]) -> Dict[str, Any]:
    """What the report carries: the usable keys' fingerprints (never the keys), so an instructor can
    match them with the key the student's laptop offers."""
    return {"fingerprints": [_fingerprint(e) for e in good], "broken_lines": len(broken)}


ADD_KEY = "Add your public key"
GIVE_PUBKEY = "Give the key line from your .pub file, the .pub file, or its SHA256 fingerprint"
JOIN_KEY = "Join the broken key into one line"
CONVERT_RFC4716 = "Convert the PuTTY public key and replace the block"
REMOVE_OPTIONS = "Remove the options that forbid port forwarding from your key's line"
TIDY = "Tidy the file"
SAVE_UTF8 = "Save the file as UTF-8"
ONE_PER_LINE = "Keep one line per key"


def _key_line(value: Optional[str]) -> Optional[str]:
    """The --pubkey value as one authorized_keys line, when it is a key line (not a fingerprint)."""
    if not value:
        return None
    try:
        key = keys.parse_public_line(value.strip())
    except (keys.KeyFormatError, ValueError):
        return None
    return " ".join(x for x in (key.wire_type, base64.b64encode(key.blob).decode("ascii"), key.comment) if x)


def _add_fix(ctx: Context) -> Fix:
    """Append the student's key line: written by a command when --pubkey gave the line, pasted otherwise."""
    path = ctx.home / ".ssh" / "authorized_keys"
    shell = ctx.shell
    first = [] if path.parent.is_dir() else [f"mkdir -p -m 700 {shell.path(path.parent)}"]
    line = _key_line(ctx.options.pubkey)
    if line is not None:
        return Fix.under(ADD_KEY, " (the line you gave with --pubkey) on the login node:",
                         first + [shell.append_lines(path, [line])])
    return Fix.under(ADD_KEY, " (one line, from your computer's .pub file) — on the login node, run the command, "
                     "paste the line, then press Enter and Ctrl+D:", first + [f"cat >> {shell.path(path)}"])


@check("ssh.authorized_keys", title="authorized_keys holds your key", sides=["jumpbox", "server"],
       docs=f"{DOCS}#install-the-key",
       fixes=(ADD_KEY, GIVE_PUBKEY, JOIN_KEY, CONVERT_RFC4716, REMOVE_OPTIONS, TIDY, SAVE_UTF8, ONE_PER_LINE))
def authorized_keys(ctx: Context) -> Verdict:
    """Does ~/.ssh/authorized_keys hold your public key, on one well-formed line?

    sshd skips, without a word to you, any line it cannot read; options on the line can forbid
    the port forward the tunnel needs.
    """
    path = ctx.home / ".ssh" / "authorized_keys"
    rel = home_rel(ctx, path)
    add = _add_fix(ctx)
    edit = ctx.shell.edit(path)
    info = ctx.platform.stat(path)
    if not info.exists:
        return failed(f"{rel} does not exist: the server knows no key of yours", add,
                      observed={"file": "missing", "fingerprints": []})
    if not info.is_file:
        return failed(f"{rel} is not a regular file: sshd ignores it", add,
                      observed={"file": "not a file", "fingerprints": []})
    try:
        content = ctx.read_file(path, MAX_AUTHORIZED_KEYS, what="an authorized_keys file")
    except FileProblem as exc:
        if exc.kind == TOO_LARGE:
            return warned(f"{rel} {exc.reason}: it cannot be checked here",
                          Fix.under(ONE_PER_LINE, ": look at what else is in the file:", [f"ls -l {ctx.shell.path(path)}"]),
                          observed={"file": "too large"})
        return failed(f"{rel} {exc.reason}", add, observed={"file": "unreadable", "fingerprints": []})
    if content.utf16:
        return failed(f"{rel} is saved as UTF-16 text (PowerShell's way): sshd cannot read any key in it",
                      Fix.under(SAVE_UTF8, " (on the login node):",
                                [f"iconv -f UTF-16 -t UTF-8 {ctx.shell.path(path)} > {ctx.shell.path(path)}.utf8",
                                 ctx.shell.move(path.with_name(path.name + ".utf8"), path)]),
                      expected="UTF-8", observed={"file": content.encoding, "fingerprints": []})
    # sshd reads bytes: a byte-order mark stays in front of the first line and spoils it.
    entries = authorized_keys_.parse_authorized_keys(("\ufeff" if content.bom else "") + content.text)
    details = []
    if ctx.side == "server":
        details.append("on the cluster, each launch copies the login node's authorized_keys into your server: "
                       "edit the login node's copy")
    want, problem = (keys.parse_pubkey_arg(ctx.options.pubkey) if ctx.options.pubkey else (None, ""))
    if problem:
        return failed(f"--pubkey cannot be read: {problem}", Fix.under(
            GIVE_PUBKEY, " (ssh-keygen -l -f key.pub prints the fingerprint)", []))
    broken = [e for e in entries if e.problem]
    good = [e for e in entries if e.key is not None]
    mine = [e for e in good if want and _fingerprint(e) == want]
    blockers = [(e, [o for o in FORWARD_BLOCKERS if o in e.options and not ("restrict" == o and "port-forwarding" in e.options)]
                 + (["permitopen"] if "permitopen" in e.options else [])) for e in (mine or good)]
    blockers = [(e, b) for e, b in blockers if b]
    for e in broken:
        lines = ", ".join(str(n) for n in (e.line_no,) + e.continues_to)
        details.append(f"line{'s' if e.continues_to else ''} {lines}: {e.problem}")
    crlf = any(e.crlf for e in entries)
    if want and not mine:
        fix = add
        if any(e.continues_to for e in broken):
            fix = Fix.under(JOIN_KEY, ": delete the pieces in the editor, then add the key again as one line:",
                            [edit, *add.commands])
        return failed(f"your key ({want}) is not in {rel} ({len(good)} other key{'s' if len(good) != 1 else ''}"
                      f"{', and ' + str(len(broken)) + ' broken line(s)' if broken else ''})", fix,
                      expected=want, observed=_observed(good, broken), details=details)
    if not good:
        fix = add
        if any(e.continues_to for e in broken):
            fix = Fix.under(JOIN_KEY, ": delete the pieces in the editor, then add the key again as one line:",
                            [edit, *add.commands])
        elif any(e.kind == authorized_keys_.AK_RFC4716 for e in broken):
            fix = Fix.under(CONVERT_RFC4716, ": on your computer, print it in OpenSSH's one-line form, then put "
                            "that line in place of the block:", ["ssh-keygen -i -f key.pub", edit])
        why = f"{len(broken)} line(s) sshd cannot use" if broken else "no key lines"
        return failed(f"{rel} holds no usable key ({why})", fix, observed=_observed(good, broken), details=details)
    if blockers:
        entry, opts = blockers[0]
        status = failed if (mine or len(good) == 1) else warned
        return status(f"line {entry.line_no} of {rel} carries {', '.join(opts)}: the tunnel (ssh -L) will be refused "
                      "(\"administratively prohibited\")",
                      Fix.under(REMOVE_OPTIONS, " (everything before ssh-...):", [edit]),
                      observed={**_observed(good, broken), "options": opts},
                      details=details)
    notes = []
    target = mine[0] if mine else None
    if target is not None and "from" in target.options:
        notes.append(f"from=\"{target.options['from']}\" lets this key in only from those addresses")
    if target is not None and "command" in target.options:
        notes.append("command= runs a fixed command instead of your shell")
    if broken or crlf or notes:
        why = "; ".join(notes + ([f"{len(broken)} line(s) sshd will skip"] if broken else [])
                        + (["Windows line endings (CRLF): OpenSSH copes, other servers do not"] if crlf else []))
        found = f"your key is on line {target.line_no}" if target else f"{len(good)} usable key(s)"
        return warned(f"{found} of {rel}, but: {why}",
                      Fix.under(TIDY, ": one key per line, no stray pieces:", [edit]),
                      observed=_observed(good, broken), details=details + notes)
    found = f"your key is on line {target.line_no} of {rel}" if target else \
        f"{rel} holds {len(good)} well-formed key{'s' if len(good) != 1 else ''}"
    return passed(found, observed=_observed(good, broken), details=details)


NO_GROUP_WRITE = "Stop others (and the group) from writing to these"
TAKE_BACK = "Take these back"
CREATE_DIR = "Create the folder"


@check("ssh.home.permissions", title="sshd accepts your home's permissions", sides=["jumpbox", "server"],
       docs=f"{DOCS}#permissions", fixes=(NO_GROUP_WRITE, TAKE_BACK, CREATE_DIR))
def home_permissions(ctx: Context) -> Verdict:
    """Would sshd's StrictModes accept your home, ~/.ssh and authorized_keys?

    If others can write to any of them, sshd silently ignores your key and you only see
    "Permission denied (publickey)". Read permissions do not matter to sshd.
    """
    import os

    uid = ctx.platform.uid()
    home = Path(os.path.realpath(ctx.home))
    target = Path(os.path.realpath(ctx.home / ".ssh" / "authorized_keys"))
    chain = [target]
    cur = target.parent
    while True:  # misc.c safe_path(): every directory up to and including the home
        chain.append(cur)
        if cur == home or cur == cur.parent:
            break
        cur = cur.parent
    bad, group_only = [], []
    for path in chain:
        info = ctx.platform.stat(path)
        if not info.exists:
            if path == target:
                continue  # reported by ssh.authorized_keys
            return failed(f"{path} does not exist", Fix.under(CREATE_DIR, ":", [ctx.shell.make_private_dir(path)]))
        if info.uid not in (0, uid):
            bad.append((path, f"belongs to user id {info.uid}"))
        elif info.mode & 0o002:
            bad.append((path, f"has mode {info.mode:04o} (others can write)"))
        elif info.mode & 0o020:
            if ctx.platform.group_is_private(info.gid, uid):
                group_only.append((path, f"has mode {info.mode:04o} (your own group can write)"))
            else:
                bad.append((path, f"has mode {info.mode:04o} (the group can write)"))

    def rels(items: List[Tuple[Path, str]]) -> str:
        return "; ".join(f"{home_rel(ctx, p) if p != home else '~'} {why}" for p, why in items)

    if bad:
        owned = [p for p, why in bad if why.startswith("belongs")]
        if owned:
            return failed(f"{rels(bad)}: sshd ignores your key (\"bad ownership or modes\")",
                          Fix.under(TAKE_BACK, " (ask the staff if you cannot):",
                                    [f"chown $(id -u) {ctx.shell.path(p)}" for p in owned]), observed=rels(bad))
        notes = [tighten(ctx, path, 0o755 if path.is_dir() else 0o644) for path, _ in bad + group_only]
        return failed(f"{rels(bad)}: sshd ignores your key (\"bad ownership or modes\"), and you only see "
                      "\"Permission denied (publickey)\"",
                      Fix.under(NO_GROUP_WRITE, ":", [ctx.shell.chmod("go-w", [p for p, _ in bad + group_only])]),
                      expected="not writable by group or others", observed=rels(bad), details=[n for n in notes if n])
    if group_only:
        return warned(f"{rels(group_only)}: Debian/Ubuntu's sshd accepts it (the group is yours alone), but "
                      "upstream OpenSSH refuses it",
                      Fix.under(NO_GROUP_WRITE, ":", [ctx.shell.chmod("go-w", [p for p, _ in group_only])]),
                      observed=rels(group_only))
    return passed("your home, ~/.ssh and authorized_keys are writable only by you (as sshd requires)")
