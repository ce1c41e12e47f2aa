"""A reply of OUT to a "Power is back on" text: reopen an outage report for that address.

Only when the phone's latest restore text went out within `REPLY_WINDOW`; otherwise `handle`
returns None and the text is an ordinary message for the assistant. The new report copies the
address, account, town and ZIP of the report the text was about (or the account's service
address for an outage-alert subscriber), asks for a text when power is back, and is idempotent
per restore text: a second OUT answers with the same reference.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.gateway.conversations import ConversationInfo
from bot.gateway.sms_format import render_sms
from bot.gateway.state import Gateway
from bot.services.outage import OutageService
from bot.store.models import Account, OutageNotification, OutageReport

REPLY_WINDOW = timedelta(hours=24)
DELIVERED = ("sent", "outbox", "delivered")


async def handle(
    gw: Gateway, conv: ConversationInfo, phone: str, body: str, max_chars: int
) -> list[str] | None:
    """Reopen a report and return the reply texts, or None when OUT is not an answer here."""
    now = gw.clock()
    async with gw.sessions() as session:
        notice = await session.scalar(
            select(OutageNotification)
            .where(
                OutageNotification.channel == "sms",
                OutageNotification.to == phone,
                OutageNotification.kind == "restored",
                OutageNotification.status.in_(DELIVERED),
            )
            .order_by(OutageNotification.sent_at.desc(), OutageNotification.id.desc())
            .limit(1)
        )
        if notice is None or notice.sent_at is None or notice.sent_at < now - REPLY_WINDOW:
            return None
        report = await session.get(OutageReport, notice.report_id) if notice.report_id else None
        account_id = report.account_id if report else notice.account_id
        account = await session.get(Account, account_id) if account_id else None
    if report is not None:
        address, town, zip5 = report.address, report.town, report.zip
    elif account is not None:
        address = ", ".join(p for p in (account.service_street, account.service_town) if p)
        town, zip5 = account.service_town, account.service_zip
    else:
        return None
    service = OutageService(gw.sessions, gw.profile.outages.report_prefix, gw.profile.timezone)
    result = await service.report(
        account_id=account_id,
        address=address,
        town=town,
        zip=zip5,
        notify_on_restore=True,
        notify_phone=phone,
        channel="sms",
        conversation_id=conv.id,
        idempotency_key=f"still-out:{notice.id}",
        now=now,
    )
    if result.created:
        reply = (
            f"Thanks for telling us. I reopened your outage report as {result.reference} for "
            f"{address}, and crews will see it. We'll text you when power is back. Stay "
            f"{gw.profile.outages.safe_distance_feet} feet from any downed line and call "
            f"{gw.profile.phones.outage_24_7}."
        )
    else:
        reply = f"Your outage report {result.reference} is already reopened; crews have it."
    await gw.service.accept_member_message(conv, body, notify_masking=False, max_chars=max_chars)
    message, _ = await gw.store.append(
        conv.id, direction="out", sender="system", text=reply, delivered=True
    )
    gw.hub.publish(conv.id, message.to_wire())
    return render_sms([{"text": reply}])
