"""The named demo accounts of docs/demo-accounts.md: five members with fixed numbers, contacts
and figures that the README, the tests and a newcomer rely on.

Amounts are fixed; dates are relative to the run's "today", so Dana's bill is always due in two
weeks and Earl's older bill always past due.
"""

from __future__ import annotations

from datetime import timedelta

from bot.demo.builder import BILLS_PER_ACCOUNT, AccountPlan, DemoBuilder, PaymentSource, add_months

# The first named account: when it exists, the named accounts were loaded already.
DANA_ACCOUNT = "1000004821"
NAMED_MEMBERS = 5


def add_named_accounts(g: DemoBuilder) -> None:
    """The accounts of docs/demo-accounts.md, exactly as listed there."""
    today = g.today

    # Dana Whitfield: open $142.87 due in about two weeks; last payment $118.20; Visa 4242.
    dana = g.member("M100001", "Dana", "Whitfield", False, 2400)
    g.contact(dana, "phone", "+17065550101", primary=True, verified=True)
    g.contact(dana, "email", "dana.whitfield@example.com", primary=True, verified=True)
    visa = g.card(dana, "Dana Whitfield", "Visa", "4242")
    acct = g.account(
        dana,
        DANA_ACCOUNT,
        "412 Mill St",
        "Wrens",
        "30833",
        "Jefferson",
        paperless=True,
        since_days=2400,
    )
    last_billing = today + timedelta(days=14 - g.due_days)  # due 14 days from today
    g.finish_account(
        AccountPlan(
            acct,
            last_billing,
            daily_kwh=34.0,
            unpaid_ks={0},
            amount_overrides={0: 14287, 1: 11820},
            sources=[visa],
        )
    )
    g.preference(acct, "bill_ready", "email")
    g.preference(acct, "outage", "sms")

    # Earl Hardeman: past due $38.10 with the profile's late fee, plus a current $96.55.
    earl = g.member("M100002", "Earl", "Hardeman", True, 5200)
    g.contact(earl, "phone", "+17065550102", primary=True, verified=True)
    g.contact(earl, "email", "earl.hardeman@example.com", primary=False, verified=True)
    checking = g.bank(earl, "Earl Hardeman", "checking", "Ogeechee Valley Bank", "6120")
    acct = g.account(
        earl, "1000007315", "88 Church St", "Louisville", "30434", "Jefferson", since_days=5200
    )
    g.finish_account(
        AccountPlan(
            acct,
            today - timedelta(days=5),
            daily_kwh=24.0,
            unpaid_ks={0, 1},
            amount_overrides={0: 9655, 1: 3810},
            sources=[checking, PaymentSource(None, "Office", "office")],
        )
    )
    g.past_due_accounts += 1

    # Loretta Boyd: bank draft on the 18th, full balance, checking 3344, with the authorization.
    loretta = g.member("M100003", "Loretta", "Boyd", True, 3000)
    g.contact(loretta, "phone", "+17065550103", primary=True, verified=True)
    g.contact(loretta, "email", "loretta.boyd@example.com", primary=False, verified=True)
    bank = g.bank(loretta, "Loretta Boyd", "checking", "First Farmers Bank", "3344")
    acct = g.account(
        loretta, "1000002209", "1520 Old Quaker Rd", "Blythe", "30805", "Richmond", since_days=3000
    )
    last_billing = g.last_billing_date(3)
    g.draft(acct, "1000002209", bank, 18, add_months(last_billing, -BILLS_PER_ACCOUNT - 1, 18))
    g.finish_account(
        AccountPlan(
            acct, last_billing, daily_kwh=31.0, draft_day=18, draft_method=bank, sources=[bank]
        )
    )

    # Marcus Reed: home in Wrens and a shop in Blythe; Mastercard 5454.
    marcus = g.member("M100004", "Marcus", "Reed", False, 1500)
    g.contact(marcus, "phone", "+17065550104", primary=True, verified=True)
    g.contact(marcus, "email", "marcus.reed@example.com", primary=True, verified=True)
    mastercard = g.card(marcus, "Marcus Reed", "Mastercard", "5454")
    last_billing = g.last_billing_date(10)
    home = g.account(
        marcus, "1000005560", "27 Broad St", "Wrens", "30833", "Jefferson", since_days=1500
    )
    g.finish_account(AccountPlan(home, last_billing, daily_kwh=36.0, sources=[mastercard]))
    shop = g.account(
        marcus, "1000005578", "3400 Hwy 88", "Blythe", "30805", "Richmond", since_days=700
    )
    g.finish_account(AccountPlan(shop, last_billing, daily_kwh=58.0, sources=[mastercard]))
    g.preference(home, "outage", "sms")

    # Bobbie Jo Kitchens: disconnected for non-payment, no saved methods, no email.
    bobbie = g.member("M100005", "Bobbie Jo", "Kitchens", False, 1900)
    g.contact(bobbie, "phone", "+17065550105", primary=True, verified=True)
    acct = g.account(
        bobbie,
        "1000009914",
        "5 Pine Hollow Rd",
        "Stapleton",
        "30823",
        "Jefferson",
        status="disconnected",
        since_days=1900,
    )
    last_billing = g.last_billing_date(20)
    disconnected_on = add_months(last_billing, -2) + timedelta(days=g.due_days + 20)
    g.finish_account(
        AccountPlan(
            acct,
            last_billing,
            bill_ks=range(2, 2 + BILLS_PER_ACCOUNT),
            daily_kwh=27.0,
            unpaid_ks={2, 3},
            usage_until=min(disconnected_on, today - timedelta(days=1)),
        )
    )
    g.past_due_accounts += 1
