"""The web chat's conversation token: a signed conversation id kept in the browser.

Signed with `settings.secret_key` (itsdangerous), so a browser can resume only a conversation
the gateway gave it. Tokens live 30 days; after that the member simply starts a new chat.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.core.keys import Purpose, keyring

TOKEN_MAX_AGE_SECONDS = 30 * 24 * 3600
_SALT = "jec-gateway-conversation"


class ConversationTokens:
    def __init__(self, secret_key: str, max_age_seconds: int = TOKEN_MAX_AGE_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(
            keyring(secret_key, Purpose.CONVERSATION), salt=_SALT
        )
        self._max_age = max_age_seconds

    def issue(self, conversation_id: str) -> str:
        return self._serializer.dumps({"c": conversation_id})

    def read(self, token: object) -> str | None:
        """The conversation id in a valid token; None for a missing, forged or expired one."""
        if not isinstance(token, str) or not token or len(token) > 500:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadSignature:
            return None
        conversation_id = data.get("c") if isinstance(data, dict) else None
        return (
            conversation_id
            if isinstance(conversation_id, str) and conversation_id.startswith("web-")
            else None
        )
