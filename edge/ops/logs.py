"""Logs on stderr: the request id on every line, secrets never printed.

JSON (one object a line) for machines, or a plain text line for people: `log_format = "auto"`
(the default) picks text when stderr is a terminal and JSON otherwise (a pipe, a file, a
container's log collector), so a newcomer running `kx-edge serve --demo` reads sentences while
production keeps structured lines; `json` or `text` forces one.

`RedactSecrets` is defence in depth: code must not log secrets in the first place, but if a
configured secret value ever reaches a log record it is replaced before the line is written.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

import msgspec

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_encode = msgspec.json.Encoder().encode
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return _encode(line).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = request_id_var.get()
        return f"{text} request_id={request_id}" if request_id else text


class RedactSecrets(logging.Filter):
    """Replaces any configured secret value in a record's message and arguments, its exception
    and its extra fields (which the JSON lines carry too)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would redact ordinary words; real secrets are long.
        self._secrets = tuple(sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_") or isinstance(value, int | float | bool | None):
                continue
            text = value if isinstance(value, str) else str(value)  # what JsonFormatter would write
            redacted = self._redact(text)
            if redacted != text:
                setattr(record, key, redacted)
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


LOG_FORMATS = ("auto", "json", "text")


def chosen_format(fmt: str, stream: TextIO) -> str:
    """`json` or `text`: what `fmt` (one of `LOG_FORMATS`) means for lines written to `stream`."""
    if fmt != "auto":
        return fmt
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or unusual stream: machines read it
        return "json"


def configure_logging(*, level: str, fmt: str, secrets: Iterable[str]) -> None:
    """Route the root logger (and uvicorn's) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen_format(fmt, sys.stderr) == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # httpx logs every request URL at INFO; OAuth callbacks carry codes and states in theirs.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Our own access log carries the request id; uvicorn's would duplicate it without one. uvicorn
    # formats its line (client address, quoted path) whenever this logger has a handler anywhere up
    # its chain, before `disabled` is looked at: no handlers and no propagation skip that work.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
