"""Logging for operators: one setup for every process, masked, with request and conversation ids.

`configure_logging(settings)` installs one stdout handler: readable text for `make run`
(LOG_FORMAT=text) or one JSON object per line for production log collectors (LOG_FORMAT=json).
Either way every record passes `mask_log_text` first (card and bank numbers as the chat masks
them, then any other run of 6 or more digits: one-time codes, full account and phone numbers;
then signed-link tokens), and carries the request id and conversation id of the task that
logged it (`contextvars`, set by the gateway's request middleware and its conversation
pipeline). See docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from aiohttp import web

from bot.config import Settings
from bot.core.masking import mask_digits, mask_sensitive

request_id_var: ContextVar[str | None] = ContextVar("jec_request_id", default=None)
conversation_id_var: ContextVar[str | None] = ContextVar("jec_conversation_id", default=None)

_LONG_DIGITS = re.compile(r"(?<!\d)\d{6,}(?!\d)")
# Signed links in request paths (payment page, usage chart, bill PDF) and `token=` query values:
# a logged link would let whoever reads the log open it while it is valid.
_LINK_TOKEN = re.compile(r"(/(?:pay|usage|bill)/)[^\s\"?#]+?(\.pdf|\.svg)?(?=[\s\"?#]|$)")
_QUERY_TOKEN = re.compile(r"((?:token|signature)=)[^\s\"&#]+", re.IGNORECASE)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(conversation_id)s] %(message)s"


def mask_log_text(text: str) -> str:
    """What may reach a log: cards and bank numbers masked as in the chat, every other run of 6+
    digits (a one-time code, a full account or phone number) down to its last 4 at most, and
    the tokens of signed links hidden."""
    masked = mask_sensitive(text).text
    masked = _LONG_DIGITS.sub(lambda m: mask_digits(m.group(0)), masked)
    masked = _LINK_TOKEN.sub(lambda m: f"{m.group(1)}<token>{m.group(2) or ''}", masked)
    return _QUERY_TOKEN.sub(r"\1<hidden>", masked)


class ContextFilter(logging.Filter):
    """Masks the message (and any traceback) and adds `request_id` / `conversation_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        record.msg = mask_log_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        record.exc_info = None  # formatted (and masked) above: never formatted again unmasked
        record.request_id = request_id_var.get() or "-"
        record.conversation_id = conversation_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "conversation_id": getattr(record, "conversation_id", None),
        }
        if record.exc_text:
            body["error"] = record.exc_text
        return json.dumps({k: v for k, v in body.items() if v not in (None, "-")})


def build_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """The stdout handler for `log_format` (text|json), with masking and the ids."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.addFilter(ContextFilter())
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Replace the root logger's handlers with the one masked handler for these settings."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(build_handler(settings.log_format, stream))
    root.setLevel(settings.log_level)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (the proxy's X-Request-ID when it looks like one), log it on
    every line the request causes, and return it in the X-Request-ID response header."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    # Set, not reset afterwards: aiohttp writes its access-log line for this request after the
    # middleware returns, in the same task, and the next request on the connection sets its own.
    request_id_var.set(request_id)
    conversation_id_var.set(None)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-ID"] = request_id
        raise
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response
