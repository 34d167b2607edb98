"""authorized_keys, read the way sshd reads it (auth2-pubkeyfile.c, sshkey_read): each line's
options and key, or why sshd skips the line."""

from __future__ import annotations

import re

from .._record import Factory, Record
from .keys import KeyFormatError, PublicKey, parse_public_line, split_public_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple


# What is wrong with an authorized_keys line, as data (the `problem` text is for people).
AK_OK, AK_RFC4716, AK_PUTTY_PRIVATE, AK_PRIVATE = "", "rfc4716", "putty-private", "private"
AK_PIECE, AK_BROKEN, AK_DAMAGED, AK_UNREADABLE = "piece", "broken-over-lines", "damaged", "unreadable"


class AuthorizedKey(Record):
    """One line of authorized_keys: its options and key, or why it cannot be used."""

    line_no: int
    options: Dict[str, Optional[str]] = Factory(factory=dict)
    key: Optional[PublicKey] = None
    problem: str = ""
    continues_to: Tuple[int, ...] = ()  # a key broken over several lines: the following line numbers
    crlf: bool = False
    kind: str = AK_OK  # one of the AK_* values above


_OPTION_RE = r'([A-Za-z0-9-]+)(?:="((?:[^"\\]|\\.)*)")?'


def _split_options(text: str) -> Tuple[Dict[str, Optional[str]], str]:
    """Split `opt,opt="x y" key...` into options and the rest, the way sshd does."""
    options: Dict[str, Optional[str]] = {}
    pos = 0
    while pos < len(text):
        match = re.compile(_OPTION_RE).match(text, pos)
        if not match or match.end() == pos:
            break
        options[match.group(1).lower()] = match.group(2)
        pos = match.end()
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    rest = text[pos:]
    if not rest[:1].isspace():
        raise KeyFormatError("the options are not followed by a space and a key")
    return options, rest.strip()


def parse_authorized_keys(text: str) -> List[AuthorizedKey]:
    """Every non-blank, non-comment line, parsed; never raises."""
    lines = text.split("\n")
    entries: List[AuthorizedKey] = []
    last_key_index: Optional[int] = None
    for index, raw in enumerate(lines, start=1):
        crlf = raw.endswith("\r")
        line = raw.rstrip("\r").strip(" \t")
        if not line or line.startswith("#"):
            last_key_index = None
            continue
        entry = _parse_ak_line(index, line, crlf)
        if entry.kind == AK_PIECE and last_key_index is not None:
            prev = entries[last_key_index]
            entries[last_key_index] = AuthorizedKey(prev.line_no, prev.options, None,
                                                    "the key is broken over several lines (a paste error)",
                                                    prev.continues_to + (index,), prev.crlf, kind=AK_BROKEN)
            continue
        entries.append(entry)
        # Only a key whose base64 stops short can go on on the next line; after a whole key, a
        # line of letters is junk of its own, and sshd still accepts the key before it.
        last_key_index = len(entries) - 1 if entry.kind == AK_DAMAGED else None
    return entries


def _parse_ak_line(index: int, line: str, crlf: bool) -> AuthorizedKey:
    if line.startswith("\ufeff"):
        return AuthorizedKey(index, problem="starts with an invisible byte-order mark (saved by a text editor): "
                                            "sshd cannot read this line", crlf=crlf, kind=AK_UNREADABLE)
    if line.startswith("---- BEGIN SSH2 PUBLIC KEY") or line.startswith("---- END SSH2"):
        return AuthorizedKey(index, problem="a PuTTY/RFC 4716 public key block: convert it with "
                                            "'ssh-keygen -i -f key.pub'", crlf=crlf, kind=AK_RFC4716)
    if line.startswith("PuTTY-User-Key-File"):
        return AuthorizedKey(index, problem="a PuTTY private key file was pasted here", crlf=crlf,
                             kind=AK_PUTTY_PRIVATE)
    if "PRIVATE KEY-----" in line:
        return AuthorizedKey(index, problem="a PRIVATE key was pasted here: remove it, and make a new key "
                                            "(a private key that was copied around is no longer private)",
                             crlf=crlf, kind=AK_PRIVATE)
    if re.fullmatch(r"[A-Za-z0-9+/=]+", line) and len(line) >= 8:
        return AuthorizedKey(index, problem="a piece of a key with no key type before it", crlf=crlf, kind=AK_PIECE)
    options: Dict[str, Optional[str]] = {}
    rest = line
    if split_public_line(line) is None:
        try:
            options, rest = _split_options(line)
        except KeyFormatError as exc:
            return AuthorizedKey(index, problem=f"cannot be read: {exc}", crlf=crlf, kind=AK_UNREADABLE)
        if split_public_line(rest) is None:
            return AuthorizedKey(index, options, problem="no key type (such as ssh-ed25519) on this line",
                                 crlf=crlf, kind=AK_UNREADABLE)
    try:
        key = parse_public_line(rest)
    except KeyFormatError as exc:
        if exc.damaged:
            return AuthorizedKey(index, options, problem=f"{exc}; if the key goes on on the next line, it was "
                                                         "broken by a paste", crlf=crlf, kind=AK_DAMAGED)
        return AuthorizedKey(index, options, problem=str(exc), crlf=crlf, kind=AK_UNREADABLE)
    return AuthorizedKey(index, options, key, crlf=crlf)
