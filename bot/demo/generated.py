"""Generated demo members: plausible members of the service area, drawn with the run's seeded
random generator, so the same seed and day give the same members.

Roughly a fifth are seniors, a third keep a card, a sixth a bank account (most of those on bank
draft), 8% hold two accounts and a few are disconnected, final or past due. Rows are flushed every
`CHUNK_MEMBERS` members, so 40,000 members never sit in memory at once.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from bot.demo.builder import (
    BILLS_PER_ACCOUNT,
    FACILITY_CHARGE_CENTS,
    AccountPlan,
    DemoBuilder,
    PaymentSource,
    add_months,
)
from bot.demo.catalog import BANKS, FIRST_NAMES, LAST_NAMES, STREETS, TEST_CARDS, TOWNS

CHUNK_MEMBERS = 1000


def add_generated_members(g: DemoBuilder, count: int, member_offset: int, progress: bool) -> None:
    """`count` random members (numbers after `member_offset`), flushed every CHUNK_MEMBERS."""
    rng = g.rng
    draft_days = g.profile.drafts.allowed_days
    town_weights = [t[3] for t in TOWNS]
    started = time.monotonic()
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        senior = rng.random() < 0.22
        member_id = g.member(
            f"M{200001 + member_offset + i}", first, last, senior, rng.randint(200, 9000)
        )
        g.contact(member_id, "phone", g.phone(), primary=True, verified=rng.random() < 0.93)
        has_email = rng.random() < 0.7
        if has_email:
            email = f"{first}.{last}.{member_offset + i + 1}@example.com".lower()
            g.contact(member_id, "email", email, primary=True, verified=rng.random() < 0.88)
        sources: list[PaymentSource] = []
        bank: PaymentSource | None = None
        if rng.random() < 0.35:
            brand, last4 = rng.choice(TEST_CARDS)
            sources.append(g.card(member_id, f"{first} {last}", brand, last4))
        if rng.random() < 0.18:
            kind = "checking" if rng.random() < 0.8 else "savings"
            bank = g.bank(
                member_id, f"{first} {last}", kind, rng.choice(BANKS), f"{rng.randrange(10000):04d}"
            )
            sources.append(bank)
        n_accounts = 2 if rng.random() < 0.08 else 1
        billing_day = 1 if senior and rng.random() < 0.5 else rng.randint(1, 28)
        draft_day = None
        if bank is not None and rng.random() < 0.6:
            # Bill a few days before the draft date, so the draft lands by the due date.
            draft_day = rng.choice(draft_days)
            gap = rng.randint(2, max(2, g.due_days - 3))
            billing_day = draft_day - gap if draft_day > gap else draft_day - gap + 28
        last_billing = g.last_billing_date(billing_day)
        for a in range(n_accounts):
            town, zip_, county, _ = rng.choices(TOWNS, weights=town_weights)[0]
            street = f"{rng.randint(1, 4999)} {rng.choice(STREETS)}"
            roll = rng.random()
            status = "disconnected" if roll < 0.01 else "final" if roll < 0.02 else "active"
            number = g.account_number()
            account_id = g.account(
                member_id,
                number,
                street,
                town,
                zip_,
                county,
                status=status,
                paperless=has_email and rng.random() < 0.3,
                since_days=rng.randint(120, 6000),
            )
            plan = AccountPlan(
                account_id,
                last_billing,
                daily_kwh=rng.uniform(14, 48) * (2.0 if a == 1 else 1.0),
                sources=sources,
            )
            if status != "active":
                plan.bill_ks = range(2, 2 + BILLS_PER_ACCOUNT)
                stop = add_months(last_billing, -2) + timedelta(days=g.due_days + 20)
                plan.usage_until = min(stop, g.today - timedelta(days=1))
                if status == "disconnected":
                    plan.unpaid_ks = {2, 3}
                    g.past_due_accounts += 1
            elif bank is not None and draft_day is not None and a == 0:
                day = draft_day
                fixed = rng.random() < 0.15
                fixed_cents = int(plan.daily_kwh * 30 * 12) // 100 * 100 + FACILITY_CHARGE_CENTS
                g.draft(
                    account_id,
                    number,
                    bank,
                    day,
                    add_months(last_billing, -BILLS_PER_ACCOUNT - 1, day),
                    "fixed" if fixed else "full_balance",
                    fixed_cents if fixed else None,
                )
                plan.draft_day, plan.draft_method = day, bank
            elif rng.random() < 0.08:
                plan.unpaid_ks = {0, 1}  # the previous bill is past due
                g.past_due_accounts += 1
            g.finish_account(plan)
            if status == "active" and rng.random() < 0.4:
                g.preference(account_id, "outage", "sms")
            if status == "active" and has_email and rng.random() < 0.3:
                g.preference(account_id, "bill_ready", "email")
        if (i + 1) % CHUNK_MEMBERS == 0:
            g.w.flush()
            if progress:
                elapsed = time.monotonic() - started
                print(
                    f"  demo data: {i + 1:,}/{count:,} members ({elapsed:.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )
