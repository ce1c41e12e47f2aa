"""Integration events: every change made in chat, written as one `IntegrationEvent` row in the
same transaction as the change (the event outbox), for the co-op's systems to receive.

The worker delivers each event once per target (the signed webhook, `bot/adapters/webhook.py`);
`jecbot export` writes them as CSV or JSON. A change and its event commit or roll back together:
no event for a change that did not happen, no change without its event. The kinds and their
fields are documented for the co-op's IT staff in docs/integration.md (`KINDS` below is the list).

Unlike the audit log, an event carries what the billing system needs to apply the change: the
account number, the new phone or email, the service address. It never carries a card or bank
account number, a CVV, a processor token or a one-time code: `publish` refuses keys that name a
secret and any run of 13 or more digits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import SECRET_KEYS, SensitiveDataError
from bot.store.models import Account, IntegrationEvent, Member

KINDS = (
    "draft.enrolled",
    "draft.changed",
    "draft.cancelled",
    "contact.changed",
    "paperless.changed",
    "notification_preference.changed",
    "payment.succeeded",
    "payment.declined",
    "payment.failed",
    "service_request.created",
    "callback_request.created",
    "outage_report.created",
)

_CARD_OR_BANK_NUMBER = re.compile(r"\d{13,}")


def _secret_in(value: Any, path: str) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS:
                return f"{path}.{key}"
            found = _secret_in(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _secret_in(item, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, str) and _CARD_OR_BANK_NUMBER.search(value.replace(" ", "")):
        return path
    return None


def _plain(value: Any) -> Any:
    """JSON-ready: dates and times as ISO 8601 strings, everything else as given."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def publish(
    session: AsyncSession,
    kind: str,
    *,
    occurred_at: datetime,
    data: Mapping[str, Any],
    account_id: int | None = None,
    member_id: int | None = None,
    channel: str | None = None,
    conversation_id: str | None = None,
) -> IntegrationEvent:
    """Add one event to `session`; the caller's transaction commits it with the change."""
    if kind not in KINDS:
        raise ValueError(f"unknown integration event kind {kind!r}")
    if occurred_at.tzinfo is None:
        raise ValueError("naive datetime given to an integration event; use an aware datetime")
    problem = _secret_in(data, "data")
    if problem:
        raise SensitiveDataError(f"refusing to publish {problem} in a {kind!r} event; mask it")
    account_number = member_number = None
    if account_id is not None:
        account = await session.get(Account, account_id)
        if account is not None:
            account_number = account.account_number
            member_id = member_id if member_id is not None else account.member_id
    if member_id is not None:
        member = await session.get(Member, member_id)
        member_number = member.member_number if member is not None else None
    event = IntegrationEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        kind=kind,
        occurred_at=occurred_at,
        account_id=account_id,
        account_number=account_number,
        member_id=member_id,
        member_number=member_number,
        channel=channel,
        conversation_id=conversation_id,
        data=_plain(dict(data)),
        created_at=occurred_at,
    )
    session.add(event)
    await session.flush()
    return event
