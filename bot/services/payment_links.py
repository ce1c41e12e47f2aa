"""Signed, single-use links to the secure payment page (15 minutes), to add a card or bank account.

Why: card and bank numbers never travel through the chat or SMS (docs/policies.md, "Card and
bank data"). When a member wants to pay with a new method, the assistant creates a link with
`create_link` and sends it; the member types the numbers on the secure page, never in the
conversation.

A link is two things:

- a `PaymentLink` row (bot/store/models.py) keyed by a random `nonce` (unique), with the member,
  account and conversation it was made for, its `purpose` (`add_method`), `expires_at` (15 minutes
  after creation) and `used_at` (set once, by `consume`);
- a URL `{settings.public_base_url}/pay/{token}` where `token` is
  `URLSafeTimedSerializer(<payment-links key>, salt="payment-link").dumps({"n": nonce})`, the key
  derived from `settings.secret_key` (bot.core.keys). The signature stops tampering and
  guessing; the row makes the link single-use and revocable.

Contract for the secure page (served by the gateway):

1. `GET /pay/{token}`: call `verify_link(sessions, secret_key, token, now=...)`. On
   `LinkProblem` show `problem.message` (member wording: expired, already used, not valid) and
   nothing else. On success show the card / bank form for `link.account_id`; never pre-fill numbers.
2. `POST /pay/{token}` (the form): call `consume_link(...)` FIRST (it marks the row used in one
   atomic UPDATE ... WHERE used_at IS NULL, so two submits of one link cannot both pass), then
   tokenize with the processor (`PaymentProcessor.tokenize_card` / `tokenize_bank`), create a
   `PaymentMethod` row for `link.member_id` holding only the token, kind, brand, last four, expiry
   and holder name, and tell the conversation `link.conversation_id` (e.g. a bot message "Your Visa
   ending 4242 is saved. Say pay bill to use it."). If tokenizing fails, show the error and offer a
   fresh link from the chat (the consumed one cannot be reused).
3. Never log the token's payload together with the card details; never log card numbers at all.

Checks (`verify_link` / `consume_link`) fail with a `LinkProblem` whose `reason` is one of
`invalid` (bad signature, garbled or unknown nonce), `expired` (15 minutes passed: checked against
the row's `expires_at` with the injected `now`, not the wall clock) or `used`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.keys import Purpose, keyring
from bot.store.models import PaymentLink

LINK_LIFETIME = timedelta(minutes=15)
SALT = "payment-link"

ProblemReason = Literal["invalid", "expired", "used"]

PROBLEM_MESSAGES: dict[str, str] = {
    "invalid": "This link isn't valid. Please ask the assistant for a new one.",
    "expired": (
        "This link has expired (links work for 15 minutes). Please ask the assistant for a new one."
    ),
    "used": (
        "This link was already used (each link works once). Please ask the assistant for a new one."
    ),
}


class LinkProblem(ValueError):
    """Why a link cannot be used; `message` is safe to show the member."""

    def __init__(self, reason: ProblemReason) -> None:
        super().__init__(PROBLEM_MESSAGES[reason])
        self.reason: ProblemReason = reason
        self.message = PROBLEM_MESSAGES[reason]


@dataclass(frozen=True)
class CreatedLink:
    url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkInfo:
    """What the secure page learns from a valid link."""

    id: int
    member_id: int
    account_id: int
    conversation_id: str
    purpose: str
    expires_at: datetime
    used_at: datetime | None


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(keyring(secret_key, Purpose.PAYMENT_LINKS), salt=SALT)


def link_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/pay/{token}"


async def create_link(
    sessions: async_sessionmaker[AsyncSession],
    *,
    secret_key: str,
    public_base_url: str,
    member_id: int,
    account_id: int,
    conversation_id: str,
    now: datetime,
    purpose: str = "add_method",
) -> CreatedLink:
    """Store a new single-use link row and return its signed URL (valid 15 minutes from `now`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    nonce = secrets.token_urlsafe(24)
    expires_at = now + LINK_LIFETIME
    async with sessions() as session:
        session.add(
            PaymentLink(
                nonce=nonce,
                member_id=member_id,
                account_id=account_id,
                conversation_id=conversation_id[:120],
                purpose=purpose,
                expires_at=expires_at,
                created_at=now,
            )
        )
        await session.commit()
    token = _serializer(secret_key).dumps({"n": nonce})
    return CreatedLink(url=link_url(public_base_url, token), token=token, expires_at=expires_at)


def _nonce_from(secret_key: str, token: str) -> str:
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        raise LinkProblem("invalid") from None
    nonce = payload.get("n") if isinstance(payload, dict) else None
    if not isinstance(nonce, str) or not nonce:
        raise LinkProblem("invalid")
    return nonce


def _info(row: PaymentLink) -> LinkInfo:
    return LinkInfo(
        id=row.id,
        member_id=row.member_id,
        account_id=row.account_id,
        conversation_id=row.conversation_id,
        purpose=row.purpose,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


async def verify_link(
    sessions: async_sessionmaker[AsyncSession], secret_key: str, token: str, *, now: datetime
) -> LinkInfo:
    """The link's details if it can still be used; `LinkProblem` otherwise. Changes nothing."""
    nonce = _nonce_from(secret_key, token)
    async with sessions() as session:
        row = await session.scalar(select(PaymentLink).where(PaymentLink.nonce == nonce))
        if row is None:
            raise LinkProblem("invalid")
        if row.used_at is not None:
            raise LinkProblem("used")
        if now >= row.expires_at:
            raise LinkProblem("expired")
        return _info(row)


async def consume_link(
    sessions: async_sessionmaker[AsyncSession], secret_key: str, token: str, *, now: datetime
) -> LinkInfo:
    """Mark the link used, exactly once, and return its details; `LinkProblem` if it can't be used.

    The UPDATE only matches an unused, unexpired row, so of two concurrent submits one wins.
    """
    info = await verify_link(sessions, secret_key, token, now=now)
    async with sessions() as session:
        result = await session.execute(
            update(PaymentLink)
            .where(
                PaymentLink.id == info.id,
                PaymentLink.used_at.is_(None),
                PaymentLink.expires_at > now,
            )
            .values(used_at=now)
        )
        await session.commit()
    if result.rowcount != 1:  # lost a race with another submit (or expired in between)
        raise LinkProblem("used" if now < info.expires_at else "expired")
    return LinkInfo(
        id=info.id,
        member_id=info.member_id,
        account_id=info.account_id,
        conversation_id=info.conversation_id,
        purpose=info.purpose,
        expires_at=info.expires_at,
        used_at=now,
    )
