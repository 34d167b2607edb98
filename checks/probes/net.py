"""Loopback network probes: a TCP connect and one bounded HTTP GET, never raising.

Checks reach them through `ctx.net`, so a test (or a simulated machine) can stand in for the
network; by default they are these functions, which touch only the addresses they are given.
"""

from __future__ import annotations

from .._record import Factory, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any, Dict, Optional, Tuple


class HttpAnswer(Record):
    """What a GET on loopback gave: a response, or which way it failed."""

    outcome: str  # "response", "refused", "reset", "timeout", "error"
    status: int = 0
    headers: Dict[str, str] = Factory(factory=dict)
    body: bytes = b""
    error: str = ""

    def json(self) -> Optional[Dict[str, Any]]:
        import json

        try:
            value = json.loads(self.body.decode("utf-8", "replace"))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def is_jupyter_version(self) -> bool:
        doc = self.json() if self.status == 200 else None
        return bool(doc and isinstance(doc.get("version"), str))


def http_get(port: int, path: str, timeout: float, headers: Optional[Dict[str, str]] = None,
             host: str = "127.0.0.1") -> HttpAnswer:
    """One GET to loopback with a hard time bound; never follows redirects, never raises.

    The path and the header values must be visible ASCII: anything else is refused before a
    request is built (http.client's own refusal would quote the value, a token, in its message).
    """
    import http.client
    import re
    import socket
    import time

    if not re.fullmatch(r"/[\x21-\x7e]*", path) or not all(
            re.fullmatch(r"[\x20-\x7e]*", f"{k}{v}") for k, v in (headers or {}).items()):
        return HttpAnswer("error", error="the request would carry characters that cannot be sent in HTTP")

    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.sock = _connect(host, port, timeout)
        conn.request("GET", path, headers={"Host": f"localhost:{port}", "Accept": "application/json",
                                           "User-Agent": "selfcheck", **(headers or {})})
        sock = conn.sock  # kept: http.client drops conn.sock once a response is complete
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        resp = conn.getresponse()
        body = b""
        while len(body) < 65536:
            if time.monotonic() >= deadline:
                raise socket.timeout("body too slow")
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = resp.read1(65536 - len(body)) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            body += chunk
        return HttpAnswer("response", resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    except ConnectionRefusedError:
        return HttpAnswer("refused", error="connection refused")
    except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
        return HttpAnswer("reset", error="the connection was accepted, then closed with no reply")
    except (socket.timeout, TimeoutError):
        return HttpAnswer("timeout", error=f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return HttpAnswer("error", error=f"{type(exc).__name__}: {exc}")
    except ValueError as exc:  # never quoted: the message could hold what was sent
        return HttpAnswer("error", error=f"{type(exc).__name__}: the request could not be sent")
    finally:
        conn.close()


def _connect(host: str, port: int, timeout: float, module: Any = None) -> socket.socket:
    """A TCP connection to a numeric loopback address. Not socket.create_connection: its name
    lookup imports the IDNA codec, which costs more than the whole probe."""
    if module is None:
        import socket as module

    family = module.AF_INET6 if ":" in host else module.AF_INET
    sock = module.socket(family, module.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock  # type: ignore[no-any-return]  # `module` is the socket module or a test's stand-in


def port_listening(port: int, timeout: float, host: str = "127.0.0.1") -> Tuple[bool, str]:
    """(listening, why) for a TCP port on loopback."""
    # A bare connect needs only the C socket: importing `socket` itself (it builds enums of every
    # constant) takes longer than a student's whole tunnel probe.
    import _socket

    try:
        _connect(host, port, timeout, _socket).close()
        return True, "accepts connections"
    except ConnectionRefusedError:
        return False, "connection refused"
    except (_socket.timeout, TimeoutError):  # socket.timeout is _socket.timeout (TimeoutError on 3.10+)
        return False, f"no answer within {timeout:g} s"
    except OSError as exc:
        return False, f"cannot connect: {exc.strerror or exc}"


