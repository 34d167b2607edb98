"""Property tests (hypothesis): no input crashes a parser, and no token survives rendering."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import render
from checks.model import Fix, Report, Result, Status
from checks.probes import authorized_keys, keys, openssh
from checks.probes.jupyter import parse_url
from checks.redact import Redactor
from checks.tools.explain import explain

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Real tokens are 48 or 64 hex digits (or long random strings): 24+ characters never spell our markup.
tokens = st.text(alphabet=string.ascii_letters + string.digits, min_size=24, max_size=80)
hex_tokens = st.text(alphabet="0123456789abcdef", min_size=48, max_size=64)
users = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535)
hosts = st.sampled_from(["dsmlp-login.ucsd.edu", "dsmlp-login", "127.0.0.1", "localhost", "DSMLP-LOGIN.ucsd.edu"])
wrappers = st.sampled_from(["{}", " {} ", "'{}'", '"{}"', "<{}>", "{}.", "{},", "({})", "`{}`", "{}\n",
                            "You may access your Jupyter notebook at:  {}"])
views = st.sampled_from(["", "tree", "lab", "tree/", "lab/", "lab/tree/work"])


@SETTINGS
@given(host=hosts, port=ports, user=users, token=tokens, view=views, wrap=wrappers, scheme=st.booleans())
def test_url_round_trips_the_parts(host, port, user, token, view, wrap, scheme) -> None:
    url = f"{'http://' if scheme else ''}{host}:{port}/user/{user}/{view}?token={token}"
    parsed = parse_url(wrap.format(url))
    assert parsed.ok, parsed.problems
    assert (parsed.host, parsed.port, parsed.user, parsed.token) == (host.lower(), port, user, token)
    assert parsed.base_url == f"/user/{user}/"
    assert token not in parsed.redacted()


@SETTINGS
@given(st.text(max_size=300))
def test_url_parser_never_raises(text) -> None:
    parsed = parse_url(text)
    assert isinstance(parsed.problems, tuple)


def _report(token: str, text: str) -> Report:
    results = (
        Result("tunnel.url", Status.FAIL, "t", f"summary {text} token={token}",
               Fix(f"fix {token}", [f"open http://localhost:8889/?token={token}", f"Authorization: token {token}"]),
               expected={"token": token}, observed=[token, text], details=(f"detail {token}", text)),
        Result("tunnel.token", Status.PASS, f"title {token}", text),
    )
    return Report(results, side="laptop", assignment="a", user=text[:10], created="x", secrets=(token,))


@SETTINGS
@given(token=st.one_of(tokens, hex_tokens), text=st.text(max_size=60))
def test_a_registered_token_never_appears_in_any_view(token, text) -> None:
    report = _report(token, text)
    for out in (render.text(report), render.text(report, verbose=True), render.text(report, ascii_only=True),
                render.html(report), render.json_text(report), str(report)):
        assert token not in out


@SETTINGS
@given(token=hex_tokens, prefix=st.text(max_size=30))
def test_token_shaped_values_are_redacted_even_unregistered(token, prefix) -> None:
    redact = Redactor()
    for text in (f"{prefix}http://h:1/user/u/?token={token}", f"Authorization: token {token}",
                 f"JUPYTER_TOKEN={token}"):
        assert token not in redact(text)


# -- key and config parsers ----------------------------------------------------------------------

def _file(data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


armours = st.sampled_from([b"", b"-----BEGIN OPENSSH PRIVATE KEY-----\n", b"-----BEGIN RSA PRIVATE KEY-----\n",
                           b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\n",
                           b"ssh-ed25519 ", b"\xef\xbb\xbf-----BEGIN OPENSSH PRIVATE KEY-----\r\n"])


@SETTINGS
@given(head=armours, body=st.binary(max_size=400), b64=st.text(alphabet=string.ascii_letters + "+/=\n", max_size=300))
def test_key_file_reader_never_raises(head, body, b64) -> None:
    for data in (head + body, head + b64.encode(), head + b64.encode() + b"\n-----END OPENSSH PRIVATE KEY-----\n"):
        path = _file(data)
        try:
            info = keys.read_key_file(path)
        finally:
            path.unlink()
        assert info.kind in {"openssh", "pem", "pkcs8", "putty", "public", "rfc4716", "empty", "unknown", "unreadable"}


ak_lines = st.lists(st.one_of(
    st.text(max_size=120),
    st.builds(lambda o, t, b: f"{o} {t} {b}", st.sampled_from(["", "restrict", 'from="1.2.3.4"', 'command="x y"', "a,b="]),
              st.sampled_from(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "bogus"]),
              st.text(alphabet=string.ascii_letters + string.digits + "+/=", max_size=100)),
), max_size=12)


@SETTINGS
@given(ak_lines, st.booleans())
def test_authorized_keys_parser_never_raises(lines, crlf) -> None:
    text = ("\r\n" if crlf else "\n").join(lines)
    for entry in authorized_keys.parse_authorized_keys(text):
        assert entry.key is not None or entry.problem


@SETTINGS
@given(st.text(max_size=500))
def test_ssh_g_and_pubkey_arg_and_explain_never_raise(text) -> None:
    openssh.parse_ssh_g(text)
    keys.parse_pubkey_arg(text[:200].replace("\x00", ""))
    str(explain(text))
    explain(text)._repr_html_()
