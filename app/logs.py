"""Logging to stderr, as text or JSON, with every secret masked."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable

MASK = "[redacted]"
# Slack tokens look alike whatever they are for; mask any that slip in, configured or not.
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")
# The WebSocket URL Slack hands out for Socket Mode opens a connection for whoever holds its ticket.
_SOCKET_TICKET = re.compile(r"(\bticket=)[^&\s'\"]+")


class SecretMasker:
    """Replaces known secret values, anything shaped like a Slack token, and Socket Mode tickets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _SOCKET_TICKET.sub(r"\g<1>" + MASK, _SLACK_TOKEN.sub(MASK, text))


class MaskingFilter(logging.Filter):
    """Masks a record where it is made, before any handler (a test's capture too) sees it.

    For loggers that libraries write secrets to at DEBUG: slack-sdk's, with the Socket Mode URL it is
    handed, and websockets', with the request line of the handshake.
    """

    def __init__(self, masker: SecretMasker | None = None) -> None:
        super().__init__()
        self._masker = masker or SecretMasker()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._masker.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_records_of(logger: logging.Logger) -> None:
    """Attach a MaskingFilter to `logger`, once."""
    if not any(isinstance(f, MaskingFilter) for f in logger.filters):
        logger.addFilter(MaskingFilter())


class _Dropped(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in str(record.msg)


def drop_lines_saying(logger: logging.Logger, text: str) -> None:
    """Drop `logger`'s lines whose message holds `text`, once attached: a library's line that says what ours
    already say, or what is here by design."""
    if not any(isinstance(f, _Dropped) and f.text == text for f in logger.filters):
        logger.addFilter(_Dropped(text))


def library_logger(name: str) -> logging.Logger:
    """The logger `name`, for a library that tests `logger.level <= DEBUG` itself before it builds a debug line
    (slack-sdk, Bolt): at NOTSET (0) that test passes, and every call built lines no handler printed (slack-sdk
    the repr of each message's blocks). Its level is the root's now: DEBUG only when the operator asked for it."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.getLogger().getEffectiveLevel())
    mask_records_of(logger)
    return logger


class _MaskingFormatter(logging.Formatter):
    def __init__(self, masker: SecretMasker, as_json: bool) -> None:
        # The pid tells apart the lines of the worker processes `acme worker --processes N` runs side by side.
        super().__init__("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        self._masker = masker
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        if not self._as_json:
            return self._masker.mask(super().format(record))
        entry = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._masker.mask(json.dumps(entry))


class NowAndThen:
    """A warning said at most once every `every_s`, with how many like it went unsaid: for what a stranger
    can cause at will (a flood of badly signed requests), which must show without filling the log."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0) -> None:
        self._logger, self._every_s = logger, every_s
        self._next_at, self._unsaid = 0.0, 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._unsaid += 1
            return
        unsaid, self._unsaid, self._next_at = self._unsaid, 0, now + self._every_s
        self._logger.warning(message + (f" ({unsaid} more like it since the last said)" if unsaid else ""), *args)


def configure_logging(level: str = "INFO", log_format: str = "text", secrets: Iterable[str] = ()) -> None:
    """Send every log line to stderr through the secret masker."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter(SecretMasker(secrets), as_json=log_format == "json"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request line at INFO; at 200 requests a second that drowns what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic tells at INFO of its plugins, its dialect and each migration it runs, at every start:
    # nothing an operator acts on. Its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # matplotlib says at INFO how it reads each chart's axes ("Using categorical units..."), five a report.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
