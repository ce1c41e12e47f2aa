"""Turning bot replies into SMS texts: numbered choices, links, GSM-7, at most 306 characters
(two concatenated segments).

Pure functions, no I/O: the SMS channel renders with them and tests check them directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.core.gsm7 import gsm7_length
from bot.core.gsm7 import to_gsm7 as gsm7_safe
from bot.services.notify import SMS_MAX_CHARS

SMS_LIMIT = SMS_MAX_CHARS  # 306: two concatenated GSM-7 segments (320 made three)

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")


def numbered_choices(buttons: Sequence[dict[str, Any]]) -> str:
    """`Reply 1 for Pay now, 2 for Something else.` from a message's buttons."""
    parts = [f"{i} for {str(b.get('title', '')).strip()}" for i, b in enumerate(buttons, start=1)]
    return "Reply " + ", ".join(parts) + "."


def pick_choice(body: str, buttons: Sequence[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The button a reply like "2" picks, or None when the reply is not a valid choice number."""
    reply = body.strip().rstrip(".")
    if not buttons or not reply.isdigit():
        return None
    index = int(reply)
    if 1 <= index <= len(buttons):
        return dict(buttons[index - 1])
    return None


def message_to_sms_text(message: dict[str, Any]) -> str:
    """One bot message (text, buttons, image, custom) as plain SMS text before splitting."""
    pieces: list[str] = []
    text = (message.get("text") or "").strip()
    if text:
        pieces.append(text)
    custom = message.get("custom") or {}
    if isinstance(custom, dict):
        if custom.get("sms_text") or custom.get("text"):
            pieces.append(str(custom.get("sms_text") or custom.get("text")).strip())
        if custom.get("url"):
            pieces.append(f"Link: {custom['url']}")
    if message.get("image"):
        pieces.append(f"Picture: {message['image']}")
    buttons = message.get("buttons") or []
    if buttons:
        pieces.append(numbered_choices(buttons))
    return " ".join(p for p in pieces if p)


def _add(chunks: list[str], current: str, piece: str, limit: int) -> str:
    """`piece` joined to the message being filled, `current`, when it fits; else `current` goes
    to `chunks` and `piece` starts the next. Returns the message being filled."""
    candidate = f"{current} {piece}" if current else piece
    if gsm7_length(candidate) <= limit:
        return candidate
    chunks.append(current)
    return piece


def _words_to_chunks(sentence: str, limit: int) -> list[str]:
    """A sentence longer than the limit, cut between words (a lone over-long word is cut hard)."""
    chunks: list[str] = []
    current = ""
    for word in sentence.split():
        while gsm7_length(word) > limit:  # e.g. a very long link: nothing better is possible
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:limit])
            word = word[limit:]
        current = _add(chunks, current, word, limit)
    if current:
        chunks.append(current)
    return chunks


def split_sms(text: str, limit: int = SMS_LIMIT) -> list[str]:
    """GSM-7 text split into messages of at most `limit` characters.

    Splits between sentences where possible, else between words, never inside a word (extension
    characters such as `[` count twice, as they do on the network).
    """
    clean = gsm7_safe(text).strip()
    if not clean:
        return []
    if gsm7_length(clean) <= limit and "\n\n" not in clean:
        return [clean]
    sentences = [s.strip() for s in _SENTENCE_END.split(clean) if s and s.strip()]
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        if gsm7_length(sentence) > limit:
            if current:
                chunks.append(current)
                current = ""
            pieces = _words_to_chunks(sentence, limit)
            chunks.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
            continue
        current = _add(chunks, current, sentence, limit)
    if current:
        chunks.append(current)
    return chunks


def render_sms(messages: Iterable[dict[str, Any]], limit: int = SMS_LIMIT) -> list[str]:
    """Every bot message as SMS texts, in order: one or more texts per message."""
    texts: list[str] = []
    for message in messages:
        texts.extend(split_sms(message_to_sms_text(message), limit))
    return texts


def last_buttons(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The buttons a numbered reply refers to: those of the last message that had any."""
    for message in reversed(messages):
        if message.get("buttons"):
            return [
                {"title": b.get("title", ""), "payload": b.get("payload", "")}
                for b in message["buttons"]
            ]
    return None
