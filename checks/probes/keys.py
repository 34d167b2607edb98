"""SSH key files, read the way OpenSSH reads them, without ever reading private material.

A private key file is read line by line only as far as its public part: the armour line, then
(for OpenSSH's format) just enough base64 to reach the unencrypted public key blob, (for PuTTY)
the public lines. The private section is never read, decoded or kept. The end of the file is
looked at only for its last bytes (the END marker and the final newline).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from pathlib import Path

from .._record import Record
from .._text import digits
from ..files import BOMS, MISSING, FileProblem, open_regular, read_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, List, Optional, Tuple

OPENSSH_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
OPENSSH_END = b"-----END OPENSSH PRIVATE KEY-----"
MAGIC = b"openssh-key-v1\x00"
PEM_KINDS = {
    b"-----BEGIN RSA PRIVATE KEY-----": ("pem", "rsa"),
    b"-----BEGIN EC PRIVATE KEY-----": ("pem", "ecdsa"),
    b"-----BEGIN DSA PRIVATE KEY-----": ("pem", "dsa"),
    b"-----BEGIN PRIVATE KEY-----": ("pkcs8", ""),
    b"-----BEGIN ENCRYPTED PRIVATE KEY-----": ("pkcs8", ""),
}

# Wire names → our short type names.
WIRE_TYPES = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ssh-dss": "dsa",
    "ecdsa-sha2-nistp256": "ecdsa",
    "ecdsa-sha2-nistp384": "ecdsa",
    "ecdsa-sha2-nistp521": "ecdsa",
    "sk-ssh-ed25519@openssh.com": "ed25519-sk",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ecdsa-sk",
    "ssh-mldsa44-ed25519@openssh.com": "mldsa44-ed25519",
}
_ECDSA_BITS = {"nistp256": 256, "nistp384": 384, "nistp521": 521}
MAX_LINE = 16384  # OpenSSH's own limit for a key line is 8 KB
MAX_KEY_FILE = 1 << 20  # the largest key (RSA 16384 bits, PuTTY's format) is under 20 KB
MAX_PUB_FILE = 1 << 20


class KeyFormatError(ValueError):
    """A key blob that does not parse. `damaged` is set when the base64 itself is broken (a
    character missing or extra), which is what a paste that split the line looks like."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


class PublicKey(Record):
    """A public key: its wire type, blob, and what ssh-keygen -l would say of it."""

    wire_type: str
    blob: bytes
    comment: str = ""

    @property
    def type(self) -> str:
        return WIRE_TYPES.get(self.wire_type, self.wire_type)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def bits(self) -> Optional[int]:
        return key_bits(self.wire_type, self.blob)


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint: base64 of the blob's SHA-256, without '=' padding."""
    import hashlib

    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _read_string(data: bytes, offset: int) -> Tuple[bytes, int]:
    if offset + 4 > len(data):
        raise KeyFormatError("truncated length")
    (length,) = struct.unpack(">I", data[offset:offset + 4])
    end = offset + 4 + length
    if end > len(data):
        raise KeyFormatError("truncated string")
    return data[offset + 4:end], end


def blob_type(blob: bytes) -> str:
    """The key type written inside a public key blob."""
    name, _ = _read_string(blob, 0)
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError("the key type inside the blob is not text") from None


# The fields after the type name in each key type's blob (sshkey.c: sshkey_from_blob_internal).
_BLOB_FIELDS = {
    "ssh-ed25519": 1, "sk-ssh-ed25519@openssh.com": 2, "ssh-rsa": 2, "ssh-dss": 4,
    "ecdsa-sha2-nistp256": 2, "ecdsa-sha2-nistp384": 2, "ecdsa-sha2-nistp521": 2,
    "sk-ecdsa-sha2-nistp256@openssh.com": 3,
}


def blob_cut_short(wire_type: str, blob: bytes) -> bool:
    """Whether a key blob ends before its last field: what a key split by a paste leaves on the
    first line (sshd cannot load it, and skips the line). Types not known here are not judged."""
    fields = _BLOB_FIELDS.get(wire_type)
    if fields is None:
        return False
    try:
        _, off = _read_string(blob, 0)
        for _ in range(fields):
            value, off = _read_string(blob, off)
            if "ed25519" in wire_type and _ == 0 and len(value) != 32:
                return True
    except KeyFormatError:
        return True
    return False


def key_bits(wire_type: str, blob: bytes) -> Optional[int]:
    """The key size ssh-keygen -l reports: RSA modulus bits, the curve size, 256 for ed25519."""
    try:
        if wire_type == "ssh-rsa":
            _, off = _read_string(blob, 0)
            _e, off = _read_string(blob, off)
            n, _ = _read_string(blob, off)
            n = n.lstrip(b"\x00")
            return (len(n) - 1) * 8 + n[0].bit_length() if n else 0
        if wire_type == "ssh-dss":
            _, off = _read_string(blob, 0)
            p, _ = _read_string(blob, off)
            p = p.lstrip(b"\x00")
            return (len(p) - 1) * 8 + p[0].bit_length() if p else 0
        if "nistp" in wire_type:
            return _ECDSA_BITS.get(wire_type.rsplit("-", 1)[-1].split("@")[0])
        if "ed25519" in wire_type:
            return 256
    except KeyFormatError:
        return None
    return None


# -- private key files -------------------------------------------------------------------------

class KeyFile(Record):
    """What a private key file is, as far as its public part says."""

    path: Path
    kind: str  # "openssh", "pem", "pkcs8", "putty", "public", "rfc4716", "empty", "unknown", "unreadable"
    key_type: str = ""  # "ed25519", "rsa", "ecdsa", "dsa", ...
    bits: Optional[int] = None
    encrypted: Optional[bool] = None
    public: Optional[PublicKey] = None
    problems: Tuple[str, ...] = ()  # "crlf", "bom", "leading-space", "no-final-newline", "truncated", "corrupt"
    putty_version: str = ""
    error: str = ""

    @property
    def loadable(self) -> bool:
        """Whether upstream OpenSSH can load this file as a private key."""
        return self.kind in ("openssh", "pem", "pkcs8") and not self.problems


def _tail(handle: BinaryIO, size: int = 64) -> bytes:
    handle.seek(0, 2)
    end = handle.tell()
    handle.seek(max(0, end - size))
    return handle.read()


def read_key_file(path: Path) -> KeyFile:
    """Classify a private key file, reading no more than its public part.

    Only a regular file is opened (ssh follows symbolic links, and so does this); anything else,
    or a file too large to be a key, is "unreadable" with the reason in `error`.
    """
    path = Path(path)
    try:
        with open_regular(path, MAX_KEY_FILE, what="a key") as handle:
            first = handle.readline(MAX_LINE)
            if not first:
                return KeyFile(path, "empty", error="is empty")
            return _classify(path, handle, first)
    except FileProblem as exc:
        if exc.kind == MISSING and os.path.islink(path):
            return KeyFile(path, "unreadable", error="is a symbolic link to nothing (its target does not exist)")
        return KeyFile(path, "unreadable", error=exc.reason)
    except OSError as exc:
        return KeyFile(path, "unreadable", error=f"cannot be read ({exc.strerror or exc})")


def _classify(path: Path, handle: BinaryIO, first: bytes) -> KeyFile:
    problems: List[str] = []
    line = first
    if any(first.startswith(mark) for mark, encoding in BOMS if encoding.startswith("utf-16")):
        return KeyFile(path, "unknown", problems=("utf-16",),
                       error="it was saved as UTF-16 text (by PowerShell, say), which ssh cannot read")
    if line.startswith(b"\xef\xbb\xbf"):
        problems.append("bom")
        line = line[3:]
    blank = 0
    while not line.strip() and blank < 64:  # blank lines before the armour (a paste from a page)
        following = handle.readline(MAX_LINE)
        if not following:
            break
        line, blank = following, blank + 1
    if blank or line[:1] in (b" ", b"\t") or (line.strip() and line[:1] in (b"\r", b"\n")):
        problems.append("leading-space")
    if line.endswith(b"\r\n") or (line.endswith(b"\r") and b"\n" not in line):
        problems.append("crlf")
    head = line.strip()
    if head.startswith(b"PuTTY-User-Key-File-"):
        return _read_putty(path, handle, head, problems)
    if head.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----"):
        return KeyFile(path, "rfc4716", problems=tuple(problems))
    if split_public_line(head.decode("ascii", "replace")) is not None:
        try:
            pub = parse_public_line(head.decode("ascii", "replace"))
        except KeyFormatError as exc:
            return KeyFile(path, "public", problems=tuple(problems), error=str(exc))
        return KeyFile(path, "public", pub.type, pub.bits, public=pub, problems=tuple(problems))
    tail = _tail(handle)
    if tail and not tail.endswith(b"\n"):
        problems.append("no-final-newline")
    if head.startswith(b"-----BEGIN") and b"-----END" not in tail:
        problems.append("truncated")
    if head == OPENSSH_BEGIN:
        return _read_openssh(path, handle, problems)
    if head in PEM_KINDS:
        kind, key_type = PEM_KINDS[head]
        handle.seek(len(first))
        second = handle.readline(MAX_LINE)
        encrypted = b"ENCRYPTED" in head or second.startswith(b"Proc-Type: 4,ENCRYPTED")
        return KeyFile(path, kind, key_type, encrypted=encrypted, problems=tuple(problems))
    return KeyFile(path, "unknown", problems=tuple(problems))


def _read_openssh(path: Path, handle: BinaryIO, problems: List[str]) -> KeyFile:
    """Decode OpenSSH's format only up to the public key blob (PROTOCOL.key)."""
    handle.seek(0)
    for _ in range(66):  # up to the armour line (blank lines may come before it)
        armour = handle.readline(MAX_LINE)
        if not armour or OPENSSH_BEGIN in armour:
            break
    text = b""
    data = b""

    def need(n: int) -> bytes:
        nonlocal text, data
        while len(data) < n:
            line = handle.readline(MAX_LINE)
            if not line or line.strip().startswith(b"-----END"):
                raise KeyFormatError("the file ends before the public key")
            text += b"".join(line.split())
            usable = len(text) - len(text) % 4
            try:
                data = base64.b64decode(text[:usable], validate=True)
            except binascii.Error:
                raise KeyFormatError("the body is not base64") from None
        return data

    try:
        if need(len(MAGIC))[: len(MAGIC)] != MAGIC:
            raise KeyFormatError("the body does not start with openssh-key-v1")
        off = len(MAGIC)
        fields = []
        for _ in range(3):  # ciphername, kdfname, kdfoptions
            length = struct.unpack(">I", need(off + 4)[off:off + 4])[0]
            need(off + 4 + length)
            value, off = _read_string(data, off)
            fields.append(value)
        count = struct.unpack(">I", need(off + 4)[off:off + 4])[0]
        off += 4
        if count != 1:
            raise KeyFormatError(f"the file holds {count} keys; OpenSSH expects 1")
        length = struct.unpack(">I", need(off + 4)[off:off + 4])[0]
        need(off + 4 + length)
        blob, _ = _read_string(data, off)
        wire = blob_type(blob)
    except (KeyFormatError, struct.error) as exc:
        return KeyFile(path, "openssh", problems=tuple(problems) + ("corrupt",), error=str(exc))
    cipher = fields[0].decode("ascii", "replace")
    pub = PublicKey(wire, blob)
    return KeyFile(path, "openssh", pub.type, pub.bits, encrypted=cipher != "none", public=pub,
                   problems=tuple(problems))


def _read_putty(path: Path, handle: BinaryIO, head: bytes, problems: List[str]) -> KeyFile:
    """PuTTY's .ppk: the header lines and the public lines, never the private lines."""
    match = re.match(rb"PuTTY-User-Key-File-(\d+):\s*(\S+)", head)
    version = match.group(1).decode() if match else ""
    wire = match.group(2).decode("ascii", "replace") if match else ""
    encrypted: Optional[bool] = None
    public: Optional[PublicKey] = None
    for _ in range(64):
        line = handle.readline(MAX_LINE)
        if not line:
            break
        key, _, value = line.decode("ascii", "replace").partition(":")
        value = value.strip()
        if key == "Encryption":
            encrypted = value != "none"
        elif key == "Public-Lines" and digits(value):
            body = b"".join(handle.readline(MAX_LINE).strip() for _ in range(min(int(value), 256)))
            try:
                blob = base64.b64decode(body, validate=True)
                public = PublicKey(blob_type(blob), blob)
            except (binascii.Error, KeyFormatError):
                public = None
            break
        elif key == "Private-Lines":
            break
    key_type = public.type if public else WIRE_TYPES.get(wire, wire)
    return KeyFile(path, "putty", key_type, public.bits if public else None, encrypted, public,
                   tuple(problems), putty_version=version)


# -- public keys and authorized_keys ----------------------------------------------------------

_KEY_TYPE_RE = (r"(ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-[a-z0-9-]+@openssh\.com"
                r"|ssh-[a-z0-9-]+@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)")


def split_public_line(line: str) -> Optional[Tuple[str, str, str]]:
    parts = line.strip().split(None, 2)
    if len(parts) >= 2 and re.fullmatch(_KEY_TYPE_RE, parts[0]):
        return parts[0], parts[1], parts[2] if len(parts) > 2 else ""
    return None


def parse_public_line(line: str) -> PublicKey:
    """`type base64 [comment]` → PublicKey; raises KeyFormatError with a reason."""
    parsed = split_public_line(line)
    if parsed is None:
        raise KeyFormatError("not of the form 'type base64 comment'")
    wire, b64, comment = parsed
    try:
        blob = base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("the key's base64 is damaged (a character is missing or extra)", damaged=True) from None
    inner = blob_type(blob)
    if inner != wire:
        raise KeyFormatError(f"the line says {wire} but the key inside is {inner}")
    if blob_cut_short(wire, blob):
        raise KeyFormatError("the key is cut short (its base64 stops before the key ends)", damaged=True)
    return PublicKey(wire, blob, comment.strip())


def read_public_file(path: Path) -> Optional[PublicKey]:
    """The first key line of a .pub file (UTF-8, or UTF-16 as PowerShell's `>` writes it), or None."""
    return read_public(path)[0]


def read_public(path: Path) -> Tuple[Optional[PublicKey], str]:
    """(the first key line of a .pub file, "") or (None, what is wrong, completing "<the file> ...")."""
    try:
        text = read_text(path, MAX_PUB_FILE, what="a public key").text
    except FileProblem as exc:
        return None, exc.reason
    for line in text.splitlines():
        if line.strip():
            try:
                return parse_public_line(line), ""
            except KeyFormatError as exc:
                return None, f"holds no readable public key line ({exc})"
    return None, "holds no public key line"


def parse_pubkey_arg(value: str) -> Tuple[Optional[str], str]:
    """A --pubkey value (a key line, a file, or a fingerprint) → (fingerprint, problem)."""
    value = value.strip()
    if re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", value):
        return value, ""
    match = re.search(r"SHA256:[A-Za-z0-9+/]{43}", value)
    if match:  # pasted `ssh-keygen -l` output
        return match.group(0), ""
    if split_public_line(value) is not None:
        try:
            return parse_public_line(value).fingerprint, ""
        except KeyFormatError as exc:
            return None, str(exc)
    try:
        path = Path(value).expanduser()
        exists = os.path.lexists(path)
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL, an unknown ~user
        exists = False
    if exists:
        key, problem = read_public(path)
        return (key.fingerprint, "") if key is not None else (None, f"{path} {problem}")
    return None, "not a public key line, a .pub file, or a SHA256 fingerprint"


# -- ssh -G ------------------------------------------------------------------------------------

