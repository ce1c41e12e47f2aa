"""The audit log: who did what to which account, when, on which channel, verified how.

Every action that changes a member's money or data (payments, drafts, contact changes, agent
actions) writes one `AuditEntry` in the same transaction as the change, so the log and the data
never disagree. The log is read by staff and kept for years, so it must never hold a secret:
`record` refuses `details` that look like a card number, a bank account number or any other long
digit run (9 or more digits, spaces and dashes ignored), and keys that name a secret (`cvv`,
`token`, `password`, ...). Mask before recording (`last4`, `***0101`); put the account in
`account_id`, not its 10-digit number in `details`. Refusing loudly is deliberate: a test or a
developer finds the leak, instead of it sitting in the log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.checks import luhn_valid
from bot.store.models import AuditEntry
from bot.store.types import utcnow

# Any unbroken run of 9+ digits (bank accounts, card numbers, SSNs); and card numbers typed with
# spaces or dashes ("4111 1111 1111 1111"): 13-19 digits passing Luhn. Dates and times such as
# "2026-11-28 15:30" are neither.
_LONG_DIGIT_RUN = re.compile(r"\d{9,}")
_SEPARATED_DIGITS = re.compile(r"\d[\d -]{11,}\d")
SECRET_KEYS = frozenset(
    {
        "cvv",
        "cvc",
        "cvv2",
        "card_number",
        "pan",
        "bank_account_number",
        "account_number_full",
        "routing_and_account",
        "password",
        "token",
        "processor_token",
        "otp",
        "one_time_code",
        "secret",
    }
)


class SensitiveDataError(ValueError):
    """Audit details contained something that must never be stored; mask it first."""


def find_sensitive(details: Any, path: str = "details") -> str | None:
    """Where in `details` a secret-looking key or value is, or None. Walks dicts, lists, tuples."""
    if isinstance(details, Mapping):
        for key, value in details.items():
            where = f"{path}.{key}"
            if str(key).lower() in SECRET_KEYS:
                return f"{where} (a secret's name)"
            found = find_sensitive(value, where)
            if found:
                return found
        return None
    if isinstance(details, (list, tuple, set, frozenset)):
        for index, value in enumerate(details):
            found = find_sensitive(value, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(details, bool) or details is None:
        return None
    if isinstance(details, (str, int)):
        text = str(details)
        if _LONG_DIGIT_RUN.search(text):
            return f"{path} (9 or more digits in a row)"
        for match in _SEPARATED_DIGITS.finditer(text):
            digits = re.sub(r"\D", "", match.group())
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return f"{path} (a card number)"
    return None


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    account_id: int | None = None,
    conversation_id: str | None = None,
    channel: str | None = None,
    verified_how: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to `session` (the caller's transaction commits it with the change).

    `actor` is `member:<id>`, `agent:<name>`, `system` or `import`; `action` a dotted name such as
    `payment.succeeded`. Raises `SensitiveDataError` (naming the field, never echoing the value)
    if `details` holds something that looks like a secret.
    """
    payload = dict(details or {})
    problem = find_sensitive(payload)
    if problem:
        raise SensitiveDataError(
            f"refusing to write {problem} to the audit log for {action!r}; mask it"
        )
    at = now or utcnow()
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the audit log; use an aware datetime")
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        account_id=account_id,
        conversation_id=conversation_id,
        channel=channel,
        verified_how=verified_how,
        details=payload,
    )
    session.add(entry)
    await session.flush()
    return entry


async def entries(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    conversation_id: str | None = None,
    action_prefix: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The newest entries matching every given filter (for the agent console and tests)."""
    query = select(AuditEntry)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    if conversation_id is not None:
        query = query.where(AuditEntry.conversation_id == conversation_id)
    if action_prefix is not None:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    rows = await session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return list(rows)
