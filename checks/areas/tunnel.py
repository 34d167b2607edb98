"""The Jupyter tunnel: the URL the launch script (or Jupyter, on a compute node) printed, the
local port, and what answers there. The site (checks/site.py) says where the tunnel forwards: to
the login node's own loopback, or to the compute node the URL names.

Probes touch only the student's own machine (loopback), send GET requests only (no kernel is
started), are bounded by `--timeout`, and never print the token.
"""

from __future__ import annotations

import re

from .._text import is_host, is_user
from ..context import Context
from ..model import Fix, Heading, Verdict, failed, passed, skipped, warned
from ..probes.jupyter import (
    TOKEN_RE,
    cluster_user,
    is_running_here,
    local_addresses,
    looks_like_jupyter,
    parent_pids,
    parsed_url,
    running_servers,
    runtime_dirs,
    server_base,
    tunnel_command,
    user_path,
)
from ..probes.ports import command_line, forward_of, listener_owner
from ..registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from ..probes.net import HttpAnswer

DOCS = "lessons/jupyter.html"


def _command(ctx: Context, local_port: Optional[int] = None) -> str:
    """The student's tunnel command, from the URL they gave (placeholders for what is not known)."""
    url = parsed_url(ctx)
    return tunnel_command(ctx, url.port or "<port>", cluster_user(ctx), local_port, node=url.host)


def _target(ctx: Context) -> Optional[Tuple[str, str]]:
    """(host, port) the tunnel must forward to, seen from the login node, when the URL says."""
    url = parsed_url(ctx)
    if not url.port:
        return None
    return ctx.expectations.forward_to(url.host), str(url.port)


def _jumps(argv: List[str]) -> bool:
    """Does this ssh go through a jump host (-J login node042): its forward is then seen from the node."""
    return any(a.startswith("-J") or "proxyjump" in a.lower() for a in argv)


def _same_target(ctx: Context, host: str, port: str, jump: bool = False) -> bool:
    """Does a tunnel's forward (host, port) reach the URL's server? The port must match; on a site
    whose tunnel goes to a compute node the node must too (its short name, or the same address),
    unless the ssh jumps through the login node to the node itself (then it forwards to its loopback)."""
    want = _target(ctx)
    if want is None or port != want[1]:
        return want is None
    if ctx.expectations.forward_host or ctx.expectations.site.tunnel_target != "node" or jump:
        return True  # to the login node's own loopback: 127.0.0.1 and localhost alike
    have, need = host.lower().rstrip("."), want[0].lower().rstrip(".")
    if have == need or need == "<node>":
        return True
    numeric = re.fullmatch(r"[\d.]+|.*:.*", have) or re.fullmatch(r"[\d.]+|.*:.*", need)
    return not numeric and have.split(".")[0] == need.split(".")[0]


def _per_user(ctx: Context) -> bool:
    return ctx.expectations.site.per_user_path


# -- probes ------------------------------------------------------------------------------------


def _probe(ctx: Context) -> Dict[str, "HttpAnswer"]:
    """The GETs the tunnel checks share, made once per run."""

    def compute() -> Dict[str, "HttpAnswer"]:
        port, t = ctx.expectations.local_port, ctx.options.timeout
        user = cluster_user(ctx) if _per_user(ctx) else ""
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


# -- checks ------------------------------------------------------------------------------------

COPY_URL = Heading("Copy the whole URL the launch script printed, from http:// to the end of the token", "launch-script")
COPY_JUPYTER_URL = Heading("Copy the whole URL Jupyter printed on the compute node, from http:// to the end of the token",
                           "slurm")
COPY_TOKEN = "Copy the token again"


def _with_url(ctx: Context) -> str:
    """The tunnel checks again, with the URL the student pastes in place of the placeholder."""
    return ctx.shell.selfcheck("--only", "tunnel", "--url", '"<the URL>"')


@check("tunnel.url", title="Jupyter URL", sides=["laptop"], docs=f"{DOCS}#the-url",
       fixes=(COPY_URL, COPY_JUPYTER_URL, COPY_TOKEN))
def url(ctx: Context) -> Verdict:
    """Can the URL Jupyter's start printed be read: host, port, user path (where the site has one) and token?

    The node, port and user name in it build your tunnel command; the token logs you in.
    """
    slurm = ctx.expectations.site.slurm
    printer = "Jupyter printed on the compute node" if slurm else "the launch script printed"
    if not ctx.options.url:
        return skipped(f"no URL given: add --url \"<the URL {printer}>\" to check the tunnel")
    parsed = parsed_url(ctx)
    ctx.secret(parsed.token)
    if not parsed.ok:
        return failed("; ".join(parsed.problems),
                      Fix.under(COPY_JUPYTER_URL if slurm else COPY_URL, ", and pass it in quotes:", [_with_url(ctx)]),
                      observed=parsed.redacted())
    tree, lab = local_addresses(ctx, parsed.user)
    details = [f"tunnel command: {_command(ctx)}", f"then open: {tree}  (or {lab})"]
    what = f"port {parsed.port}, user {parsed.user}" if parsed.user else f"node {parsed.host}, port {parsed.port}"
    if not re.fullmatch(TOKEN_RE, parsed.token):
        return warned(f"read {what}, but the token does not look like a whole Jupyter token (48 or 64 hex digits)",
                      Fix.under(COPY_TOKEN, ": it runs to the end of the line.", []),
                      observed=parsed.redacted(), details=details)
    return passed(f"{what}, token present; tunnel: {_command(ctx)}; then open {tree}",
                  observed=parsed.redacted(), details=details)


START_TUNNEL = "Start the tunnel in a second terminal on your computer and leave it running"
FREE_PORT = "Stop the program that holds the port, or use another local port"
STOP_OLD_TUNNEL = "Stop the older tunnel, then start the one for your server"


def _stale_tunnel(ctx: Context, port: int, pid: int) -> Optional[Verdict]:
    """A failure when the ssh holding the port forwards it elsewhere than the URL's server (another
    port, or on a Slurm site another compute node): an older tunnel, from another terminal, still
    holds the local port (the seed's second cause of "channel 2: open failed")."""
    argv = command_line(ctx, pid)
    target = forward_of(argv, port)
    want = _target(ctx)
    if target is None or want is None or _same_target(ctx, *target, jump=_jumps(argv)):
        return None
    host, old = target
    node = ctx.expectations.site.tunnel_target == "node" and not ctx.expectations.forward_host
    says = f"{want[0]}:{want[1]}" if node else f"port {want[1]}"
    return failed(f"localhost:{port} is held by an older tunnel: ssh (process {pid}) forwards it to {host}:{old}, "
                  f"but your server's URL says {says}, so the new server is elsewhere and ssh says "
                  "\"channel 2: open failed\" in the old tunnel's terminal",
                  Fix.under(STOP_OLD_TUNNEL, " (or press Ctrl+C in the old tunnel's terminal):",
                            [ctx.shell.stop_process(pid), _command(ctx)]),
                  expected=f"a tunnel to {says}", observed=f"ssh (pid {pid}) to {host}:{old}")


@check("tunnel.local_port", title="Tunnel listening on the local port", sides=["laptop"],
       docs=f"{DOCS}#port-forwarding", fixes=(START_TUNNEL, FREE_PORT, STOP_OLD_TUNNEL))
def local_port(ctx: Context) -> Verdict:
    """Does something listen on the tunnel's local port, and is it ssh (forwarding to your server)?

    Without the tunnel nothing answers at localhost on that port; with another program there,
    the tunnel cannot use the port.
    """
    port = ctx.expectations.local_port
    listening, why = ctx.net.port_listening(port, ctx.options.timeout)
    if not listening:
        return failed(f"nothing listens on localhost:{port} ({why}): the tunnel is not running",
                      Fix.under(START_TUNNEL, " (a working tunnel prints nothing):", [_command(ctx)]),
                      expected=f"ssh listening on {port}", observed=why)
    owner = listener_owner(ctx, port)
    if owner and not re.match(r"(?i)^(ssh|ssh\.exe|plink|putty)", owner[1] or "ssh"):
        pid, name = owner
        other = port + 1
        what = f"{name or 'another program'} (process {pid})"
        if looks_like_jupyter(ctx.net.http_get(port, "/api", ctx.options.timeout)):
            what = f"a Jupyter server running on your own computer ({name}, process {pid})"
        return failed(f"localhost:{port} is held by {what}, not by ssh: your tunnel cannot use it",
                      Fix.under(FREE_PORT, " for the tunnel (then open that port in the browser):",
                                [ctx.shell.stop_process(pid), _command(ctx, local_port=other)]),
                      expected="ssh", observed=f"{name} (pid {pid})")
    stale = _stale_tunnel(ctx, port, owner[0]) if owner else None
    if stale is not None:
        return stale
    who = f"ssh (process {owner[0]})" if owner else "a program (owner not visible here)"
    return passed(f"{who} listens on localhost:{port}", observed=who)


SERVER_GONE = "Your server has stopped, or the port in your tunnel command is not its port"
RESTART_TUNNEL = "Stop the tunnel (Ctrl+C in its terminal) and start it again"
START_AGAIN = "Start the tunnel again"
OTHER_SERVER = "Another kind of server holds the port: stop it, or use another local port"


@check("tunnel.jupyter", title="Jupyter answers through the tunnel", sides=["laptop"],
       requires=("tunnel.local_port",), docs=f"{DOCS}#when-the-page-does-not-load",
       fixes=(SERVER_GONE, RESTART_TUNNEL, START_AGAIN, OTHER_SERVER))
def jupyter(ctx: Context) -> Verdict:
    """Does a Jupyter Server answer at the tunnel's local port (GET .../api)?

    The tunnel can run while nothing answers at its far end: then ssh prints "channel N: open
    failed: connect failed" in its terminal and the browser gets an empty reply.
    """
    port = ctx.expectations.local_port
    answers = _probe(ctx)
    first = answers.get("user") or answers["root"]
    if first.outcome == "reset":
        if ctx.expectations.site.slurm:
            how = (". Your job may have ended (on the login node, squeue --me lists your jobs): ask for a new one, "
                   "start Jupyter on its compute node and take the node and port from the URL it prints; then, on "
                   "your computer, restart the tunnel with them:")
        else:
            how = (f". On the login node, relaunch if needed ({ctx.expectations.launch_script}) and take the port "
                   "from the URL it prints; then, on your computer, restart the tunnel with that port:")
        return failed(f"localhost:{port} accepted the connection, then closed it with no reply: the tunnel "
                      "runs, but nothing answers at the port it forwards to (ssh prints \"channel N: open "
                      "failed: connect failed\" in its terminal)",
                      Fix.under(SERVER_GONE, how, [_command(ctx)]),
                      observed="empty reply", details=_forwarded_to(ctx, port))
    if first.outcome == "timeout":
        return failed(f"localhost:{port} accepted the connection but sent nothing within "
                      f"{ctx.options.timeout:g} s",
                      Fix.under(RESTART_TUNNEL, "; if it still hangs, relaunch your server:", [_command(ctx)]),
                      observed="no answer")
    if first.outcome != "response":
        return failed(f"localhost:{port} could not be asked: {first.error}",
                      Fix.under(START_AGAIN, ":", [_command(ctx)]), observed=first.error)
    for key in ("user", "root"):
        answer = answers.get(key)
        if answer is not None and answer.outcome == "response" and looks_like_jupyter(answer):
            version = (answer.json() or {}).get("version")
            what = f"Jupyter Server {version}" if version else "a Jupyter Server"
            return passed(f"{what} answers at localhost:{port}", observed=what)
    server = first.headers.get("server", "an unknown server")
    return failed(f"localhost:{port} answers HTTP {first.status} from {server}, which is not Jupyter",
                  Fix.under(OTHER_SERVER, " for the tunnel:", [_command(ctx, local_port=port + 1)]),
                  observed=f"HTTP {first.status} ({server})")


def _forwarded_to(ctx: Context, port: int) -> List[str]:
    """Where the tunnel holding the port forwards, when its command line can be read: the two
    causes of "channel 2: open failed" (a stopped server, an older tunnel) are told apart by it."""
    owner = listener_owner(ctx, port)
    argv = command_line(ctx, owner[0]) if owner else []
    target = forward_of(argv, port) if owner else None
    if owner is None or target is None:
        return []
    said = f"the tunnel on localhost:{port} is ssh (process {owner[0]}), forwarding to {target[0]}:{target[1]}"
    if _target(ctx) is not None and _same_target(ctx, *target, jump=_jumps(argv)):
        return [f"{said}, your server's address in the URL: the server there has stopped, or its URL is an old one"]
    return [f"{said}: if that is not your server's current address, it is an older tunnel from another terminal: "
            "stop it (Ctrl+C there) and start the one for your server"]


OTHER_JUPYTER = "Another Jupyter holds the port: stop it"
SOMEONE_ELSE = "The tunnel reaches someone else's server: use the port from your own launch"
CHECK_USERNAME = Heading("Check the username in the URL your launch printed, and the tunnel's port", "launch-script")
CHECK_ADDRESS = Heading("Check the node and port in the tunnel command against your Jupyter's URL", "slurm")


@check("tunnel.user", title="Your server, under /user/<you>/", sides=["laptop"], requires=("tunnel.jupyter",),
       docs=f"{DOCS}#when-the-page-does-not-load",
       fixes=(OTHER_JUPYTER, SOMEONE_ELSE, CHECK_USERNAME, CHECK_ADDRESS))
def user(ctx: Context) -> Verdict:
    """Is the Jupyter at the tunnel's local port yours: does it answer under /user/<you>/?

    Behind a per-user proxy your server lives under /user/<username>/: a Jupyter answering at
    the root, or under another name, is a different server (most often your own local Jupyter)
    holding the port. A Jupyter you started on a compute node answers at the root (/).
    """
    port = ctx.expectations.local_port
    if not _per_user(ctx):
        return _at_root(ctx, port)
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
            base = base or server_base(answer)
    if root is not None and root.is_jupyter_version or base == "/":
        return failed(f"a Jupyter answers at the root of localhost:{port}, not under /user/{name}/: this is "
                      "another Jupyter — most often one running on your own computer — holding the port",
                      Fix.under(OTHER_JUPYTER, " (Ctrl+C where it runs, or 'jupyter server stop'), or use another "
                                "local port for the tunnel:",
                          ["jupyter server list", _command(ctx, local_port=port + 1)]),
                      expected=f"/user/{name}/", observed="/")
    if base and base.startswith("/user/"):
        return failed(f"the Jupyter at localhost:{port} serves {base}, not /user/{name}/: the tunnel reaches "
                      "someone else's server (the port in the command is not from your launch)",
                      Fix.under(SOMEONE_ELSE, ":", [_command(ctx)]),
                      expected=f"/user/{name}/", observed=base)
    return failed(f"nothing answers under /user/{name}/ at localhost:{port}",
                  Fix.under(CHECK_USERNAME, ":", [_command(ctx)]),
                  expected=f"/user/{name}/", observed=base or "unknown")


def _at_root(ctx: Context, port: int) -> Verdict:
    """tunnel.user on a site whose Jupyter answers at / (started by hand on a compute node)."""
    root = _probe(ctx)["root"]
    base = server_base(root)
    if root.is_jupyter_version and base in (None, "/"):
        return passed(f"a Jupyter answers at the root (/) of localhost:{port}, as one started on a compute node "
                      "does (tunnel.token tells whether it is yours)", observed="/")
    if base and base.startswith("/user/"):
        return failed(f"the Jupyter at localhost:{port} serves {base}, not /: the tunnel reaches another server "
                      "than the one you started (the node or port in the command is not from your Jupyter's URL)",
                      Fix.under(SOMEONE_ELSE, ":", [_command(ctx)]), expected="/", observed=base)
    return failed(f"no Jupyter answers at the root (/) of localhost:{port}",
                  Fix.under(CHECK_ADDRESS, ":", [_command(ctx)]), expected="/", observed=base or "unknown")


LATEST_TOKEN = "Use the token from your latest launch: copy the whole URL again"
RETRY_TOKEN = "Run the tunnel checks again once the tunnel is up"


@check("tunnel.token", title="Token accepted", sides=["laptop"], requires=("tunnel.user",),
       docs=f"{DOCS}#the-url", fixes=(LATEST_TOKEN, RETRY_TOKEN))
def token(ctx: Context) -> Verdict:
    """Does your server accept the token from the URL (GET .../api/status)?

    The token changes at every launch: one from an older launch is refused.
    """
    parsed = parsed_url(ctx)
    name = cluster_user(ctx)
    slurm = ctx.expectations.site.slurm
    if not parsed.token:
        if ctx.options.url:
            return skipped("the URL holds no usable token (see tunnel.url)")
        printer = "Jupyter printed on the compute node" if slurm else "the launch script printed"
        return skipped(f"no token known: add --url \"<the URL {printer}>\"")
    if not name and _per_user(ctx):
        return skipped("no username known: add --user NAME")
    ctx.secret(parsed.token)
    answer = ctx.net.http_get(ctx.expectations.local_port, f"{user_path(ctx, name)}api/status", ctx.options.timeout,
                      headers={"Authorization": f"token {parsed.token}"})
    if answer.outcome == "response" and answer.status == 200:
        return passed("your server accepts the token", observed="HTTP 200")
    if answer.outcome == "response" and answer.status in (401, 403):
        return failed(f"your server refuses the token (HTTP {answer.status}): it is wrong, incomplete, or from "
                      "an older launch",
                      Fix.under(LATEST_TOKEN, ", from the terminal where you "
                                + ("started Jupyter:" if slurm else "ran the launch script:"),
                                [_with_url(ctx)]),
                      observed=f"HTTP {answer.status}")
    return failed(f"the token could not be checked: {answer.error or f'HTTP {answer.status}'}",
                  Fix.under(RETRY_TOKEN, ": start it, then run the checks with the URL:",
                            [_command(ctx), _with_url(ctx)]),
                  observed=answer.error or answer.status)


# -- server side -------------------------------------------------------------------------------


START_JUPYTER = Heading("Start Jupyter from the launch script, or open this notebook from the server's Jupyter", "launch-script")
START_JUPYTER_NODE = Heading("Start Jupyter on this compute node, listening on the node's address (not only on its loopback)",
                             "slurm")
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "ip6-localhost")
_ANY = ("", "0.0.0.0", "::", "*")


def _start_on_node(ctx: Context) -> str:
    """The command that starts Jupyter on a compute node, reachable from the login node (bash/zsh there)."""
    return f"jupyter lab --no-browser --ip=$(hostname) --port={ctx.expectations.site.example_port}"


def _this_node(ctx: Context, info: Dict[str, object]) -> str:
    """The address the login node reaches this Jupyter at: the address it listens on, or this
    machine's host name when it listens on all of them."""
    listens = str(info.get("hostname") or "").strip("[]")
    if listens.lower() not in _ANY:
        return listens
    import os

    name = ctx.hostname or (os.uname().nodename if hasattr(os, "uname") else "")
    return name if is_host(name) else "<node>"


@check("tunnel.server", title="This server's address for the tunnel", sides=["server"],
       docs=f"{DOCS}#port-forwarding", fixes=(START_JUPYTER, START_JUPYTER_NODE))
def server(ctx: Context) -> Verdict:
    """Which Jupyter server runs this kernel, on which port, and the tunnel command that reaches it.

    Jupyter silently moves to another port when the one it asked for is taken, so the port in an
    old launch message can be wrong; this reads the real one.
    """
    servers = running_servers(ctx)
    node_site = ctx.expectations.site.tunnel_target == "node" and not ctx.expectations.forward_host
    if not servers:
        fix = (Fix.under(START_JUPYTER_NODE, ":", [_start_on_node(ctx)]) if node_site
               else Fix.under(START_JUPYTER, ":", [ctx.expectations.launch_script]))
        return failed("no running Jupyter server found in " + ", ".join(runtime_dirs(ctx)), fix)
    ancestors = parent_pids(ctx)
    mine = [s for s in servers if s.get("pid") in ancestors]
    alive = mine or [s for s in servers if is_running_here(ctx, s)]
    chosen = alive[0] if mine else (alive or servers)[-1]
    base = chosen.get("base_url") or "/"
    match = re.match(r"^/user/([^/]+)/", base)
    name = match.group(1) if match else (ctx.options.user or ctx.env.get("USER", ""))
    name = name if is_user(name) else ""  # it goes into a command the student pastes
    port = chosen["port"]
    tree, lab = local_addresses(ctx, name)
    how = "runs this kernel" if mine else "is running here"
    node = _this_node(ctx, chosen) if node_site else ""
    if node.lower() in _LOOPBACK:
        return warned(f"the Jupyter server that {how} listens on port {port} of this node's own loopback ({node}) "
                      "only: the login node cannot reach it, so no tunnel through it can",
                      Fix.under(START_JUPYTER_NODE, " (stop this one with Ctrl+C first):", [_start_on_node(ctx)]),
                      observed={"port": port, "base_url": base})
    at = f"{node}:{port}" if node else f"port {port}"
    summary = (f"the Jupyter server that {how} listens on {at} with base URL {base}; on your computer run: "
               f"{tunnel_command(ctx, port, name, node=node)} — then open {tree}")
    where = "run 'jupyter server list' in a terminal on this node" if node_site else \
        "run 'echo $JUPYTER_TOKEN' in this server's terminal"
    details = [f"or JupyterLab: {lab}", f"your token: {where} (it is never printed here)"]
    if len(servers) > 1 and not alive:
        details.append(f"{len(servers)} runtime files in {', '.join(runtime_dirs(ctx))}, and none is a Jupyter running "
                       "on this machine: servers that ended without stopping (at a job's time limit, say) or that run "
                       "on other nodes leave them; this is the last one. If the tunnel fails, run 'jupyter server list' "
                       "here")
    if base == "/" and ctx.expectations.site.per_user_path:
        details.append("the base URL is / (not /user/<you>/): open http://localhost:"
                       f"{ctx.expectations.local_port}/tree/ instead")
    return passed(summary, observed={"port": port, "base_url": base}, details=details)
