"""Keep credentials out of every log line.

aiohttp's HTTP parser refuses an oversized header line with ``LineTooLong``, whose message holds
the line's first 100 bytes (``Authorization: Basic ...``), and logs it with the traceback. This
filter, on the loggers of aiohttp and cargohold, replaces such exceptions by their class and
limit, and masks anything that looks like a credential in what remains: the secret part of
``chp_``/``chj_``/``chr_`` tokens (their public 10-character id stays) and the value of an
``Authorization`` header.
"""

from __future__ import annotations

import logging
import re

from aiohttp.http_exceptions import HttpProcessingError

LOGGERS = (
    "aiohttp.server",
    "aiohttp.access",
    "aiohttp.web",
    "aiohttp.internal",
    "cargohold.web",
    "cargohold.audit",
)

_SECRET = re.compile(r"\b(ch[pjr]_[A-Za-z0-9]{6})[A-Za-z0-9]+")
_AUTHORIZATION = re.compile(r"(?i)(authorization\s*[:=]\s*)(\S+)(\s+\S+)?")


def redact(text: str) -> str:
    """``text`` with token secrets cut to their public id and Authorization values masked."""
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + "[redacted]", text)
    return _SECRET.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            # Its message quotes the request's bytes; say what happened without them.
            limit = exc.args[1] if len(exc.args) > 1 else "?"
            record.msg = f"{record.getMessage()}: {type(exc).__name__} (limit {limit})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactCredentials()


def install() -> None:
    """Attach the filter to the loggers credentials could reach (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
