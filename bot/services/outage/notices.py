"""Outage texts: "power is back" to members who asked, and "outage near you" / "restored" to
members whose preferences include outage alerts for their area.

Event-driven through the database: whoever marks an outage restored (the import, the outage
system's endpoint, staff in the console) only writes the `outages` row; the periodic job
(`bot.worker.registry`, every few seconds) calls `send_outage_notices`, which finds

- outages restored in the last `RESTORED_WINDOW` (members who asked for a text on a report linked
  to the outage, or made while it was out in its area, get "Power is back on near Wrens as of
  4:05 PM. If you're still out, reply OUT."; members subscribed to outage alerts for the area get
  the same "restored" text, or an email);
- outages that started in the last `NEW_WINDOW` and are still out ("outage near you", for
  subscribers only).

Exactly once: each text is claimed by inserting its `outage_notifications` row (unique per outage,
kind, channel and address) in its own transaction before anything is sent; a copy that loses the
insert skips it. A crash between claim and send leaves the row "claimed" and nothing is resent
(at most once, never twice). Opted-out numbers are skipped up front and the notifier refuses
them as well. Outage texts go out at any hour (no quiet hours).

The area of a member is the service address of their account: its ZIP, town or feeder matching
one of the outage's areas (`outage_areas`), as the outage lookups in `service.py` match them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.profile import CoopProfile
from bot.services.notify import Notifier
from bot.services.outage.status import format_local_time, normalize_town, normalize_zip5
from bot.store.models import (
    Account,
    Contact,
    NotificationPreference,
    Outage,
    OutageNotification,
    OutageReport,
    SmsOptOut,
)

log = logging.getLogger(__name__)

RESTORED_WINDOW = timedelta(hours=24)  # restores older than this are history, not news
NEW_WINDOW = timedelta(hours=12)  # "outage near you" only for outages this fresh
OUTAGE_TOPIC = "outage"


@dataclass(frozen=True)
class Target:
    channel: str  # sms|email
    to: str
    report_id: int | None = None
    account_id: int | None = None


def where(outage: Outage) -> str:
    """ "near Wrens", "near Wrens and Louisville", "in ZIP 30833", or "in your area"."""
    towns = list(dict.fromkeys(a.town for a in outage.areas if a.town))
    zips = list(dict.fromkeys(a.zip for a in outage.areas if a.zip))
    if towns:
        return "near " + " and ".join(towns[:2])
    if zips:
        return "in ZIP " + " and ".join(zips[:2])
    return "in your area"


def restored_text(outage: Outage, now: datetime, tz: tzinfo) -> str:
    when = format_local_time(outage.restored_at or now, now, tz)
    return f"Power is back on {where(outage)} as of {when}. If you're still out, reply OUT."


def restored_email(outage: Outage, now: datetime, profile: CoopProfile) -> tuple[str, str]:
    when = format_local_time(outage.restored_at or now, now, profile.timezone)
    subject = f"Power is back on {where(outage)}"
    body = (
        f"Power is back on {where(outage)} as of {when}.\n\n"
        f"If you're still out, please call {profile.phones.outage_24_7} (24/7) so crews know.\n\n"
        f"{profile.coop.name}"
    )
    return subject, body


def near_you_text(outage: Outage, now: datetime, tz: tzinfo, short_name: str) -> str:
    text = f"{short_name}: There's a power outage {where(outage)}."
    est = outage.estimated_restoration_at
    if est is not None and est > now:
        text += f" Estimated restoration: {format_local_time(est, now, tz)} (may change)."
    else:
        text += " Crews are assessing it."
    return text + " We'll text you when it's back on."


def _area_matches(outage: Outage, town: str | None, zip5: str | None, feeder: str | None) -> bool:
    town_key = normalize_town(town) if town else ""
    for a in outage.areas:
        if (
            (zip5 and normalize_zip5(a.zip) == zip5)
            or (town_key and normalize_town(a.town) == town_key)
            or (feeder and a.feeder and a.feeder == feeder)
        ):
            return True
    return False


async def _report_targets(session: AsyncSession, outage: Outage) -> list[Target]:
    """Members who asked for a text on a report linked to this outage, or on an unlinked report
    made while it was out, in its area."""
    restored_at = outage.restored_at
    rows = (
        await session.scalars(
            select(OutageReport).where(
                OutageReport.notify_on_restore.is_(True),
                OutageReport.notify_phone.is_not(None),
                (OutageReport.outage_id == outage.id)
                | (
                    OutageReport.outage_id.is_(None)
                    & (OutageReport.created_at >= outage.started_at)
                    & (OutageReport.created_at <= restored_at)
                ),
            )
        )
    ).all()
    targets = []
    for r in rows:
        if r.outage_id is None and not _area_matches(outage, r.town, normalize_zip5(r.zip), None):
            continue
        targets.append(Target("sms", str(r.notify_phone), report_id=r.id, account_id=r.account_id))
    return targets


async def _subscriber_targets(session: AsyncSession, outage: Outage) -> list[Target]:
    """Accounts whose outage-alert preference is on and whose service address is in the area."""
    prefs = (
        await session.execute(
            select(NotificationPreference, Account)
            .join(Account, Account.id == NotificationPreference.account_id)
            .where(
                NotificationPreference.topic == OUTAGE_TOPIC,
                NotificationPreference.enabled.is_(True),
            )
        )
    ).all()
    targets = []
    for pref, account in prefs:
        if not _area_matches(
            outage, account.service_town, normalize_zip5(account.service_zip), account.feeder
        ):
            continue
        kind = "phone" if pref.channel == "sms" else "email"
        contacts = (
            await session.scalars(
                select(Contact)
                .where(Contact.member_id == account.member_id, Contact.kind == kind)
                .order_by(Contact.is_primary.desc(), Contact.id)
            )
        ).all()
        if contacts:
            targets.append(Target(pref.channel, contacts[0].value, account_id=account.id))
    return targets


async def _opted_out(session: AsyncSession, phones: set[str]) -> set[str]:
    if not phones:
        return set()
    return set(
        (
            await session.scalars(
                select(SmsOptOut.phone).where(
                    SmsOptOut.phone.in_(phones), SmsOptOut.opted_out.is_(True)
                )
            )
        ).all()
    )


async def _claim(
    factory: async_sessionmaker[AsyncSession],
    outage_id: int,
    kind: str,
    target: Target,
    body: str,
    now: datetime,
) -> int | None:
    """Insert the notification row (the claim); None when another copy already holds it."""
    try:
        async with factory() as session:
            row = OutageNotification(
                outage_id=outage_id,
                kind=kind,
                channel=target.channel,
                to=target.to,
                report_id=target.report_id,
                account_id=target.account_id,
                status="claimed",
                body=body,
                claimed_at=now,
            )
            session.add(row)
            await session.commit()
            return row.id
    except IntegrityError:
        return None


async def _record(
    factory: async_sessionmaker[AsyncSession], row_id: int, status: str, now: datetime
) -> None:
    async with factory() as session:
        await session.execute(
            update(OutageNotification)
            .where(OutageNotification.id == row_id)
            .values(status=status[:12], sent_at=now)
        )
        await session.commit()


async def _deliver(
    factory: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    outage: Outage,
    kind: str,
    targets: list[Target],
    texts: dict[str, str],
    email: tuple[str, str] | None,
    now: datetime,
) -> int:
    sent = 0
    seen: set[tuple[str, str]] = set()
    for target in targets:
        if (target.channel, target.to) in seen or target.channel not in texts:
            continue
        seen.add((target.channel, target.to))
        body = texts[target.channel]
        row_id = await _claim(factory, outage.id, kind, target, body, now)
        if row_id is None:
            continue  # another copy (or an earlier run) has it
        if target.channel == "sms":
            result = await notifier.send_sms(target.to, body)
        else:
            assert email is not None
            result = await notifier.send_email(target.to, email[0], email[1])
        await _record(factory, row_id, result.status, now)
        if result.ok:
            sent += 1
        else:
            log.warning("outage %s text %s not delivered: %s", outage.id, row_id, result.status)
    return sent


async def send_outage_notices(
    factory: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    profile: CoopProfile,
    now: datetime,
) -> int:
    """Send every outage text that is due; returns how many were sent (or put in the outbox)."""
    tz = profile.timezone
    async with factory() as session:
        restored = (
            await session.scalars(
                select(Outage)
                .options(selectinload(Outage.areas))
                .where(
                    Outage.restored_at.is_not(None),
                    Outage.restored_at >= now - RESTORED_WINDOW,
                    Outage.restored_at <= now,
                )
                .order_by(Outage.id)
            )
        ).all()
        fresh = (
            await session.scalars(
                select(Outage)
                .options(selectinload(Outage.areas))
                .where(
                    Outage.status == "active",
                    Outage.restored_at.is_(None),
                    Outage.started_at >= now - NEW_WINDOW,
                    Outage.started_at <= now,
                )
                .order_by(Outage.id)
            )
        ).all()
        work: list[tuple[Outage, str, list[Target]]] = []
        for outage in restored:
            targets = await _report_targets(session, outage)
            targets += await _subscriber_targets(session, outage)
            work.append((outage, "restored", targets))
        for outage in fresh:
            work.append((outage, "near_you", await _subscriber_targets(session, outage)))
        phones = {t.to for _o, _k, ts in work for t in ts if t.channel == "sms"}
        opted_out = await _opted_out(session, phones)
    sent = 0
    for outage, kind, targets in work:
        targets = [t for t in targets if not (t.channel == "sms" and t.to in opted_out)]
        if not targets:
            continue
        if kind == "restored":
            email = restored_email(outage, now, profile)
            texts = {"sms": restored_text(outage, now, tz), "email": email[1]}
        else:
            texts = {"sms": near_you_text(outage, now, tz, profile.coop.short_name)}
            email = None
        sent += await _deliver(factory, notifier, outage, kind, targets, texts, email, now)
    return sent
