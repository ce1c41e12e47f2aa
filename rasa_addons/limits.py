"""Rasa's own cap on the length of a member's text, whatever the channel.

The gateway cuts texts at `MESSAGE_MAX_CHARS` (1,600, Twilio's limit) with a note to the member,
but Rasa must not rely on it: DIET's input tensors grow with the number of tokens and
characters, and one 100 kB text made it try to allocate ~11 GB and stall every conversation for
~30 s. So Rasa cuts every text to the same limit itself, in two places:

- the signed gateway channel (`rasa_addons.gateway_channel`) cuts the text before the turn starts,
  so what is parsed and what the tracker stores are the cut text;
- `install()` (called by `rasa_addons.serve` before Rasa starts) wraps Rasa's
  `MessageProcessor.parse_message`, the one door every text goes through on its way to NLU
  (channels, `POST /model/parse`, `POST /conversations/<id>/messages`), and cuts there too.

The limit comes from `MESSAGE_MAX_CHARS` in Rasa's environment (`jecbot run` passes the
gateway's value), else 1,600; it is never below 16 or above 20,000 characters.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Optional

logger = logging.getLogger(__name__)

ENV_MAX_CHARS = "MESSAGE_MAX_CHARS"
DEFAULT_MAX_CHARS = 1600
LOWEST, HIGHEST = 16, 20_000


def max_text_chars(env: Optional[dict] = None) -> int:
    raw = (os.environ if env is None else env).get(ENV_MAX_CHARS, "")
    try:
        value = int(str(raw).strip())
    except ValueError:
        return DEFAULT_MAX_CHARS
    return min(max(value, LOWEST), HIGHEST)


def cap_text(text: Any, limit: Optional[int] = None) -> Any:
    """`text` cut to the limit (non-strings are returned as they are)."""
    limit = max_text_chars() if limit is None else limit
    if isinstance(text, str) and len(text) > limit:
        logger.warning("Cut a text of %d characters to %d before NLU", len(text), limit)
        return text[:limit]
    return text


def install() -> None:
    """Cut `message.text` in every `MessageProcessor.parse_message` call (idempotent)."""
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.parse_message
    if getattr(original, "_jec_capped", False):
        return
    limit = max_text_chars()

    @functools.wraps(original)
    async def parse_message(self: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        if message is not None and isinstance(getattr(message, "text", None), str):
            message.text = cap_text(message.text, limit)
        return await original(self, message, *args, **kwargs)

    parse_message._jec_capped = True  # type: ignore[attr-defined]
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
