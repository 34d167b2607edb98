"""Small text helpers shared by the parsers: what a digit, a user name and a host name may be,
and how any text is made safe to print on a terminal."""

from __future__ import annotations

import re

# A user name as clusters issue them (POSIX's portable set): it may reach an ssh command line,
# a URL path and a printed command, so it can never start with "-" or hold a shell character.
USER_RE = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}"
# A DNS name or an IPv4 address; never starting with "-", so never an option.
HOST_RE = r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?"
# An IPv6 address as written inside brackets in a URL.
IPV6_RE = r"[0-9A-Fa-f:.]{2,45}"

# C0 and C1 control characters, DEL, lone surrogates (undecodable bytes in file names), and the
# invisible bidirectional overrides that make text read differently from what it is.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def digits(text: str) -> bool:
    """Only ASCII digits (str.isdigit() also accepts "¹" and "٣", which int() refuses)."""
    return text.isascii() and text.isdigit()


def is_user(text: object) -> bool:
    return isinstance(text, str) and re.fullmatch(USER_RE, text) is not None


def is_host(text: object) -> bool:
    return isinstance(text, str) and (re.fullmatch(HOST_RE, text) is not None
                                      or (":" in text and re.fullmatch(IPV6_RE, text) is not None))


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape: show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = True) -> str:
    """Text that a terminal shows as it is: control characters (an escape sequence in a file name
    could recolour or rewrite the screen), undecodable bytes and direction overrides are written
    as visible escapes such as \\x1b. Tabs, and newlines when allowed, are kept."""
    if newlines:
        return _UNSAFE.sub(_escape, text)
    return _UNSAFE.sub(_escape, text).replace("\n", "\\n")
