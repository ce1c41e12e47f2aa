"""`jecbot chat`: talk to the running assistant from a terminal, through Rasa's gateway channel.

Each turn is signed like the gateway's (bot.gateway.rasa_client), with the key derived from this
installation's SECRET_KEY, so only someone holding the installation's `.env` can chat this way.

Until the gateway's web chat exists this is how a developer or IT person tries the assistant.
Bot messages are printed as they come; buttons become numbered choices (type the number to pick
one, as a member would by SMS). `/quit` (or Ctrl-D) leaves.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.config import Settings
from bot.gateway.rasa_client import CHANNEL_PATH, channel_key, signed_turn

QUIT_WORDS = {"/quit", "/exit"}


@dataclass
class ChatState:
    """The buttons offered by the last reply, so a number can pick one."""

    choices: list[dict[str, str]] = field(default_factory=list)


def render(messages: list[dict[str, Any]], state: ChatState) -> str:
    """Bot replies as terminal text; remembers the buttons as numbered choices."""
    lines: list[str] = []
    state.choices = []
    for message in messages:
        if message.get("text"):
            lines.append(f"bot> {message['text']}")
        if message.get("image"):
            lines.append(f"bot> [image] {message['image']}")
        for button in message.get("buttons") or []:
            state.choices.append(button)
            lines.append(f"     {len(state.choices)}. {button.get('title', button.get('payload'))}")
    if not lines:
        lines.append("bot> (no reply)")
    return "\n".join(lines)


def to_message(typed: str, state: ChatState) -> str:
    """A number picks a button's payload; anything else is sent as typed."""
    text = typed.strip()
    if text.isdigit() and 1 <= int(text) <= len(state.choices):
        return state.choices[int(text) - 1].get("payload") or text
    return text


async def send(
    session: aiohttp.ClientSession,
    rasa_url: str,
    sender: str,
    text: str,
    *,
    secret_key: str,
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One signed turn over the gateway channel; raises aiohttp errors to the caller."""
    body, headers = signed_turn(channel_key(secret_key), sender, text, metadata or {})
    async with session.post(f"{rasa_url}{CHANNEL_PATH}", data=body, headers=headers) as response:
        response.raise_for_status()
        body = await response.json()
        return body if isinstance(body, list) else []


def _not_running(settings: Settings) -> str:
    return (
        f"The assistant isn't answering at {settings.rasa_url}. Start it with `make run` "
        "(or `.venv/bin/jecbot run`) in another terminal, wait for 'The assistant is running', "
        "then try again."
    )


async def _chat(settings: Settings, sender: str) -> int:
    state = ChatState()
    timeout = aiohttp.ClientTimeout(total=max(settings.http_timeout_seconds, 30.0))
    loop = asyncio.get_running_loop()
    print(f"Chatting as {sender}. Type a message; a number picks a choice; /quit leaves.")
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                typed = await loop.run_in_executor(None, input, "you> ")
            except EOFError:
                print()
                return 0
            if typed.strip().lower() in QUIT_WORDS:
                return 0
            if not typed.strip():
                continue
            try:
                replies = await send(
                    session,
                    settings.rasa_url,
                    sender,
                    to_message(typed, state),
                    secret_key=settings.secret_key,
                )
            except (TimeoutError, aiohttp.ClientConnectionError):
                print(f"\n{_not_running(settings)}", file=sys.stderr)
                return 1
            except aiohttp.ClientResponseError as exc:
                print(
                    f"Rasa answered with an error ({exc.status}); see var/log/rasa.log.",
                    file=sys.stderr,
                )
                return 1
            print(render(replies, state))


def run_chat(settings: Settings, sender: str | None = None) -> int:
    """Interactive chat until /quit; 1 if Rasa is not reachable."""
    sender = sender or f"terminal-{uuid.uuid4().hex[:8]}"
    try:
        return asyncio.run(_chat(settings, sender))
    except KeyboardInterrupt:
        print()
        return 0
