"""Server and library messages made safe for logs, errors and the audit trail."""

from __future__ import annotations

from collections.abc import Iterable

MAX_TEXT = 300  # a server's error page is not a log line


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` on one line, shortened, with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."
