"""SSH on the cluster's side: the authorized_keys file and sshd's StrictModes walk (`ssh.*` ids
that run on the login node or the server). Each verdict follows OpenSSH's own code
(auth2-pubkeyfile.c, misc.c: safe_path), proven in the tests against a real sshd.
"""

from __future__ import annotations

from pathlib import Path

from ...context import Context
from ...model import Fix, Verdict, failed, passed, warned
from ...probes import keys
from ...registry import check
from ._common import DOCS, home_rel, shell_path, tighten

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Tuple


FORWARD_BLOCKERS = ("no-port-forwarding", "restrict")


def _fingerprint(entry: keys.AuthorizedKey) -> str:
    return entry.key.fingerprint if entry.key is not None else ""


def _observed(good: List[keys.AuthorizedKey], broken: List[keys.AuthorizedKey]) -> Dict[str, Any]:
    """What the report carries: the usable keys' fingerprints (never the keys), so an instructor can
    match them with the key the student's laptop offers."""
    return {"fingerprints": [_fingerprint(e) for e in good], "broken_lines": len(broken)}


@check("ssh.authorized_keys", title="authorized_keys holds your key", sides=["jumpbox", "server"],
       docs=f"{DOCS}#install-the-key",
       fixes=("Add your public key (one line, from your computer's .pub file)", "Join the broken key into one line",
              "Remove the options that forbid port forwarding from your key's line",
              "Convert the PuTTY public key and replace the block"))
def authorized_keys(ctx: Context) -> Verdict:
    """Does ~/.ssh/authorized_keys hold your public key, on one well-formed line?

    sshd skips, without a word to you, any line it cannot read; options on the line can forbid
    the port forward the tunnel needs.
    """
    path = ctx.home / ".ssh" / "authorized_keys"
    rel = home_rel(ctx, path)
    add = Fix("Add your public key (one line, from your computer's .pub file) — on the login node, paste after the "
              "command, then press Ctrl+D:", ["cat >> ~/.ssh/authorized_keys"])
    info = ctx.platform.stat(path)
    if not info.exists:
        return failed(f"{rel} does not exist: the server knows no key of yours", add,
                      observed={"file": "missing", "fingerprints": []})
    if not info.is_file:
        return failed(f"{rel} is not a regular file: sshd ignores it", add,
                      observed={"file": "not a file", "fingerprints": []})
    text = ctx.read_text(path)
    if text is None:
        return failed(f"{rel} cannot be read", add, observed={"file": "unreadable", "fingerprints": []})
    entries = keys.parse_authorized_keys(text)
    details = []
    if ctx.side == "server":
        details.append("on the cluster, each launch copies the login node's authorized_keys into your server: "
                       "edit the login node's copy")
    want, problem = (keys.parse_pubkey_arg(ctx.options.pubkey) if ctx.options.pubkey else (None, ""))
    if problem:
        return failed(f"--pubkey cannot be read: {problem}", Fix("Give the key line from your .pub file, the .pub file, "
                                                                 "or its SHA256 fingerprint (ssh-keygen -l -f key.pub)", []))
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
            fix = Fix("Join the broken key into one line: delete the pieces and add the key again as one line:",
                      [f"nano {rel}", "cat >> ~/.ssh/authorized_keys"])
        return failed(f"your key ({want}) is not in {rel} ({len(good)} other key{'s' if len(good) != 1 else ''}"
                      f"{', and ' + str(len(broken)) + ' broken line(s)' if broken else ''})", fix,
                      expected=want, observed=_observed(good, broken), details=details)
    if not good:
        fix = add
        if any(e.continues_to for e in broken):
            fix = Fix("Join the broken key into one line: delete the pieces and add the key again as one line:",
                      [f"nano {rel}", "cat >> ~/.ssh/authorized_keys"])
        elif any(e.kind == keys.AK_RFC4716 for e in broken):
            fix = Fix("Convert the PuTTY public key and replace the block (on your computer):",
                      ["ssh-keygen -i -f key.pub"])
        why = f"{len(broken)} line(s) sshd cannot use" if broken else "no key lines"
        return failed(f"{rel} holds no usable key ({why})", fix, observed=_observed(good, broken), details=details)
    if blockers:
        entry, opts = blockers[0]
        status = failed if (mine or len(good) == 1) else warned
        return status(f"line {entry.line_no} of {rel} carries {', '.join(opts)}: the tunnel (ssh -L) will be refused "
                      "(\"administratively prohibited\")",
                      Fix("Remove the options that forbid port forwarding from your key's line (everything before "
                          "ssh-...):", [f"nano {rel}"]), observed={**_observed(good, broken), "options": opts},
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
                      Fix("Tidy the file: one key per line, no stray pieces:", [f"nano {rel}"]),
                      observed=_observed(good, broken), details=details + notes)
    found = f"your key is on line {target.line_no} of {rel}" if target else \
        f"{rel} holds {len(good)} well-formed key{'s' if len(good) != 1 else ''}"
    return passed(found, observed=_observed(good, broken), details=details)


@check("ssh.home.permissions", title="sshd accepts your home's permissions", sides=["jumpbox", "server"],
       docs=f"{DOCS}#permissions",
       fixes=("Stop others (and the group) from writing to these", "Take these back"))
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
            return failed(f"{path} does not exist", Fix("Create the folder:", [f"mkdir -m 700 {path}"]))
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
                          Fix("Take these back (ask the staff if you cannot):",
                              [f"chown $(id -u) {shell_path(ctx, p)}" for p in owned]), observed=rels(bad))
        for path, _ in bad + group_only:
            tighten(ctx, path, 0o755 if path.is_dir() else 0o644)
        return failed(f"{rels(bad)}: sshd ignores your key (\"bad ownership or modes\"), and you only see "
                      "\"Permission denied (publickey)\"",
                      Fix("Stop others (and the group) from writing to these:",
                          [f"chmod go-w {' '.join(shell_path(ctx, p) if p != home else '~' for p, _ in bad + group_only)}"]),
                      expected="not writable by group or others", observed=rels(bad))
    if group_only:
        return warned(f"{rels(group_only)}: Debian/Ubuntu's sshd accepts it (the group is yours alone), but "
                      "upstream OpenSSH refuses it",
                      Fix("Stop others (and the group) from writing to these:",
                          [f"chmod go-w {' '.join(shell_path(ctx, p) if p != home else '~' for p, _ in group_only)}"]),
                      observed=rels(group_only))
    return passed("your home, ~/.ssh and authorized_keys are writable only by you (as sshd requires)")
