"""Jupyter as the student meets it: the URL the launch script printed, the tunnel command that
reaches it, what a Jupyter Server gives away in its answers, and the servers running here.

The URL is read the way students paste it (with quotes, brackets, trailing punctuation, or no
scheme) and never raises; the token is kept only to be redacted and sent to the student's own
server.
"""

from __future__ import annotations

import re

from .._record import Record
from .._text import is_host, is_user
from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from ..site import Site
    from .net import HttpAnswer


TOKEN_RE = r"[0-9a-f]{48}|[0-9a-f]{64}"
# What any token may hold to be sent in a header: visible ASCII, no space (Jupyter's own are hex).
TOKEN_CHARS = r"[\x21-\x7e]{1,4096}"


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


def parse_url(text: Optional[str], site: Optional["Site"] = None) -> ParsedUrl:
    """Read the URL the way students paste it; never raises. The site says how its URLs look
    (a /user/<username>/ path behind a proxy, or "/" on a Jupyter started on a compute node)
    and what to show in the messages; without one the URL must have the /user/<username>/ path."""
    from urllib.parse import parse_qs, unquote, urlsplit  # only with a URL: it costs milliseconds (ipaddress)

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
    printed = "Jupyter" if site is not None and site.slurm else "the launch script"
    if parts.scheme.lower() not in ("http", "https"):
        problems.append(f"the URL starts with {parts.scheme}://, not http://")
    if not host:
        start = (site.example_node if site.slurm else site.login_host.split(".")[0]) if site is not None else ""
        problems.append(f"the URL has no host name (it should start with http://{start or '<host>'}...)")
    if port is None:
        like = f" (like :{site.example_port})" if site is not None else ""
        problems.append(f"the URL has no port after the host name{like}; copy the whole URL")
    elif not 1 <= port <= 65535:
        problems.append(f"the port {port} is not a port number")
    if host and not is_host(host):
        problems.append("the host name in the URL is not a host name (letters, digits, '.' and '-'); copy the whole "
                        f"URL {printed} printed")
        host = ""
    if host in ("localhost", "127.0.0.1", "::1") and site is not None and site.tunnel_target == "node":
        problems.append(f"the URL names {host}, the compute node's own loopback, which a tunnel through the login node "
                        f"cannot reach: copy the line that names the node (like http://{site.example_node}:...)")
    path = unquote(parts.path or "/", errors="replace")
    user, base, view = "", "/", ""
    match = re.match(r"^/user/([^/]+)/?(.*)$", path)
    if match and not is_user(match.group(1)):
        problems.append("the user name in the URL is not a user name (letters, digits, '.', '_' and '-', not "
                        f"starting with '-'); copy the whole URL {printed} printed")
    elif match:
        user = match.group(1)
        base = f"/user/{user}/"
        view = _view(match.group(2))
    elif site is not None and not site.per_user_path:
        view = _view(path)  # a Jupyter started by hand answers at /: http://node042:8888/lab?token=...
    else:
        problems.append("the URL has no /user/<username>/ part after the port; copy the whole URL")
    token = ""
    query = parse_qs(parts.query, keep_blank_values=True, errors="replace")
    if "token" in query:
        token = query["token"][0].strip(_STRIP)
    if not token and parts.fragment.startswith("token="):
        token = unquote(parts.fragment[len("token="):], errors="replace")
    if token and not re.fullmatch(TOKEN_CHARS, token):
        problems.append("the token is not a valid Jupyter token (it holds spaces, line breaks or characters other "
                        "than letters and digits); copy the whole URL again")
        token = ""
    elif not token:
        problems.append("the URL has no ?token=... at the end; copy the whole URL, it is one long line")
    return ParsedUrl(host, port, user, base, token, view, tuple(problems))


def _view(rest: str) -> str:
    first = rest.strip("/").split("/", 1)[0]
    return first if first in ("tree", "lab", "notebooks", "edit") else ""


def tunnel_command(ctx: Context, remote_port: object = "<port>", user: str = "",
                   local_port: Optional[int] = None, node: str = "") -> str:
    """The ssh command that forwards a local port to the server's Jupyter through the login host
    (the assignment's local port unless another is given; placeholders for what is not known).

    The forward's target is the site's (checks/site.py): 127.0.0.1 on the login node, or the
    compute node that the Jupyter URL names (`node`).
    """
    exp = ctx.expectations
    local = exp.local_port if local_port is None else local_port
    who = f"{user}@" if user else "<username>@"
    return f"ssh -N -L {local}:{exp.forward_to(node)}:{remote_port} {who}{exp.login_host}"


def user_path(ctx: Context, user: str) -> str:
    """The base URL of the student's server: /user/<name>/ behind a per-user proxy, else /."""
    if not ctx.expectations.site.per_user_path:
        return "/"
    return f"/user/{user or '<username>'}/"


def local_addresses(ctx: Context, user: str) -> Tuple[str, str]:
    base = f"http://localhost:{ctx.expectations.local_port}{user_path(ctx, user)}"
    return base + "tree/", base + "lab"


def parsed_url(ctx: Context) -> ParsedUrl:
    return ctx.memo("tunnel.url", lambda: parse_url(ctx.options.url, ctx.expectations.site))


def cluster_user(ctx: Context) -> str:
    """The student's username on the cluster: --user, else the one in the URL, else ""."""
    return ctx.options.user or parsed_url(ctx).user


def server_base(answer: "HttpAnswer") -> Optional[str]:
    """The base URL a Jupyter Server gives away in its CSP header, even on a 404."""
    csp = answer.headers.get("content-security-policy", "")
    match = re.search(r"report-uri (\S*?)api/security/csp-report", csp)
    return match.group(1) if match else None


def looks_like_jupyter(answer: "HttpAnswer") -> bool:
    return answer.is_jupyter_version or server_base(answer) is not None


def runtime_dirs(ctx: Context) -> List[str]:
    env = ctx.env
    if env.get("JUPYTER_RUNTIME_DIR"):
        return [env["JUPYTER_RUNTIME_DIR"]]
    data = env.get("JUPYTER_DATA_DIR") or (
        f"{env['XDG_DATA_HOME']}/jupyter" if env.get("XDG_DATA_HOME") else str(ctx.home / ".local/share/jupyter"))
    return [f"{data}/runtime"]


def running_servers(ctx: Context) -> List[Dict[str, Any]]:
    """The Jupyter servers' runtime files (jpserver-<pid>.json), read without importing Jupyter."""
    from pathlib import Path

    servers = []
    for folder in runtime_dirs(ctx):
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


def is_running_here(ctx: Context, info: Dict[str, Any]) -> bool:
    """Does a runtime file belong to a Jupyter running on this machine: is its process alive here,
    and a Jupyter? A server killed at its job's time limit leaves its file behind, and on a cluster
    the home folder (and so the runtime folder) is shared by every node."""
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    cmdline = ctx.read_text(ctx.proc_path(str(pid), "cmdline")) or ""
    return "jupyter" in cmdline.lower()


def parent_pids(ctx: Context) -> List[int]:
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
