"""The web chat's conversation token: a signed conversation id kept in the browser.

Signed with the conversation-token purpose key (itsdangerous), so a browser can resume only a
conversation the gateway gave it. The token carries the time it was issued, read with the
gateway's clock; the gateway issues a fresh one every time the widget connects, and refuses one
older than `WEB_TOKEN_IDLE_HOURS` (a day by default); the gateway also refuses a token whose
conversation's last message is older than that (`idle_too_long`), however often the page
reconnected. So a chat left alone on a shared computer for a day cannot be reopened by the next
person: they get a new, empty conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.core.keys import Purpose, keyring

TOKEN_MAX_AGE_SECONDS = 24 * 3600
_SALT = "jec-gateway-conversation"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ConversationTokens:
    def __init__(
        self,
        secret_key: str,
        max_age_seconds: int = TOKEN_MAX_AGE_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(
            keyring(secret_key, Purpose.CONVERSATION), salt=_SALT
        )
        self._max_age = max_age_seconds
        self._clock = clock

    def issue(self, conversation_id: str) -> str:
        return self._serializer.dumps({"c": conversation_id, "t": int(self._clock().timestamp())})

    def idle_too_long(self, last_message_at: datetime) -> bool:
        """Whether a conversation whose last message was at this time is too idle to resume."""
        return self._clock() - last_message_at > timedelta(seconds=self._max_age)

    def read(self, token: object) -> str | None:
        """The conversation id in a valid token; None for a missing, forged or expired one."""
        if not isinstance(token, str) or not token or len(token) > 500:
            return None
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        issued = data.get("t")
        now = self._clock().timestamp()
        if not isinstance(issued, int) or not (-300 <= now - issued <= self._max_age):
            return None  # too old, from the future, or an old-format token without a time
        conversation_id = data.get("c")
        return (
            conversation_id
            if isinstance(conversation_id, str) and conversation_id.startswith("web-")
            else None
        )
