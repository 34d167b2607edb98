"""Small text helpers shared by the parsers."""

from __future__ import annotations


def digits(text: str) -> bool:
    """Only ASCII digits (str.isdigit() also accepts "¹" and "٣", which int() refuses)."""
    return text.isascii() and text.isdigit()
