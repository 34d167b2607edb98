"""Reading files that someone else wrote: regular files only, bounded, in any common text encoding.

Everything the checker reads from a student's or an instructor's folder (keys, `.pub` files,
authorized_keys, ssh config, expectations files, `--compare` reports, collected reports, procfs
and sysfs trees) comes through here, so a named pipe never hangs a run, `/dev/zero` or a 2 GB
sparse file never fills memory, and a file saved by PowerShell (UTF-16) or Notepad (a byte-order
mark) reads like any other. A file that cannot be read raises `FileProblem`, whose `reason`
completes a sentence about the file ("is not a regular file", "is too large to be a key").
"""

from __future__ import annotations

import os
import stat as _stat

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Optional, Tuple, Union

    PathLike = Union[str, "os.PathLike[str]"]

# What kind of problem a file has (FileProblem.kind), as data for checks to branch on.
MISSING, NOT_REGULAR, TOO_LARGE, DENIED, LINK, UNREADABLE = (
    "missing", "not-regular", "too-large", "denied", "symlink", "unreadable")

BOMS = (  # longest first: a UTF-32 mark starts like a UTF-16 one, and is read as UTF-16 here
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

_KINDS = ((_stat.S_ISDIR, "a folder"), (_stat.S_ISFIFO, "a named pipe"), (_stat.S_ISCHR, "a device"),
          (_stat.S_ISBLK, "a device"), (_stat.S_ISSOCK, "a socket"), (_stat.S_ISLNK, "a symbolic link"))


class FileProblem(Exception):
    """A file that was not read, and why: `reason` completes "<the file> ..."."""

    def __init__(self, kind: str, path: object, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.kind = kind
        self.path = str(path)
        self.reason = reason


class Text(Record):
    """A text file's content and the encoding it was saved in."""

    text: str
    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" (a byte-order mark), "utf-16-le", "utf-16-be"

    @property
    def bom(self) -> bool:
        return self.encoding != "utf-8"

    @property
    def utf16(self) -> bool:
        return self.encoding.startswith("utf-16")


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a named pipe")."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def _not_regular(path: object, mode: int) -> FileProblem:
    what = kind_of(mode)
    reason = "is not a regular file" + (f" (it is {what})" if what != "not a regular file" else "")
    return FileProblem(LINK if _stat.S_ISLNK(mode) else NOT_REGULAR, path, reason)


def _os_problem(path: object, exc: OSError, follow: bool = True) -> FileProblem:
    import errno

    code = exc.errno
    if code == errno.ENOENT:
        return FileProblem(MISSING, path, "does not exist")
    if code in (errno.EACCES, errno.EPERM):
        return FileProblem(DENIED, path, "cannot be read (permission denied)")
    if code == errno.ELOOP:
        if follow:
            return FileProblem(LINK, path, "is a symbolic link that leads back to itself (a loop)")
        return FileProblem(LINK, path, "is a symbolic link, which is not followed here")
    if code == errno.EISDIR:
        return FileProblem(NOT_REGULAR, path, "is not a regular file (it is a folder)")
    return FileProblem(UNREADABLE, path, f"cannot be read ({exc.strerror or exc})")


def too_large(path: object, size: int, limit: int, what: str) -> FileProblem:
    return FileProblem(TOO_LARGE, path, f"is too large to be {what} ({size} bytes; at most {limit} expected)")


def open_regular(path: PathLike, limit: int, *, what: str = "read here", follow: bool = True) -> BinaryIO:
    """An open binary handle on a regular file of at most `limit` bytes; raises FileProblem.

    The file is looked at before it is opened, so a named pipe, a terminal or a tape is never
    opened at all; it is opened without blocking and looked at again through the handle, so a
    file swapped in between is caught too. With `follow=False` a symbolic link is refused.
    """
    fd, _size = _open_fd(path, limit, what, follow)
    return os.fdopen(fd, "rb")


def _open_fd(path: PathLike, limit: int, what: str, follow: bool) -> Tuple[int, int]:
    """(a file descriptor, the size) of a regular file opened as `open_regular` says."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError as exc:
        raise _os_problem(path, exc, follow) from None
    except ValueError:  # a NUL in the name
        raise FileProblem(UNREADABLE, path, "is not a valid file name") from None
    if not _stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    if st.st_size > limit:
        raise too_large(path, st.st_size, limit, what)
    try:
        fd = os.open(path, _FOLLOW if follow else _NO_FOLLOW)
    except OSError as exc:
        raise _os_problem(path, exc, follow) from None
    try:
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        if st.st_size > limit:
            raise too_large(path, st.st_size, limit, what)
        return fd, st.st_size
    except BaseException:
        os.close(fd)
        raise


_FOLLOW = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
    | getattr(os, "O_CLOEXEC", 0)
_NO_FOLLOW = _FOLLOW | getattr(os, "O_NOFOLLOW", 0)


def read_bytes(path: PathLike, limit: int, *, what: str = "read here", follow: bool = True,
               partial: bool = False) -> bytes:
    """A regular file's bytes, at most `limit` of them; raises FileProblem.

    procfs and sysfs files say they are empty and then hold text: the read itself is bounded,
    and `partial=True` keeps the first `limit` bytes of a longer one instead of refusing it.
    """
    # A partial read takes the first `limit` bytes of a file of any size (procfs says 0, sysfs 4096).
    fd, size = _open_fd(path, (1 << 62) if partial else limit, what, follow)
    try:
        # As many bytes as the file says it holds, plus one to see it grew: asking for the
        # whole limit would make Python allocate (and the kernel map) `limit` bytes per file.
        # os.read on the descriptor: a buffered handle costs more than the read (a class's reports).
        want = limit + 1 if partial or not 0 < size < limit else size + 1
        chunks, got = [], 0
        while True:  # to the end, or one byte past the limit (it grew since, or procfs said 0)
            ask = (want if got < want else limit + 1) - got
            chunk = os.read(fd, ask) if ask > 0 else b""
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as exc:
        raise _os_problem(path, exc) from None
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)  # the common case: one read
    if len(data) > limit:
        if partial:
            return data[:limit]
        raise too_large(path, len(data), limit, what)
    return data


def decode(data: bytes) -> Tuple[str, str]:
    """(text, encoding) for bytes in UTF-8, UTF-8 with a byte-order mark, or UTF-16 with one.

    Never raises: bytes that do not decode become U+FFFD, so a damaged file still reads.
    """
    for mark, encoding in BOMS:
        if data.startswith(mark):
            return data[len(mark):].decode(encoding.replace("-sig", ""), errors="replace"), encoding
    return data.decode("utf-8", errors="replace"), "utf-8"


def read_text(path: PathLike, limit: int, *, what: str = "read here", follow: bool = True) -> Text:
    """A regular text file's content and encoding; raises FileProblem."""
    text, encoding = decode(read_bytes(path, limit, what=what, follow=follow))
    return Text(text, encoding)


def read_optional(path: PathLike, limit: int, *, partial: bool = True) -> Optional[str]:
    """A small text file's content, or None when it cannot be read (procfs, sysfs, runtime files)."""
    try:
        return decode(read_bytes(path, limit, partial=partial))[0]
    except FileProblem:
        return None
