"""Explain a pasted error message: its cause, the fix, and the check that confirms it.

`selfcheck explain "<text>"` in a terminal, `checks.explain("<text>")` in a notebook. The text
is only matched against known messages; it is never echoed back unredacted.
"""

from __future__ import annotations

import html as _html
import re
import sys

from .._record import Record
from ..model import Fix
from ..redact import Redactor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Match, Optional, Sequence, TextIO, Tuple

HOST = "dsmlp-login.ucsd.edu"


class Pattern(Record):
    """One known message: how to recognise it, what it means, what to do."""

    name: str
    regex: "re.Pattern[str]"
    example: str
    cause: str
    fix: Callable[[Match[str]], Fix]
    check: str


def _q(path: str) -> str:
    return f'"{path}"' if " " in path else path


PATTERNS: Tuple[Pattern, ...] = (
    Pattern(
        "unprotected-key",
        re.compile(r"UNPROTECTED PRIVATE KEY FILE|Permissions (?:0?[0-7]{3,4} )?for '([^']+)' are too open"
                   r"|Load key \"([^\"]+)\": bad permissions"),
        "WARNING: UNPROTECTED PRIVATE KEY FILE!",
        "Your private key can be read by other users of your computer, so ssh refuses to use it.",
        lambda m: Fix("Make the key readable only by you:",
                      [f"chmod 600 {_q(m.group(1) or m.group(2) or '~/.ssh/id_ed25519')}"]),
        "ssh.key.permissions",
    ),
    Pattern(
        "bad-config-permissions",
        re.compile(r"Bad owner or permissions on (\S+)"),
        "Bad owner or permissions on /home/you/.ssh/config",
        "Someone other than you can change this ssh file (or it is not yours), so ssh refuses to read it.",
        lambda m: Fix("Make the file writable only by you:", [f"chmod 600 {_q(m.group(1))}"]),
        "ssh.config",
    ),
    Pattern(
        "invalid-key-format",
        re.compile(r"Load key \"([^\"]+)\": (?:invalid format|error in libcrypto)|error in libcrypto"),
        'Load key "/home/you/.ssh/id_ed25519": invalid format',
        "ssh cannot read the private key file: it has Windows line endings (CRLF), is a PuTTY .ppk "
        "key, lost its last newline, or is not a private key at all.",
        lambda m: Fix("Find out which with the self-check, then follow its fix:",
                      ["python3 -m checks --only ssh.key"]),
        "ssh.key.format",
    ),
    Pattern(
        "publickey-denied",
        re.compile(r"Permission denied \((?:[a-z-]+,)*publickey(?:,[a-z-]+)*\)"),
        "user@dsmlp-login.ucsd.edu: Permission denied (publickey).",
        "The server accepted none of the keys your ssh offered: the public key is not in "
        "~/.ssh/authorized_keys on the login node, the user name is wrong, or ssh never offered "
        "your key (wrong file name, loose permissions, not loaded).",
        lambda m: Fix("See which keys ssh offers and what the server says, then check your keys:",
                      [f"ssh -v you@{HOST} 2>&1 | grep -E 'Offering|Authenticated|denied'",
                       "python3 -m checks --only ssh"]),
        "ssh.key.present",
    ),
    Pattern(
        "host-key-changed",
        re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for (\S+) has changed"),
        "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!",
        "The login host's key is not the one your computer remembers. Usually the cluster was "
        "rebuilt; it could also be someone in the middle. Check the course announcements first.",
        lambda m: Fix("Once the staff confirm the login host changed, forget its old key:",
                      [f"ssh-keygen -R {m.group(1) or HOST}"]),
        "ssh.login",
    ),
    Pattern(
        "host-key-verification",
        re.compile(r"Host key verification failed"),
        "Host key verification failed.",
        "ssh could not confirm the login host's identity: its key is not in known_hosts and ssh "
        "could not ask you, or it changed.",
        lambda m: Fix("Connect once in a terminal and answer 'yes' after checking the fingerprint:",
                      [f"ssh you@{HOST}"]),
        "ssh.login",
    ),
    Pattern(
        "timed-out",
        re.compile(r"connect to host (\S+) port (\d+): (?:Connection|Operation) timed out|Connection timed out"),
        f"ssh: connect to host {HOST} port 22: Connection timed out",
        "Your computer cannot reach the login host at all: the network blocks SSH (some public "
        "Wi-Fi does), you are offline, or the host is down.",
        lambda m: Fix("Try another network, or connect through the campus VPN, then test:",
                      [f"ssh -o ConnectTimeout=10 you@{m.group(1) or HOST} true"]),
        "ssh.login",
    ),
    Pattern(
        "unresolved-host",
        re.compile(r"Could not resolve hostname ([^:\s]+)"),
        "ssh: Could not resolve hostname dsmlp-login: Name or service not known",
        "The host name is misspelled or incomplete (the full name ends in .ucsd.edu), or you are offline.",
        lambda m: Fix("Use the login host's full name:", [f"ssh you@{HOST}"]),
        "ssh.login",
    ),
    Pattern(
        "ssh-refused",
        re.compile(r"connect to host (\S+) port (\d+): Connection refused"),
        f"ssh: connect to host {HOST} port 22: Connection refused",
        "The host answered but nothing accepts SSH on that port: a wrong host or port, or the service is down.",
        lambda m: Fix("Check the host name and use the default port:", [f"ssh you@{HOST}"]),
        "ssh.login",
    ),
    Pattern(
        "channel-prohibited",
        re.compile(r"open failed: administratively prohibited"),
        "channel 2: open failed: administratively prohibited: open failed",
        "The server forbids port forwarding for this key: its line in authorized_keys carries "
        "'restrict' or 'no-port-forwarding'.",
        lambda m: Fix("On the login node, remove those options from your key's line, then check it:",
                      ["python3 -m checks --side jumpbox --only ssh.authorized_keys"]),
        "ssh.authorized_keys",
    ),
    Pattern(
        "channel-connect-failed",
        re.compile(r"channel (\d+): open failed: connect failed: ([^\r\n]+)"),
        "channel 2: open failed: connect failed: Connection refused",
        "The tunnel itself works, but nothing answers at the port it forwards to: the port in your "
        "ssh -L command is not your server's, or your server has stopped. It is printed in the "
        "tunnel's terminal each time the browser tries the page.",
        lambda m: Fix("Check your server is running, take the port from the URL it printed, and "
                      "restart the tunnel with that port:",
                      [f"ssh -N -L 8889:127.0.0.1:<port> you@{HOST}"]),
        "tunnel.jupyter",
    ),
    Pattern(
        "local-port-busy",
        re.compile(r"bind \[?([^\]\s]*)\]?:(\d+): Address already in use|cannot listen to port: (\d+)"
                   r"|Could not request local forwarding"),
        "bind [127.0.0.1]:8889: Address already in use",
        "Something on your computer already uses the local port: an older tunnel still running, "
        "or a Jupyter of your own.",
        lambda m: Fix("Find what holds the port and stop it (or pick another local port):",
                      [f"lsof -nP -iTCP:{m.group(2) or m.group(3) or 8889} -sTCP:LISTEN   # macOS/Linux",
                       f"netstat -ano | findstr :{m.group(2) or m.group(3) or 8889}   # Windows"]),
        "tunnel.local_port",
    ),
    Pattern(
        "too-many-auth",
        re.compile(r"Too many authentication failures"),
        "Received disconnect from host: Too many authentication failures",
        "Your ssh agent offered so many keys that the server gave up before reaching the right one.",
        lambda m: Fix("Offer only the key meant for this host:",
                      [f"ssh -o IdentitiesOnly=yes -i ~/.ssh/id_ed25519 you@{HOST}"]),
        "ssh.agent",
    ),
    Pattern(
        "no-mutual-algorithm",
        re.compile(r"no mutual signature algorithm|no matching host key type found"),
        "send_pubkey_test: no mutual signature algorithm",
        "Your key or client uses an algorithm the other side no longer accepts (an old RSA or DSA key).",
        lambda m: Fix("Make a modern key and install it on the login node:",
                      ["ssh-keygen -t ed25519", f"ssh-copy-id you@{HOST}"]),
        "ssh.key.type",
    ),
    Pattern(
        "jupyter-invalid-token",
        re.compile(r"Invalid credentials|403 Forbidden|'_xsrf' argument missing"),
        "Invalid credentials",
        "Jupyter did not accept the token: it is from an older launch, was copied partly, or "
        "another Jupyter (your own) holds the local port.",
        lambda m: Fix("Check the tunnel and token with the URL your latest launch printed:",
                      ['python3 -m checks --only tunnel --url "<the URL>"']),
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

    def __str__(self) -> str:
        return self.text()

    def text(self, columns: int = 0) -> str:
        """Plain text, prose wrapped to `columns` (0: not wrapped; commands never are: they are pasted)."""
        import textwrap

        from ..invocation import command

        run = command()
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
        return self.redact("\n".join(lines)) + "\n"

    def _repr_html_(self) -> str:
        if not self.matches:
            return "<p>That message is not one the self-check knows. Run <code>checks.run()</code>.</p>"

        def esc(text: str) -> str:
            return _html.escape(self.redact(text))

        items = []
        for m in self.matches:
            cmds = "<pre><code>" + esc("\n".join(m.fix.commands)) + "</code></pre>" if m.fix.commands else ""
            items.append(f"<li><p><code>{esc(m.pattern.example)}</code></p><p><strong>Cause:</strong> "
                         f"{esc(m.pattern.cause)}</p><p><strong>Fix:</strong> {esc(m.fix.text)}</p>{cmds}"
                         f"<p>Confirm with the check <code>{esc(m.pattern.check)}</code>.</p></li>")
        return "<ul class=\"selfcheck-explain\">" + "".join(items) + "</ul>"


def explain(text: str) -> Explanation:
    """Every known message found in `text`, in the order of the table."""
    text = text if isinstance(text, str) else str(text)
    found: List[Match_] = []
    for pattern in PATTERNS:
        m = pattern.regex.search(text)
        if m:
            found.append(Match_(pattern, pattern.fix(m)))
    return Explanation(tuple(found), Redactor())


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

    stdout.write(result.text(wrap_width(stdout)))
    return 0 if result.matches else 1
