"""Keep secrets out of every output: a Jupyter token never appears in text, HTML or JSON."""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional, Set, Tuple

REDACTED = "<redacted>"

# A token in a URL query or an Authorization header, whatever registered it. Defence in
# depth: even a token the checks were never told about is hidden.
_TOKEN_PATTERNS = (
    r"(?i)([?&#;]token=)[^&#\s'\"<>]+",
    r"(?i)(authorization:\s*(?:token|bearer)\s+)(?!<redacted>)[^\s'\"<>]+",
    r"(?i)(\btoken[\s:=]+)[0-9a-f]{32,}",
    r"(?i)(\bJUPYTER_TOKEN=)\S+",
)

# Shorter values would redact ordinary words; real Jupyter tokens are 48 or 64 hex digits.
MIN_SECRET_LENGTH = 6


def _keep_label(match: re.Match[str]) -> str:
    return str(match.group(1)) + REDACTED


class Redactor:
    """Replaces every registered secret, and anything shaped like a token, with a marker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: Set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Optional[str]) -> None:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            self._secrets.add(secret)

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(sorted(self._secrets, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in self.secrets:  # longest first, so a token's prefix never survives
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = re.sub(pattern, _keep_label, text)
        return text
