"""Keep secrets out of every output: a Jupyter token never appears in text, HTML or JSON."""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional, Set, Tuple

REDACTED = "<redacted>"

# A token in a URL query or an Authorization header, whatever registered it. Defence in
# depth: even a token the checks were never told about is hidden.
_TOKEN_PATTERNS = tuple(re.compile(pattern) for pattern in (
    r"(?i)([?&#;]token=)[^&#\s'\"<>]+",
    r"(?i)(authorization:\s*(?:token|bearer)\s+)(?!<redacted>)[^\s'\"<>]+",
    r"(?i)(\btoken[\s:=]+)[0-9a-f]{32,}",
    r"(?i)(\bJUPYTER_TOKEN=)\S+",
))

# Shorter values would redact ordinary words; real Jupyter tokens are 48 or 64 hex digits.
MIN_SECRET_LENGTH = 6


def url_tokens(text: Optional[str]) -> Set[str]:
    """Every form of every `token=` value in a text; never raises."""
    found: Set[str] = set()
    if not isinstance(text, str) or "token=" not in text.lower():
        return found
    from urllib.parse import unquote, unquote_plus

    for raw in re.findall(r"(?i)token=([^&#\s'\"<>]*)", text):
        for value in {raw, unquote(raw, errors="replace"), unquote_plus(raw, errors="replace")}:
            found.add(value)
            found.add(repr(value)[1:-1])  # as an exception message or a repr() would show it
            found.add(ascii(value)[1:-1])
            found.update(re.split(r"[^\x21-\x7e]+", value))  # the halves around a newline or a space
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


def _keep_label(match: re.Match[str]) -> str:
    return str(match.group(1)) + REDACTED


class Redactor:
    """Replaces every registered secret, and anything shaped like a token, with a marker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: Set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Optional[str]) -> None:
        if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
            self._secrets.add(secret)

    def add_url(self, text: Optional[str]) -> None:
        """Register every token a pasted URL could carry, in every form it could be shown in.

        Called before the URL is parsed, so nothing that parsing or a request could raise can
        show the token: the raw and the percent-decoded value, its pieces around characters that
        cannot be in a token (an encoded newline splits it in two), and its escaped form.
        """
        for value in url_tokens(text):
            self.add(value)

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(sorted(self._secrets, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in self.secrets:  # longest first, so a token's prefix never survives
            if secret in text:
                text = text.replace(secret, REDACTED)
        lowered = text.lower()
        if "token" not in lowered and "bearer" not in lowered:  # every pattern needs one: skip the work
            return text
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(_keep_label, text)
        return text
