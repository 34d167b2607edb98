"""The Jupyter tunnel: the URL the launch script printed, the local port, and what answers there.

Probes touch only the student's own machine (loopback), send GET requests only (no kernel is
started), are bounded by `--timeout`, and never print the token.
"""

from __future__ import annotations

import re

from urllib.parse import parse_qs, unquote, urlsplit

from ._record import Record
from ._text import digits
from .context import Context
from .net import HttpAnswer
from .model import Fix, Verdict, failed, passed, skipped, warned
from .registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

DOCS = "lessons/jupyter.html"
_TOKEN_RE = r"[0-9a-f]{48}|[0-9a-f]{64}"
_STRIP = " \t\r\n'\"`<>«»“”‘’([{"
_TRAILING = ".,;:!?)]}"


class ParsedUrl(Record):
    """The parts of a Jupyter URL, and what is wrong with it (if anything)."""

    host: str = ""
    port: Optional[int] = None
    user: str = ""
    base_url: str = "/"
    token: str = ""
    view: str = ""  # "tree", "lab" or "" after the user path
    problems: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def redacted(self) -> str:
        """The URL as it can be shown: token hidden."""
        tail = "?token=<redacted>" if self.token else ""
        port = f":{self.port}" if self.port else ""
        return f"http://{self.host}{port}{self.base_url}{self.view + '/' if self.view else ''}{tail}"


def parse_url(text: Optional[str]) -> ParsedUrl:
    """Read the URL the way students paste it; never raises."""
    if not isinstance(text, str) or not text.strip():
        return ParsedUrl(problems=("no URL was given",))
    raw = text.strip()
    found = re.search(r"(?i)https?://\S+", raw)
    if found:
        raw = found.group(0)
    elif " " in raw.strip(_STRIP):
        # "You may access ... at: dsmlp-login:12733/user/..." with no scheme: take the last word with a port.
        words = [w for w in raw.split() if re.search(r":\d", w)]
        raw = words[-1] if words else raw
    raw = raw.strip(_STRIP)
    while raw and raw[-1] in _TRAILING and not raw.endswith("/)"):
        raw = raw[:-1].rstrip(_STRIP)
    if not re.match(r"(?i)^[a-z][a-z0-9+.-]*://", raw):
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        return ParsedUrl(problems=(f"the URL cannot be read ({exc}); copy the whole line the launch script printed",))
    problems: List[str] = []
    if parts.scheme.lower() not in ("http", "https"):
        problems.append(f"the URL starts with {parts.scheme}://, not http://")
    if not host:
        problems.append("the URL has no host name (it should start with http://dsmlp-login...)")
    if port is None:
        problems.append("the URL has no port after the host name (like :12733); copy the whole URL")
    elif not 1 <= port <= 65535:
        problems.append(f"the port {port} is not a port number")
    path = unquote(parts.path or "/")
    user, base, view = "", "/", ""
    match = re.match(r"^/user/([^/]+)/?(.*)$", path)
    if match:
        user = match.group(1)
        base = f"/user/{user}/"
        rest = match.group(2).strip("/")
        view = rest.split("/", 1)[0] if rest.split("/", 1)[0] in ("tree", "lab", "notebooks", "edit") else ""
    else:
        problems.append("the URL has no /user/<username>/ part after the port; copy the whole URL")
    token = ""
    query = parse_qs(parts.query, keep_blank_values=True)
    if "token" in query:
        token = query["token"][0].strip(_STRIP)
    if not token and parts.fragment.startswith("token="):
        token = parts.fragment[len("token="):]
    if not token:
        problems.append("the URL has no ?token=... at the end; copy the whole URL, it is one long line")
    return ParsedUrl(host, port, user, base, token, view, tuple(problems))


def tunnel_command(ctx: Context, remote_port: object = "<port>", user: str = "") -> str:
    exp = ctx.expectations
    who = f"{user}@" if user else "<username>@"
    return f"ssh -N -L {exp.local_port}:{exp.forward_host}:{remote_port} {who}{exp.login_host}"


def local_addresses(ctx: Context, user: str) -> Tuple[str, str]:
    base = f"http://localhost:{ctx.expectations.local_port}/user/{user or '<username>'}/"
    return base + "tree/", base + "lab"


def _url(ctx: Context) -> ParsedUrl:
    return ctx.memo("tunnel.url", lambda: parse_url(ctx.options.url))


def cluster_user(ctx: Context) -> str:
    """The student's username on the cluster: --user, else the one in the URL, else ""."""
    return ctx.options.user or _url(ctx).user


def _command(ctx: Context) -> str:
    url = _url(ctx)
    return tunnel_command(ctx, url.port or "<port>", cluster_user(ctx))


# -- probes ------------------------------------------------------------------------------------

def listener_owner(ctx: Context, port: int) -> Optional[Tuple[int, str]]:
    """(pid, program) of the process listening on a local TCP port, when it can be told."""
    if ctx.platform.name == "linux":
        return _linux_owner(ctx, port)
    if ctx.platform.name == "macos":
        proc = ctx.run(["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"], timeout=3)
        pid, name = None, ""
        for line in proc.stdout.splitlines():
            if line.startswith("p") and digits(line[1:]):
                pid = int(line[1:])
            elif line.startswith("c"):
                name = line[1:]
        return (pid, name) if pid else None
    if ctx.platform.is_windows:
        proc = ctx.run(["netstat", "-ano", "-p", "TCP"], timeout=5)
        for line in proc.stdout.splitlines():
            cols = line.split()
            if len(cols) >= 5 and cols[1].endswith(f":{port}") and cols[3].upper() == "LISTENING":
                pid = int(cols[4]) if digits(cols[4]) else None
                if pid:
                    task = ctx.run(["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"], timeout=5)
                    name = task.stdout.split(",")[0].strip('"') if task.ok and "," in task.stdout else ""
                    return pid, name
    return None


def _linux_owner(ctx: Context, port: int) -> Optional[Tuple[int, str]]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        text = ctx.read_text(ctx.proc_path("net", table)) or ""
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[1].rsplit(":", 1)[-1] == f"{port:04X}":
                inodes.add(cols[9])
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    import os

    try:
        pids = [p for p in os.listdir(ctx.procfs) if digits(p)]
    except OSError:
        return None
    for pid in pids:
        fd_dir = ctx.proc_path(pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in wanted:
                    name = (ctx.read_text(ctx.proc_path(pid, "comm")) or "").strip()
                    return int(pid), name
            except OSError:
                continue
    return None


def _probe(ctx: Context) -> Dict[str, "HttpAnswer"]:
    """The GETs the tunnel checks share, made once per run."""

    def compute() -> Dict[str, "HttpAnswer"]:
        port, t = ctx.expectations.local_port, ctx.options.timeout
        user = cluster_user(ctx)
        answers = {}
        if user:
            answers["user"] = ctx.net.http_get(port, f"/user/{user}/api", t)
            if answers["user"].outcome != "response":
                return answers
            if answers["user"].is_jupyter_version:
                return answers
        answers["root"] = ctx.net.http_get(port, "/api", t)
        return answers

    return ctx.memo("tunnel.probe", compute)


def _server_base(answer: "HttpAnswer") -> Optional[str]:
    """The base URL a Jupyter Server gives away in its CSP header, even on a 404."""
    csp = answer.headers.get("content-security-policy", "")
    match = re.search(r"report-uri (\S*?)api/security/csp-report", csp)
    return match.group(1) if match else None


def _looks_like_jupyter(answer: "HttpAnswer") -> bool:
    return answer.is_jupyter_version or _server_base(answer) is not None


# -- checks ------------------------------------------------------------------------------------

@check("tunnel.url", title="Jupyter URL", sides=["laptop"], docs=f"{DOCS}#the-url",
       fixes=("Copy the whole URL the launch script printed, from http:// to the end of the token",))
def url(ctx: Context) -> Verdict:
    """Can the URL the launch script printed be read: host, port, user path and token?

    The port and user name in it build your tunnel command; the token logs you in.
    """
    if not ctx.options.url:
        return skipped("no URL given: add --url \"<the URL the launch script printed>\" to check the tunnel")
    parsed = _url(ctx)
    ctx.secret(parsed.token)
    if not parsed.ok:
        return failed("; ".join(parsed.problems),
                      Fix("Copy the whole URL the launch script printed, from http:// to the end of the token, "
                          "and pass it in quotes:", ['python3 -m checks --only tunnel --url "<the URL>"']),
                      observed=parsed.redacted())
    tree, lab = local_addresses(ctx, parsed.user)
    details = [f"tunnel command: {_command(ctx)}", f"then open: {tree}  (or {lab})"]
    if not re.fullmatch(_TOKEN_RE, parsed.token):
        return warned(f"read port {parsed.port} and user {parsed.user}, but the token does not look like "
                      "a whole Jupyter token (48 or 64 hex digits)",
                      Fix("Copy the token again: it runs to the end of the line.", []),
                      observed=parsed.redacted(), details=details)
    return passed(f"port {parsed.port}, user {parsed.user}, token present; tunnel: {_command(ctx)}; "
                  f"then open {tree}", observed=parsed.redacted(), details=details)


@check("tunnel.local_port", title="Tunnel listening on the local port", sides=["laptop"],
       docs=f"{DOCS}#port-forwarding",
       fixes=("Start the tunnel in a second terminal on your computer and leave it running",
              "Stop the program that holds the port, or use another local port"))
def local_port(ctx: Context) -> Verdict:
    """Does something listen on the tunnel's local port (8889), and is it ssh?

    Without the tunnel nothing answers at localhost:8889; with another program there, the
    tunnel cannot use the port.
    """
    port = ctx.expectations.local_port
    listening, why = ctx.net.port_listening(port, ctx.options.timeout)
    if not listening:
        return failed(f"nothing listens on localhost:{port} ({why}): the tunnel is not running",
                      Fix("Start the tunnel in a second terminal on your computer and leave it running "
                          "(a working tunnel prints nothing):", [_command(ctx)]),
                      expected=f"ssh listening on {port}", observed=why)
    owner = listener_owner(ctx, port)
    if owner and not re.match(r"(?i)^(ssh|ssh\.exe|plink|putty)", owner[1] or "ssh"):
        pid, name = owner
        other = port + 1
        what = f"{name or 'another program'} (process {pid})"
        if _looks_like_jupyter(ctx.net.http_get(port, "/api", ctx.options.timeout)):
            what = f"a Jupyter server running on your own computer ({name}, process {pid})"
        return failed(f"localhost:{port} is held by {what}, not by ssh: your tunnel cannot use it",
                      Fix("Stop the program that holds the port, or use another local port for the tunnel "
                          "(then open that port in the browser):",
                          [_kill_command(ctx, pid), _command(ctx).replace(f"-L {port}:", f"-L {other}:")]),
                      expected="ssh", observed=f"{name} (pid {pid})")
    who = f"ssh (process {owner[0]})" if owner else "a program (owner not visible here)"
    return passed(f"{who} listens on localhost:{port}", observed=who)


def _kill_command(ctx: Context, pid: int) -> str:
    return f"taskkill /PID {pid}" if ctx.platform.is_windows else f"kill {pid}"


@check("tunnel.jupyter", title="Jupyter answers through the tunnel", sides=["laptop"],
       requires=("tunnel.local_port",), docs=f"{DOCS}#when-the-page-does-not-load",
       fixes=("Check your server is still running; relaunch it and use the new port in the tunnel command",
              "Another kind of server holds the port: stop it, or use another local port"))
def jupyter(ctx: Context) -> Verdict:
    """Does a Jupyter Server answer at localhost:8889 (GET .../api)?

    The tunnel can run while nothing answers at its far end: then ssh prints "channel N: open
    failed: connect failed" in its terminal and the browser gets an empty reply.
    """
    port = ctx.expectations.local_port
    answers = _probe(ctx)
    first = answers.get("user") or answers["root"]
    if first.outcome == "reset":
        return failed(f"localhost:{port} accepted the connection, then closed it with no reply: the tunnel "
                      "runs, but nothing answers at the port it forwards to (ssh prints \"channel N: open "
                      "failed: connect failed\" in its terminal)",
                      Fix("Your server has stopped, or the port in your tunnel command is not its port. On the "
                          "login node, relaunch if needed, take the port from the URL it prints, then restart "
                          "the tunnel with it:", [ctx.expectations.launch_script, _command(ctx)]),
                      observed="empty reply")
    if first.outcome == "timeout":
        return failed(f"localhost:{port} accepted the connection but sent nothing within "
                      f"{ctx.options.timeout:g} s",
                      Fix("Stop the tunnel (Ctrl+C in its terminal) and start it again; if it still hangs, "
                          "relaunch your server:", [_command(ctx)]),
                      observed="no answer")
    if first.outcome != "response":
        return failed(f"localhost:{port} could not be asked: {first.error}",
                      Fix("Start the tunnel again:", [_command(ctx)]), observed=first.error)
    for key in ("user", "root"):
        answer = answers.get(key)
        if answer is not None and answer.outcome == "response" and _looks_like_jupyter(answer):
            version = (answer.json() or {}).get("version")
            what = f"Jupyter Server {version}" if version else "a Jupyter Server"
            return passed(f"{what} answers at localhost:{port}", observed=what)
    server = first.headers.get("server", "an unknown server")
    return failed(f"localhost:{port} answers HTTP {first.status} from {server}, which is not Jupyter",
                  Fix("Another kind of server holds the port: stop it, or use another local port for the tunnel:",
                      [_command(ctx).replace(f"-L {port}:", f"-L {port + 1}:")]),
                  observed=f"HTTP {first.status} ({server})")


@check("tunnel.user", title="Your server, under /user/<you>/", sides=["laptop"], requires=("tunnel.jupyter",),
       docs=f"{DOCS}#when-the-page-does-not-load",
       fixes=("Another Jupyter holds the port: stop it, or use another local port for the tunnel",
              "The tunnel reaches someone else's server: use the port from your own launch"))
def user(ctx: Context) -> Verdict:
    """Is the Jupyter at localhost:8889 yours: does it answer under /user/<you>/?

    Your server lives under /user/<username>/. A Jupyter answering at the root, or under
    another name, is a different server (most often your own local Jupyter) holding the port.
    """
    port = ctx.expectations.local_port
    name = cluster_user(ctx)
    if not name:
        return skipped("no username known: add --user NAME or --url \"<the URL>\"")
    answers = _probe(ctx)
    mine = answers.get("user")
    if mine is not None and mine.is_jupyter_version:
        return passed(f"your server answers under /user/{name}/", observed=f"/user/{name}/")
    root = answers.get("root")
    base = None
    for answer in (mine, root):
        if answer is not None:
            base = base or _server_base(answer)
    if root is not None and root.is_jupyter_version or base == "/":
        return failed(f"a Jupyter answers at the root of localhost:{port}, not under /user/{name}/: this is "
                      "another Jupyter — most often one running on your own computer — holding the port",
                      Fix("Another Jupyter holds the port: stop it (Ctrl+C where it runs, or 'jupyter server "
                          "stop'), or use another local port for the tunnel:",
                          ["jupyter server list", _command(ctx).replace(f"-L {port}:", f"-L {port + 1}:")]),
                      expected=f"/user/{name}/", observed="/")
    if base and base.startswith("/user/"):
        return failed(f"the Jupyter at localhost:{port} serves {base}, not /user/{name}/: the tunnel reaches "
                      "someone else's server (the port in the command is not from your launch)",
                      Fix("The tunnel reaches someone else's server: use the port from your own launch:",
                          [_command(ctx)]),
                      expected=f"/user/{name}/", observed=base)
    return failed(f"nothing answers under /user/{name}/ at localhost:{port}",
                  Fix("Check the username in the URL your launch printed, and the tunnel's port:", [_command(ctx)]),
                  expected=f"/user/{name}/", observed=base or "unknown")


@check("tunnel.token", title="Token accepted", sides=["laptop"], requires=("tunnel.user",),
       docs=f"{DOCS}#the-url",
       fixes=("Use the token from your latest launch: copy the whole URL again",))
def token(ctx: Context) -> Verdict:
    """Does your server accept the token from the URL (GET .../api/status)?

    The token changes at every launch: one from an older launch is refused.
    """
    parsed = _url(ctx)
    name = cluster_user(ctx)
    if not parsed.token:
        return skipped("no token known: add --url \"<the URL the launch script printed>\"")
    if not name:
        return skipped("no username known: add --user NAME")
    ctx.secret(parsed.token)
    answer = ctx.net.http_get(ctx.expectations.local_port, f"/user/{name}/api/status", ctx.options.timeout,
                      headers={"Authorization": f"token {parsed.token}"})
    if answer.outcome == "response" and answer.status == 200:
        return passed("your server accepts the token", observed="HTTP 200")
    if answer.outcome == "response" and answer.status in (401, 403):
        return failed(f"your server refuses the token (HTTP {answer.status}): it is wrong, incomplete, or from "
                      "an older launch",
                      Fix("Use the token from your latest launch: copy the whole URL again, from the terminal "
                          "where you ran the launch script:", ['python3 -m checks --only tunnel --url "<the URL>"']),
                      observed=f"HTTP {answer.status}")
    return failed(f"the token could not be checked: {answer.error or f'HTTP {answer.status}'}",
                  Fix("Run the tunnel checks again once the tunnel is up:", [_command(ctx)]),
                  observed=answer.error or answer.status)


# -- server side -------------------------------------------------------------------------------

def _runtime_dirs(ctx: Context) -> List[str]:
    env = ctx.env
    if env.get("JUPYTER_RUNTIME_DIR"):
        return [env["JUPYTER_RUNTIME_DIR"]]
    data = env.get("JUPYTER_DATA_DIR") or (
        f"{env['XDG_DATA_HOME']}/jupyter" if env.get("XDG_DATA_HOME") else str(ctx.home / ".local/share/jupyter"))
    return [f"{data}/runtime"]


def running_servers(ctx: Context) -> List[dict]:
    """The Jupyter servers' runtime files (jpserver-<pid>.json), read without importing Jupyter."""
    from pathlib import Path

    servers = []
    for folder in _runtime_dirs(ctx):
        for path in sorted(Path(folder).glob("jpserver-*.json")) + sorted(Path(folder).glob("nbserver-*.json")):
            import json  # only once a runtime file is found

            text = ctx.read_text(path)
            try:
                info = json.loads(text or "")
            except ValueError:
                continue
            if isinstance(info, dict) and isinstance(info.get("port"), int):
                ctx.secret(info.get("token"))
                servers.append(info)
    return servers


def _parent_pids(ctx: Context) -> List[int]:
    """This process's ancestors, read from /proc (the kernel's parent is its Jupyter server)."""
    pids, pid = [], "self"
    for _ in range(8):
        stat = ctx.read_text(ctx.proc_path(pid, "stat")) or ""
        match = re.search(r"\)\s+\S\s+(\d+)", stat)
        if not match or match.group(1) in ("0", "1"):
            break
        pids.append(int(match.group(1)))
        pid = match.group(1)
    return pids


@check("tunnel.server", title="This server's address for the tunnel", sides=["server"],
       docs=f"{DOCS}#port-forwarding",
       fixes=("Start Jupyter from the launch script, or open this notebook from the server's Jupyter",))
def server(ctx: Context) -> Verdict:
    """Which Jupyter server runs this kernel, on which port, and the tunnel command that reaches it.

    Jupyter silently moves to another port when the one it asked for is taken, so the port in an
    old launch message can be wrong; this reads the real one.
    """
    servers = running_servers(ctx)
    if not servers:
        return failed("no running Jupyter server found in " + ", ".join(_runtime_dirs(ctx)),
                      Fix("Start Jupyter from the launch script, or open this notebook from the server's Jupyter:",
                          [ctx.expectations.launch_script]))
    ancestors = _parent_pids(ctx)
    mine = [s for s in servers if s.get("pid") in ancestors]
    chosen = mine[0] if mine else servers[-1]
    base = chosen.get("base_url") or "/"
    match = re.match(r"^/user/([^/]+)/", base)
    name = match.group(1) if match else (ctx.options.user or ctx.env.get("USER", ""))
    port = chosen["port"]
    tree, lab = local_addresses(ctx, name)
    how = "runs this kernel" if mine else "is running here"
    summary = (f"the Jupyter server that {how} listens on port {port} with base URL {base}; on your computer run: "
               f"{tunnel_command(ctx, port, name)} — then open {tree}")
    details = [f"or JupyterLab: {lab}",
               "your token: run 'echo $JUPYTER_TOKEN' in this server's terminal (it is never printed here)"]
    if base == "/":
        details.append("the base URL is / (not /user/<you>/): open http://localhost:"
                       f"{ctx.expectations.local_port}/tree/ instead")
    return passed(summary, observed={"port": port, "base_url": base}, details=details)
