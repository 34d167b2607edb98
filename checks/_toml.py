"""TOML reading: the standard library's `tomllib` on Python 3.11+, `tomli` before that.

`selfcheck.pyz` bundles `tomli`, so the single file works on Python 3.9 with nothing installed.
"""

from __future__ import annotations

try:  # Python 3.11+
    from tomllib import TOMLDecodeError, loads
except ImportError:  # pragma: no cover - exercised on Python 3.9/3.10 only
    try:
        from tomli import TOMLDecodeError, loads  # type: ignore[no-redef]
    except ImportError:
        from .expectations import ExpectationsError

        raise ExpectationsError(
            "this Python is older than 3.11 and has no TOML reader: install one with "
            "'python3 -m pip install --user tomli', or run the single file 'python3 selfcheck.pyz', "
            "which carries its own"
        ) from None

__all__ = ["TOMLDecodeError", "loads"]
