"""TOML files the checks read (assignments, sites): parsed with the standard library's `tomllib`
(3.11+) or `tomli` (bundled in selfcheck.pyz), and the parsed-table cache the single file carries.

Parsing TOML means importing tomllib (and typing, string, datetime with it): about a third of a
bare interpreter's start. So selfcheck.pyz carries each TOML file's parsed table beside it, the
way Python keeps bytecode (`__pycache__/<name>.toml.marshal`), written when the file is built
(scripts/build_pyz.py) and used only when made from exactly the same bytes. Nothing is ever
written at run time: an installed package or a clone parses the TOML.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Union

_CACHE_FORMAT = 1


class TomlProblem(ValueError):
    """A TOML file that cannot be read, with a message for its author."""


def toml_module() -> Any:
    """The TOML reader: the standard library's `tomllib` on Python 3.11+, `tomli` before that
    (`selfcheck.pyz` bundles it, so the single file works on Python 3.9 with nothing installed)."""
    try:
        import tomllib  # type: ignore[import-not-found, unused-ignore]  # mypy targets 3.10, tomllib is 3.11+

        return tomllib
    except ImportError:  # pragma: no cover - Python 3.9/3.10 only
        pass
    try:
        import tomli

        return tomli
    except ImportError:
        raise TomlProblem(
            "this Python is older than 3.11 and has no TOML reader: install one with "
            "'python3 -m pip install --user tomli', or run the single file 'python3 selfcheck.pyz', "
            "which carries its own"
        ) from None


def decode(raw: Union[bytes, str], source: str, what: str = "a TOML file") -> Dict[str, Any]:
    """The table in `raw` (bytes in UTF-8 or UTF-16 with a byte-order mark, or text)."""
    toml = toml_module()
    if isinstance(raw, bytes):
        from .files import decode as decode_bytes

        text = decode_bytes(raw)[0]
    else:
        text = raw
    try:
        table: Dict[str, Any] = toml.loads(text)
        return table
    except toml.TOMLDecodeError as exc:
        raise TomlProblem(f"{source}: not valid TOML: {exc}") from None
    except (RecursionError, MemoryError):
        raise TomlProblem(f"{source}: nested too deeply to be {what} "
                          "(arrays or tables inside each other, hundreds deep)") from None


def cache_blob(raw: bytes, data: Optional[Dict[str, Any]] = None) -> bytes:
    """The cache entry for a TOML file's bytes and their parsed table (parsed here when not
    given; raises TomlProblem if invalid TOML, ValueError if not marshal-able)."""
    import marshal

    return marshal.dumps((_CACHE_FORMAT, raw, decode(raw, "<toml>") if data is None else data))


def cached(blob: Optional[bytes], raw: bytes) -> Optional[Dict[str, Any]]:
    """The parsed table in a cache entry made from exactly `raw`, else None."""
    import marshal

    try:
        fmt, source, data = marshal.loads(blob or b"")
    except (ValueError, EOFError, TypeError):
        return None
    return data if fmt == _CACHE_FORMAT and source == raw and isinstance(data, dict) else None
