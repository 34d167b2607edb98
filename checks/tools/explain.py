"""Explain a pasted error message: its cause, the fix, and the check that confirms it.

`selfcheck explain "<text>"` in a terminal, `checks.explain("<text>")` in a notebook. The text
is only matched against known messages; it is never echoed back unredacted. The examples, causes
and fixes name the course's site (checks/site.py): its login host, and where its tunnel goes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .._record import Record
from .._text import printable
from ..model import Fix
from ..redact import Redactor
from ..render import for_stream
from ..shell import SINGLE_FILE, Invocation, Shell, for_platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Match, Optional, Sequence, TextIO, Tuple

    from ..site import Site


class Pattern(Record):
    """One known message: how to recognise it, what it means, what to do."""

    name: str
    source: str  # the regular expression, compiled on first use (importing this module stays cheap)
    example: str
    cause: str
    heading: str  # the fix's opening words, declared by the check that confirms it (ssh.login)
    build: Callable[[Match[str], Shell], Tuple[str, List[str]]]  # (the rest of the fix's text, commands)
    check: str

    @property
    def regex(self) -> "re.Pattern[str]":
        return re.compile(self.source)  # re keeps compiled patterns: compiled once

    def fix(self, match: Match[str], shell: Optional[Shell] = None) -> Fix:
        """The fix for this match, written for `shell` (bash/zsh from the home, by default: the book's form)."""
        rest, commands = self.build(match, shell or Shell(Path.home()))
        return Fix.under(self.heading, rest, commands)


def _key(shell: Shell, found: Optional[str]) -> Path:
    """The key file named in the message, or the usual one."""
    return Path(found) if found else shell.home / ".ssh" / "id_ed25519"


def _on_login_node(user_at_host: str, *args: str) -> str:
    """The single file on the login node (bash there, whatever the laptop runs), reached with ssh
    from the student's own shell."""
    return f'ssh {user_at_host} "' + " ".join(["python3", SINGLE_FILE, *args]) + '"'


_BUILT: Dict[str, Tuple[Pattern, ...]] = {}


def __getattr__(name: str) -> Any:
    """PATTERNS, HOST and USER_AT_HOST: for the course's site (the book's, or the single file's)."""
    if name == "PATTERNS":
        return patterns()
    if name in ("HOST", "USER_AT_HOST"):
        host = _course_site().login_host
        return host if name == "HOST" else f"<username>@{host}"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _course_site() -> "Site":
    """The course's site; a site that cannot be read (the CLI says why, exit 2) gives "<login host>"."""
    from ..site import DEFAULT_SITE, SiteError, load_site

    try:
        return load_site()
    except SiteError:
        return load_site(DEFAULT_SITE).replace(login_host="<login host>")


def patterns(site: Optional["Site"] = None) -> Tuple[Pattern, ...]:
    """The known messages, written for a site (the course's by default)."""
    if site is None:
        site = _course_site()
    key = f"{site.name}\0{site.source}\0{site.login_host}"
    if key not in _BUILT:
        _BUILT[key] = _patterns(site)
    return _BUILT[key]


def _patterns(site: "Site") -> Tuple[Pattern, ...]:
    HOST = site.login_host  # the constant it was before sites
    USER_AT_HOST = f"<username>@{HOST}"
    tunnel = f"ssh -N -L {site.local_port}:{site.forward_host('<node>')}:<port> {USER_AT_HOST}"
    if site.slurm:
        gone = ("The tunnel itself works, but nothing answers at the node and port it forwards to. Either your "
                "job or its Jupyter has stopped, or a new one runs on another node or port, so the node or port in "
                "your ssh -L command is not your server's; or an older tunnel, in another terminal, still holds the "
                "local port and forwards it to the previous server. It is printed in that tunnel's terminal each "
                "time the browser tries the page.")
        restart = ("Check your job and its Jupyter are running (squeue --me on the login node) and take the node "
                   "and port from the URL Jupyter printed; stop any older tunnel (Ctrl+C in its terminal); then "
                   "restart the tunnel with that node and port")
    else:
        gone = ("The tunnel itself works, but nothing answers at the port it forwards to. Either your server "
                "has stopped or a new launch chose another port, so the port in your ssh -L command is not "
                "your server's; or an older tunnel, in another terminal, still holds the local port and "
                "forwards it to the previous server's port. It is printed in that tunnel's terminal each time "
                "the browser tries the page.")
        restart = ("Check your server is running and take the port from the URL it printed; stop any older tunnel "
                   "(Ctrl+C in its terminal); then restart the tunnel with that port")
    return (
        Pattern(
            "unprotected-key",
            r"UNPROTECTED PRIVATE KEY FILE|Permissions (?:0?[0-7]{3,4} )?for '([^']+)' are too open"
                       r"|Load key \"([^\"]+)\": bad permissions",
            "WARNING: UNPROTECTED PRIVATE KEY FILE!",
            "Your private key can be read by other users of your computer, so ssh refuses to use it.",
            "Make the key readable only by you",
            lambda m, sh: (":", sh.private(_key(sh, m.group(1) or m.group(2)))),
            "ssh.key.permissions",
        ),
        Pattern(
            "bad-config-permissions",
            r"(?m)Bad owner or permissions on (\S.*?)\r?$",
            "Bad owner or permissions on /home/you/.ssh/config",
            "Someone other than you can change this ssh file (or it is not yours), so ssh refuses to read it.",
            "Make the file writable only by you",
            lambda m, sh: (":", sh.private(Path(m.group(1)))),
            "ssh.config",
        ),
        Pattern(
            "invalid-key-format",
            r"Load key \"([^\"]+)\": (?:invalid format|error in libcrypto)|error in libcrypto",
            'Load key "/home/you/.ssh/id_ed25519": invalid format',
            "ssh cannot read the private key file: it has Windows line endings (CRLF), is a PuTTY .ppk "
            "key, lost its last newline, or is not a private key at all.",
            "Find out which with the self-check, then follow its fix",
            lambda m, sh: (":", [sh.selfcheck("--only", "ssh.key")]),
            "ssh.key.format",
        ),
        Pattern(
            "publickey-denied",
            r"Permission denied \((?:[a-z-]+,)*publickey(?:,[a-z-]+)*\)",
            f"user@{HOST}: Permission denied (publickey).",
            "The server accepted none of the keys your ssh offered: the public key is not in "
            "~/.ssh/authorized_keys on the login node, the user name is wrong, or ssh never offered "
            "your key (wrong file name, loose permissions, not loaded).",
            "See which keys ssh offers and what the server says, then check your keys",
            lambda m, sh: (":", [sh.ssh_offers(USER_AT_HOST), sh.selfcheck("--only", "ssh")]),
            "ssh.key.present",
        ),
        Pattern(
            "host-key-changed",
            r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for (\S+) has changed",
            "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!",
            "The login host's key is not the one your computer remembers. Usually the cluster was "
            "rebuilt; it could also be someone in the middle. Check the course announcements first.",
            "Once the staff confirm the login host changed, forget its old key",
            lambda m, sh: (":", [f"ssh-keygen -R {sh.quote(m.group(1) or HOST)}"]),
            "ssh.login",
        ),
        Pattern(
            "host-key-verification",
            r"Host key verification failed",
            "Host key verification failed.",
            "ssh could not confirm the login host's identity: its key is not in known_hosts and ssh "
            "could not ask you, or it changed.",
            "Connect once in a terminal and answer yes after checking the fingerprint",
            lambda m, sh: (":", [f"ssh {USER_AT_HOST}"]),
            "ssh.login",
        ),
        Pattern(
            "timed-out",
            r"connect to host (\S+) port (\d+): (?:Connection|Operation) timed out|Connection timed out",
            f"ssh: connect to host {HOST} port 22: Connection timed out",
            "Your computer cannot reach the login host at all: the network blocks SSH (some public "
            "Wi-Fi does), you are offline, or the host is down.",
            "Try another network, or connect through the campus VPN, then test",
            lambda m, sh: (":", [f"ssh -o ConnectTimeout=10 <username>@{sh.quote(m.group(1) or HOST)} true"]),
            "ssh.login",
        ),
        Pattern(
            "unresolved-host",
            r"Could not resolve hostname ([^:\s]+)",
            f"ssh: Could not resolve hostname {HOST.split('.')[0]}: Name or service not known",
            f"The host name is misspelled or incomplete (the full name is {HOST}), or you are offline.",
            "Use the login host's full name",
            lambda m, sh: (":", [f"ssh {USER_AT_HOST}"]),
            "ssh.login",
        ),
        Pattern(
            "ssh-refused",
            r"connect to host (\S+) port (\d+): Connection refused",
            f"ssh: connect to host {HOST} port 22: Connection refused",
            "The host answered but nothing accepts SSH on that port: a wrong host or port, or the service is down.",
            "Check the host name and use the default port",
            lambda m, sh: (":", [f"ssh {USER_AT_HOST}"]),
            "ssh.login",
        ),
        Pattern(
            "channel-prohibited",
            r"open failed: administratively prohibited",
            "channel 2: open failed: administratively prohibited: open failed",
            "The server forbids port forwarding for this key: its line in authorized_keys carries "
            "'restrict' or 'no-port-forwarding'.",
            "On the login node, remove those options from your key's line, then check it",
            lambda m, sh: (":", [_on_login_node(USER_AT_HOST, "--side", "jumpbox", "--only", "ssh.authorized_keys")]),
            "ssh.authorized_keys",
        ),
        Pattern(
            "channel-connect-failed",
            r"channel (\d+): open failed: connect failed: ([^\r\n]+)",
            "channel 2: open failed: connect failed: Connection refused",
            gone,
            restart,
            lambda m, sh: (":", [tunnel]),
            "tunnel.jupyter",
        ),
        Pattern(
            "local-port-busy",
            r"bind \[?([^\]\s]*)\]?:(\d+): Address already in use|cannot listen to port: (\d+)"
                       r"|Could not request local forwarding",
            f"bind [127.0.0.1]:{site.local_port}: Address already in use",
            "Something on your computer already uses the local port: an older tunnel still running, "
            "or a Jupyter of your own.",
            "Find what holds the port and stop it (or pick another local port)",
            lambda m, sh: (":", [sh.port_owner(int(m.group(2) or m.group(3) or site.local_port))]),
            "tunnel.local_port",
        ),
        Pattern(
            "too-many-auth",
            r"Too many authentication failures",
            "Received disconnect from host: Too many authentication failures",
            "Your ssh agent offered so many keys that the server gave up before reaching the right one.",
            "Offer only the key meant for this host",
            lambda m, sh: (":", [f"ssh -o IdentitiesOnly=yes -i {sh.path(_key(sh, None))} {USER_AT_HOST}"]),
            "ssh.agent",
        ),
        Pattern(
            "no-mutual-algorithm",
            r"no mutual signature algorithm|no matching host key type found",
            "send_pubkey_test: no mutual signature algorithm",
            "Your key or client uses an algorithm the other side no longer accepts (an old RSA or DSA key).",
            "Make a modern key and install it on the login node",
            lambda m, sh: (" (press Enter to accept the default file name):",
                           ["ssh-keygen -t ed25519", sh.install_public_key(sh.home / ".ssh" / "id_ed25519.pub",
                                                                           USER_AT_HOST)]),
            "ssh.key.type",
        ),
        Pattern(
            "jupyter-invalid-token",
            r"Invalid credentials|403 Forbidden|'_xsrf' argument missing",
            "Invalid credentials",
            "Jupyter did not accept the token: it is from an older launch, was copied partly, or "
            "another Jupyter (your own) holds the local port.",
            "Check the tunnel and token with the URL your latest launch printed",
            lambda m, sh: (":", [sh.selfcheck("--only", "tunnel", "--url", '"<the URL>"')]),
            "tunnel.token",
        ),
    )


class Match_(Record):
    pattern: Pattern
    fix: Fix


class Explanation(Record):
    """What the pasted text means; renders as text and, in Jupyter, as HTML."""

    matches: Tuple[Match_, ...]
    redact: Redactor
    selfcheck: str = "python3 selfcheck.pyz"  # how the checker is started here

    def __str__(self) -> str:
        return self.text()

    def text(self, columns: int = 0) -> str:
        """Plain text, prose wrapped to `columns` (0: not wrapped; commands never are: they are pasted)."""
        import textwrap

        run = self.selfcheck
        if not self.matches:
            return ("That message is not one the self-check knows. Run the checks to find what is wrong:\n"
                    f"    {run}\n")

        def prose(text: str) -> List[str]:
            if not columns:
                return ["  " + text]
            return textwrap.wrap(text, max(40, columns), initial_indent="  ", subsequent_indent="    ")

        lines = []
        for m in self.matches:
            lines.append(f"{m.pattern.example}")
            lines += prose(f"Cause: {m.pattern.cause}")
            lines += prose(f"Fix: {m.fix.text}")
            lines += [f"      {c}" for c in m.fix.commands]
            lines.append(f"  Confirm with: {run} --only {m.pattern.check}")
        # Pieces of the pasted text reach the commands: escape sequences in it are shown, not sent.
        return "\n".join(printable(self.redact(line), newlines=False) for line in lines) + "\n"

    def _repr_html_(self) -> str:
        import html as _html

        if not self.matches:
            return "<p>That message is not one the self-check knows. Run <code>checks.run()</code>.</p>"

        def esc(text: str) -> str:
            return _html.escape(printable(self.redact(text)))

        items = []
        for m in self.matches:
            cmds = "<pre><code>" + esc("\n".join(m.fix.commands)) + "</code></pre>" if m.fix.commands else ""
            items.append(f"<li><p><code>{esc(m.pattern.example)}</code></p><p><strong>Cause:</strong> "
                         f"{esc(m.pattern.cause)}</p><p><strong>Fix:</strong> {esc(m.fix.text)}</p>{cmds}"
                         f"<p>Confirm with the check <code>{esc(m.pattern.check)}</code>.</p></li>")
        return "<ul class=\"selfcheck-explain\">" + "".join(items) + "</ul>"


def explain(text: str, shell: Optional[Shell] = None) -> Explanation:
    """Every known message found in `text`, in the order of the table, with fixes for `shell`
    (by default the shell of the computer this runs on)."""
    text = text if isinstance(text, str) else str(text)
    shell = shell or _local_shell()
    found: List[Match_] = []
    for pattern in patterns():
        m = pattern.regex.search(text)
        if m:
            found.append(Match_(pattern, pattern.fix(m, shell)))
    return Explanation(tuple(found), Redactor(), shell.selfcheck())


def _local_shell() -> Shell:
    from ..platform import Platform

    return for_platform(Platform.current().is_windows, Path.home(), Invocation.current())


def main(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """`selfcheck explain "<text>"`: 0 when the message was recognised, 1 when not."""
    if argv in (["-h"], ["--help"]):
        stdout.write('usage: selfcheck explain "<error text>"   (or paste it on standard input)\n')
        return 0
    text: Optional[str] = " ".join(argv) if argv else None
    if text is None:
        if sys.stdin is None or sys.stdin.isatty():
            stderr.write('selfcheck explain: give the error text, e.g. selfcheck explain "Permission denied (publickey)"\n')
            return 2
        text = sys.stdin.read(1 << 20)
    result = explain(text)
    from ..render import wrap_width

    stdout.write(for_stream(result.text(wrap_width(stdout)), stdout))
    return 0 if result.matches else 1
