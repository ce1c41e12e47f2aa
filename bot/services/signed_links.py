"""Short-lived signed links to account documents (usage chart, bill PDF), readable without a login.

Why signed rather than stored: the gateway serves the chart and the PDF to whoever holds the link
(an `<img>` in the web chat, a link in a text message) and has no session to check. The link
itself carries the account id and what to show, signed with the links key derived from
`settings.secret_key` (bot.core.keys; itsdangerous `URLSafeTimedSerializer`, one salt per kind
of document), and stops working after 15 minutes. A
tampered link fails the signature; nothing in it is secret (ids only, never an account number).

The time comes from the caller's clock (`now`), not from `time.time()`, so the action server's
frozen test clock and the gateway's injected clock agree with the link's age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.core.keys import Purpose, keyring

LINK_MAX_AGE_SECONDS = 15 * 60
MAX_TOKEN_LENGTH = 600  # anything longer is not one of ours

USAGE_CHART_SALT = "usage-chart"
BILL_PDF_SALT = "bill-pdf"


@dataclass(frozen=True)
class LinkRefused(Exception):
    """Why a link cannot be used: `expired` (older than 15 minutes) or `invalid` (tampered or
    foreign)."""

    reason: Literal["expired", "invalid"]


def _serializer(secret_key: str, salt: str, now: datetime) -> URLSafeTimedSerializer:
    """A serializer whose idea of "now" is the caller's clock."""
    if now.tzinfo is None:
        raise ValueError("naive datetime; use an aware datetime")
    stamp = int(now.timestamp())

    class _ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(
        keyring(secret_key, Purpose.LINKS), salt=salt, signer=_ClockSigner
    )


def sign(secret_key: str, salt: str, payload: dict[str, Any], *, now: datetime) -> str:
    """A URL-safe token carrying `payload`, stamped with `now`."""
    return _serializer(secret_key, salt, now).dumps(payload)


def unsign(
    secret_key: str,
    salt: str,
    token: object,
    *,
    now: datetime,
    max_age_seconds: int = LINK_MAX_AGE_SECONDS,
) -> dict[str, Any]:
    """The payload of a token made by `sign` with the same salt, at most `max_age_seconds` old.

    Raises `LinkRefused("expired")` for an old link (or one dated in the future) and
    `LinkRefused("invalid")` for anything else that is not our signature.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused("invalid")
    try:
        payload = _serializer(secret_key, salt, now).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise LinkRefused("expired") from None
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("invalid") from None
    if not isinstance(payload, dict):
        raise LinkRefused("invalid")
    return payload
