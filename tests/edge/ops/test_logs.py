from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from edge.ops.logs import JsonFormatter, RedactSecrets, chosen_format, request_id_var


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("kx", logging.INFO, __file__, 1, message, args, None)


def test_a_configured_secret_never_reaches_the_line() -> None:
    secret = "sk_live_abcdefghijklmnop"
    record = _record("calling with %s and more", secret)
    RedactSecrets([secret, "short"]).filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line
    assert "[redacted]" in line


def test_json_lines_carry_the_request_id_and_extras() -> None:
    token = request_id_var.set("req-12345678")
    try:
        record = _record("GET /healthz 200")
        record.status = 200
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-12345678"
    assert line["status"] == 200
    assert line["msg"] == "GET /healthz 200"


def test_secrets_in_exceptions_are_redacted() -> None:
    secret = "refresh-token-value-123"
    try:
        raise RuntimeError(f"bad token {secret}")
    except RuntimeError:
        record = logging.LogRecord("kx", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    RedactSecrets([secret]).filter(record)
    assert secret not in JsonFormatter().format(record)


def test_http_client_request_lines_are_not_logged() -> None:
    """httpx logs request URLs at INFO, and OAuth URLs carry codes and states."""
    from edge.ops.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(level="debug", fmt="json", secrets=[])
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_uvicorns_own_access_line_is_never_built() -> None:
    """uvicorn formats its access line whenever `uvicorn.access` has a handler up its chain (it
    asks `hasHandlers()`, not `disabled`); our access log replaces it, so it must have none."""
    from edge.ops.logs import configure_logging

    access = logging.getLogger("uvicorn.access")
    root = logging.getLogger()
    saved = root.handlers[:], root.level, access.propagate, access.disabled
    try:
        configure_logging(level="info", fmt="json", secrets=[])
        assert root.handlers
        assert not access.hasHandlers()
    finally:
        root.handlers[:], level, access.propagate, access.disabled = saved
        root.setLevel(level)


def test_secrets_in_extra_fields_are_redacted_too() -> None:
    secret = "op_abcdefghijklmnopqrstuvwxyz"
    record = _record("site created")
    record.token = secret
    record.detail = {"authorization": f"Bearer {secret}"}
    record.count = 3
    RedactSecrets([secret]).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert secret not in json.dumps(line)
    assert line["token"] == "[redacted]" and line["count"] == 3


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("fmt", "tty", "chosen"),
    [
        ("auto", True, "text"),
        ("auto", False, "json"),
        ("json", True, "json"),
        ("text", False, "text"),
    ],
)
def test_auto_logs_text_on_a_terminal_and_json_elsewhere(fmt: str, tty: bool, chosen: str) -> None:
    assert chosen_format(fmt, _Stream(tty)) == chosen


def test_a_closed_stream_gets_json() -> None:
    stream = io.StringIO()
    stream.close()  # isatty() now raises ValueError
    assert chosen_format("auto", stream) == "json"


def test_configure_logging_picks_the_formatter_for_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.ops.logs import TextFormatter, configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        for tty, expected in ((True, TextFormatter), (False, JsonFormatter)):
            monkeypatch.setattr(sys, "stderr", _Stream(tty))
            configure_logging(level="info", fmt="auto", secrets=[])
            assert isinstance(root.handlers[0].formatter, expected)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
