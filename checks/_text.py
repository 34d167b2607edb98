"""Small text helpers shared by the parsers."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def digits(text: str) -> bool:
    """Only ASCII digits (str.isdigit() also accepts "¹" and "٣", which int() refuses)."""
    return bool(_DIGITS.fullmatch(text))
