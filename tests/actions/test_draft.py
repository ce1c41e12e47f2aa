"""Bank draft conversations against the demo data in a real SQLite database.

Demo members (docs/demo-accounts.md, data generated for Saturday 2026-11-28): Earl Hardeman has
checking ending 6120 and no draft; Loretta Boyd is on draft the 18th (full amount) from checking
ending 3344; Dana Whitfield has only a Visa card.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import delete, func, select

from bot.actions.deps import ActionDeps, use_deps, wire
from bot.actions.draft.forms import (
    ValidateDraftCancelForm,
    ValidateDraftChangeForm,
    ValidateDraftForm,
)
from bot.actions.draft.questions import (
    ActionAskDraftAuthorized,
    ActionAskDraftCancelConfirmed,
    ActionAskDraftDay,
    ActionAskDraftMethodId,
)
from bot.actions.draft.slots import DRAFT_SLOTS
from bot.actions.draft.start import ActionDraftStart
from bot.actions.draft.submit import (
    ActionDraftCancel,
    ActionDraftChange,
    ActionDraftEnroll,
    ActionDraftStop,
)
from bot.actions.draft.texts import STALE_TERMS
from bot.config import Settings
from bot.core.clock import fixed_clock
from bot.core.gsm7 import is_gsm7 as gsm7_safe
from bot.demo import generate_demo_data
from bot.services.notify import DeliveryResult
from bot.store.db import async_session_factory, make_async_engine
from bot.store.models import (
    Account,
    AuditEntry,
    Contact,
    DraftAuthorization,
    DraftEnrollment,
    OutboxMessage,
    PaymentLink,
    PaymentMethod,
)
from tests.actions.conftest import EASTERN, listening_tracker
from tests.draft_wording import full_balance_from_checking

SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=EASTERN)
AUTHORIZE = " Reply YES to authorize or NO."


@dataclass(frozen=True)
class Member:
    member_id: int
    account_id: int
    account_last4: str
    first_name: str


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database, generated once per module and copied for each test."""
    path = tmp_path_factory.mktemp("draft-demo") / "demo.db"
    generate_demo_data(f"sqlite:///{path}", members=5, today=date(2026, 11, 28), usage_days=0)
    return path


@pytest.fixture
async def demo(demo_template: Path, tmp_path: Path, profile) -> AsyncIterator[Any]:
    """`demo(now, notifier=...)` installs deps on a fresh copy of the demo database, the clock
    stuck at `now` (and any collaborator given in place of the default)."""
    path = tmp_path / "demo.db"
    path.write_bytes(demo_template.read_bytes())
    url = f"sqlite:///{path}"
    engine = make_async_engine(url)
    factory = async_session_factory(engine)

    def install(now: datetime = SATURDAY, **collaborators: Any) -> ActionDeps:
        deps = wire(
            Settings(database_url=url), profile, factory, clock=fixed_clock(now), **collaborators
        )
        use_deps(deps)
        return deps

    install()
    try:
        yield install
    finally:
        use_deps(None)
        await engine.dispose()


async def member(deps: ActionDeps, account_number: str) -> Member:
    async with deps.sessions() as session:
        account = await session.scalar(
            select(Account).where(Account.account_number == account_number)
        )
        await session.refresh(account, ["member"])
        return Member(account.member_id, account.id, account_number[-4:], account.member.first_name)


async def method_id(deps: ActionDeps, last4: str) -> int:
    async with deps.sessions() as session:
        return await session.scalar(select(PaymentMethod.id).where(PaymentMethod.last4 == last4))


async def count(deps: ActionDeps, model: Any, *where: Any) -> int:
    async with deps.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


def tracker(
    who: Member,
    now: datetime,
    *,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    loop: str | None = None,
    requested: str | None = None,
) -> Tracker:
    """A confirmed member's tracker whose latest message is `text` / `intent`."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": {"channel": "web"},
    }
    all_slots = {
        "tier": "confirmed",
        "member_id": who.member_id,
        "account_id": who.account_id,
        "account_last4": who.account_last4,
        "member_first_name": who.first_name,
        "verified_how": "account number + ZIP; code by text",
        "verified_at": (now - timedelta(minutes=2)).isoformat(),
        "journey": "draft",
        "requested_slot": requested,
        **(slots or {}),
    }
    return listening_tracker("draft-test", all_slots, message, active_loop=loop)


async def run(action: Action, t: Tracker) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """(message texts, buttons of the last message, slots the action set)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    for m in dispatcher.messages:
        assert len(m["text"]) <= 306 and gsm7_safe(m["text"]), m["text"]
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    buttons = dispatcher.messages[-1].get("buttons", []) if dispatcher.messages else []
    return [m["text"] for m in dispatcher.messages], buttons, slots


EARL, LORETTA, DANA = "1000007315", "1000002209", "1000004821"


async def start(
    deps: Any, account_number: str, draft_action: str, **slots: Any
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """`ActionDraftStart` for the member of `account_number` asking to `draft_action`, Saturday."""
    who = await member(deps, account_number)
    return await run(
        ActionDraftStart(), tracker(who, SATURDAY, slots={"draft_action": draft_action, **slots})
    )


async def validate(
    validator: Any, slot: str, value: Any, t: Tracker
) -> tuple[list[str], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    result = await getattr(validator, f"validate_{slot}")(value, dispatcher, t, {})
    for m in dispatcher.messages:
        assert len(m["text"]) <= 306 and gsm7_safe(m["text"]), m["text"]
    return [m["text"] for m in dispatcher.messages], result


# ---------------------------------------------------------------- start and view


async def test_enroll_request_without_a_draft_opens_the_enrollment_form(demo) -> None:
    texts, _, slots = await start(demo(), EARL, "enroll")
    assert texts == []
    assert slots["draft_next"] == "enroll"


async def test_view_for_loretta_says_day_amount_account_and_next_draft(demo) -> None:
    texts, buttons, slots = await start(demo(), LORETTA, "view")
    assert texts == [
        (
            "You're on bank draft: the full amount due on the 18th from checking ending 3344. "
            "Next draft: Dec 18."
        )
    ]
    assert [b["payload"] for b in buttons] == ["/change_draft", "/cancel_draft"]
    assert slots["draft_next"] == "done"


async def test_view_names_the_day_a_draft_on_a_bank_holiday_settles(demo) -> None:
    now = datetime(2027, 1, 10, 11, 0, tzinfo=EASTERN)  # the 18th is Martin Luther King Jr. Day
    deps = demo(now)
    who = await member(deps, LORETTA)
    texts, _, _ = await run(ActionDraftStart(), tracker(who, now, slots={"draft_action": "view"}))
    assert texts == [
        (
            "You're on bank draft: the full amount due on the 18th from checking ending 3344. "
            "Next draft: Jan 19 (Jan 18 is a bank holiday)."
        )
    ]


async def test_enrolling_when_already_on_draft_shows_it_and_offers_change_or_cancel(demo) -> None:
    texts, _, slots = await start(demo(), LORETTA, "enroll")
    assert texts[0].startswith("You're on bank draft: the full amount due on the 18th")
    assert texts[0].endswith("I can change or cancel it.")
    assert slots["draft_next"] == "done"


async def test_cancel_when_not_enrolled_says_so_and_offers_to_enroll(demo) -> None:
    texts, buttons, slots = await start(demo(), DANA, "cancel")
    assert texts == [
        "Your account isn't on bank draft, so there's nothing to cancel. "
        "Would you like to set it up?"
    ]
    assert buttons == [{"title": "Set up bank draft", "payload": "/setup_draft"}]
    assert slots["draft_next"] == "done"


async def test_a_verified_but_unconfirmed_member_is_told_to_confirm_first(demo) -> None:
    texts, _, slots = await start(demo(), EARL, "enroll", tier="verified")
    assert texts == [
        "I need to confirm it's you before I can do that. Just ask again and I'll send you a code."
    ]
    assert slots["draft_next"] == "done"


# ---------------------------------------------------------------- the enrollment form


async def test_first_question_explains_draft_and_offers_the_profile_days(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    texts, buttons, _ = await run(ActionAskDraftDay(), tracker(earl, SATURDAY, loop="draft_form"))
    assert texts == [
        (
            "Bank draft pays your bill automatically from a bank account. We draft on the 3rd or "
            "the 18th. Which day works best?"
        )
    ]
    assert [b["title"] for b in buttons] == ["3rd", "18th"]


@pytest.mark.parametrize(
    "typed", ["the 31st", "the 5th", "tomorrow", "'; DROP TABLE draft_enrollments;--"]
)
async def test_a_day_we_do_not_draft_on_is_refused_and_asked_again(demo, typed: str) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(earl, SATURDAY, text=typed, loop="draft_form", requested="draft_day")
    texts, result = await validate(ValidateDraftForm(), "draft_day", typed, t)
    assert texts == ["We can draft on the 3rd or the 18th of the month. Which works for you?"]
    assert result == {"draft_day": None, "draft_failures": 1}


async def test_second_wrong_day_also_offers_a_person(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(
        earl,
        SATURDAY,
        text="the 20th",
        loop="draft_form",
        requested="draft_day",
        slots={"draft_failures": 1},
    )
    texts, result = await validate(ValidateDraftForm(), "draft_day", "the 20th", t)
    assert texts[0].endswith(
        "If you'd rather talk with a person, say agent or call (706) 547-2167."
    )
    assert result["draft_failures"] == 2


@pytest.mark.parametrize(
    "typed,entity",
    [
        ("the 18th", "18th"),
        ("18", None),
        ("eighteenth please", None),
        ('/inform{"draft_day": "18th"}', "18th"),
    ],
)
async def test_an_allowed_day_is_kept_as_a_number_and_validating_twice_is_silent(
    demo, typed, entity
) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    entities = [{"entity": "draft_day", "value": entity}] if entity else []
    t = tracker(
        earl, SATURDAY, text=typed, entities=entities, loop="draft_form", requested="draft_day"
    )
    texts, result = await validate(ValidateDraftForm(), "draft_day", typed, t)
    assert (texts, result) == ([], {"draft_day": 18})
    assert await validate(ValidateDraftForm(), "draft_day", 18, t) == ([], {"draft_day": 18})


async def test_amount_rule_full_fixed_or_an_amount(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    v = ValidateDraftForm()
    full = tracker(
        earl, SATURDAY, text="the full amount", intent="choose_amount_full", loop="draft_form"
    )
    assert await validate(v, "draft_amount_rule", "the full amount", full) == (
        [],
        {"draft_amount_rule": "full_balance"},
    )
    fifty = tracker(
        earl, SATURDAY, text="$50 every month", entities=[{"entity": "amount", "value": "$50"}]
    )
    assert await validate(v, "draft_amount_rule", "$50 every month", fifty) == (
        [],
        {"draft_amount_rule": "fixed", "draft_fixed_amount": 5000},
    )
    texts, result = await validate(
        v, "draft_fixed_amount", "$0.001", tracker(earl, SATURDAY, text="$0.001")
    )
    assert result["draft_fixed_amount"] is None
    assert len(texts) == 1 and texts[0].endswith("What amount should we draft each month?")
    texts, result = await validate(
        v, "draft_fixed_amount", "$9,000", tracker(earl, SATURDAY, text="$9,000")
    )
    assert texts == ["A fixed draft amount must be from $1.00 to $5,000.00."]
    assert result["draft_fixed_amount"] is None


async def test_required_slots_ask_the_amount_only_for_a_fixed_rule(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    v, dispatcher = ValidateDraftForm(), CollectingDispatcher()
    assert await v.required_slots([], dispatcher, tracker(earl, SATURDAY), {}) == [
        "draft_day",
        "draft_amount_rule",
        "draft_method_id",
        "draft_authorized",
    ]
    fixed = tracker(earl, SATURDAY, slots={"draft_amount_rule": "fixed"})
    assert "draft_fixed_amount" in await v.required_slots([], dispatcher, fixed, {})


async def test_bank_accounts_are_offered_by_last_four_with_an_add_option(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    texts, buttons, _ = await run(
        ActionAskDraftMethodId(), tracker(earl, SATURDAY, loop="draft_form")
    )
    assert texts == ["Which account should we draft?"]
    assert [b["title"] for b in buttons] == ["Checking ending 6120", "Add a bank account"]


async def test_a_member_with_only_a_card_is_told_drafts_need_a_bank_account(demo) -> None:
    deps = demo()
    dana = await member(deps, "1000004821")
    texts, buttons, _ = await run(
        ActionAskDraftMethodId(), tracker(dana, SATURDAY, loop="draft_form")
    )
    assert "checking or savings account (not a card)" in texts[0]
    assert [b["title"] for b in buttons] == ["Add a bank account"]
    t = tracker(dana, SATURDAY, text="use my visa", loop="draft_form", requested="draft_method_id")
    texts, result = await validate(ValidateDraftForm(), "draft_method_id", "use my visa", t)
    assert texts == [
        "Bank draft works with a checking or savings account, not a card. "
        "Which bank account should we use?"
    ]
    assert result["draft_method_id"] is None


async def test_checking_by_word_by_last_four_or_by_button(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    checking = await method_id(deps, "6120")
    for typed in ("checking", "the one ending 6120", '/inform{"payment_method": "checking 6120"}'):
        t = tracker(earl, SATURDAY, text=typed, loop="draft_form", requested="draft_method_id")
        texts, result = await validate(ValidateDraftForm(), "draft_method_id", typed, t)
        assert texts == [] and result["draft_method_id"] == checking


async def test_add_a_bank_account_gives_a_single_use_secure_link(demo) -> None:
    deps = demo()
    dana = await member(deps, "1000004821")
    typed = '/inform{"payment_method": "new"}'
    t = tracker(dana, SATURDAY, text=typed, loop="draft_form", requested="draft_method_id")
    texts, result = await validate(ValidateDraftForm(), "draft_method_id", typed, t)
    assert texts[0].startswith(
        "You can add a bank account on our secure page: http://127.0.0.1:8080/pay/"
    )
    assert "(works once, for 15 min)" in texts[0]
    assert result == {"draft_method_id": None}
    assert (
        await count(
            deps,
            PaymentLink,
            PaymentLink.purpose == "add_bank",
            PaymentLink.member_id == dana.member_id,
        )
        == 1
    )


@pytest.mark.parametrize(
    "typed",
    [
        "routing 061000104 account 1234567890123",
        "my account number is 88812345671",
        "4111 1111 1111 1111",
    ],
)
async def test_a_bank_or_card_number_typed_in_is_never_kept(demo, typed: str) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(earl, SATURDAY, text=typed, loop="draft_form", requested="draft_method_id")
    texts, result = await validate(ValidateDraftForm(), "draft_method_id", typed, t)
    assert result == {"draft_method_id": None}
    assert texts[0].startswith("For your safety I didn't keep that ")
    assert texts[1].startswith(
        "You can add a bank account on our secure page: http://127.0.0.1:8080/pay/"
    )
    assert not any(digits in " ".join(texts) for digits in ("1234567890123", "88812345671"))
    assert "1111" not in texts[0]


async def test_authorization_shows_the_exact_wording_and_asks_yes_or_no(demo, profile) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    slots = {
        "draft_day": 18,
        "draft_amount_rule": "full_balance",
        "draft_method_id": await method_id(deps, "6120"),
    }
    texts, buttons, set_slots = await run(
        ActionAskDraftAuthorized(), tracker(earl, SATURDAY, slots=slots, loop="draft_form")
    )
    wording = full_balance_from_checking(profile, date(2026, 12, 18), 18, "7315", "6120")
    assert texts == [wording + AUTHORIZE]
    assert texts[0].startswith(
        "Starting Dec 18, 2026, Jefferson Energy Cooperative will draft the full amount due "
        "on account ending 7315 from checking ending 6120 on the 18th of each month"
    )
    assert buttons == []  # a typed YES, and one SMS
    assert set_slots == {"draft_shown_on": "2026-11-28"}


@pytest.mark.parametrize(
    "typed,intent,expected",
    [
        ("YES", "affirm", True),
        ("yes", "inform", True),
        ("yes cancel it", "cancel_draft", True),
        ("no", "deny", False),
        ("nope not today", "inform", False),
        ("maybe later", "inform", None),
        ("", "inform", None),
    ],
)
async def test_authorization_needs_an_explicit_yes(demo, typed, intent, expected) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(
        earl, SATURDAY, text=typed, intent=intent, loop="draft_form", requested="draft_authorized"
    )
    texts, result = await validate(ValidateDraftForm(), "draft_authorized", typed, t)
    assert result["draft_authorized"] is expected
    assert texts == (
        []
        if expected is not None
        else ["Please reply YES to authorize the bank draft, or NO to stop."]
    )


def enroll_slots(method: int, authorized: bool) -> dict[str, Any]:
    return {
        "draft_day": 18,
        "draft_amount_rule": "full_balance",
        "draft_method_id": method,
        "draft_authorized": authorized,
        "draft_shown_on": "2026-11-28",
    }


async def test_yes_enrolls_once_stores_the_wording_shown_and_sends_a_copy(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    slots = enroll_slots(await method_id(deps, "6120"), True)
    shown, _, _ = await run(
        ActionAskDraftAuthorized(), tracker(earl, SATURDAY, slots=slots, loop="draft_form")
    )

    texts, _, reset = await run(
        ActionDraftEnroll(), tracker(earl, SATURDAY, text="YES", intent="affirm", slots=slots)
    )

    assert texts == [
        "You're enrolled. First draft: Dec 18. I've sent a copy of this authorization to "
        "e***@example.com."
    ]
    assert all(reset[slot] is None for slot in DRAFT_SLOTS)
    async with deps.sessions() as session:
        enrollments = (
            await session.scalars(
                select(DraftEnrollment).where(DraftEnrollment.account_id == earl.account_id)
            )
        ).all()
        assert len(enrollments) == 1
        e = enrollments[0]
        assert (e.draft_day, e.amount_rule, e.status, e.starts_on) == (
            18,
            "full_balance",
            "active",
            date(2026, 12, 18),
        )
        auths = (
            await session.scalars(
                select(DraftAuthorization).where(DraftAuthorization.enrollment_id == e.id)
            )
        ).all()
        assert len(auths) == 1
        assert auths[0].text + AUTHORIZE == shown[0]
        assert (auths[0].action, auths[0].channel, auths[0].copy_sent_to) == (
            "enroll",
            "web",
            "e***@example.com",
        )
        assert auths[0].verified_how == "account number + ZIP; code by text"
        outbox = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.to == "earl.hardeman@example.com")
            )
        ).all()
        assert len(outbox) == 1 and outbox[0].channel == "email" and outbox[0].body == auths[0].text
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "draft.enroll", AuditEntry.account_id == earl.account_id
                )
            )
            == 1
        )

    # The action retried (or a second YES): no second enrollment, no second copy.
    texts, _, _ = await run(
        ActionDraftEnroll(), tracker(earl, SATURDAY, text="YES", intent="affirm", slots=slots)
    )
    assert texts[0].startswith(
        "You're on bank draft: the full amount due on the 18th from checking ending 6120."
    )
    assert await count(deps, DraftEnrollment, DraftEnrollment.account_id == earl.account_id) == 1
    assert await count(deps, OutboxMessage, OutboxMessage.to == "earl.hardeman@example.com") == 1


async def test_no_stores_nothing_and_says_so(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    slots = enroll_slots(await method_id(deps, "6120"), False)
    texts, _, _ = await run(
        ActionDraftEnroll(), tracker(earl, SATURDAY, text="no", intent="deny", slots=slots)
    )
    assert texts == ["OK, I didn't set up bank draft. Nothing was stored. Anything else?"]
    assert await count(deps, DraftEnrollment, DraftEnrollment.account_id == earl.account_id) == 0
    assert await count(deps, DraftAuthorization) == await count(
        deps, DraftEnrollment
    )  # only the demo ones
    assert await count(deps, OutboxMessage) == 0


async def test_terms_shown_yesterday_are_not_enrolled_at_midnight(demo) -> None:
    deps = demo(SATURDAY + timedelta(days=1))
    earl = await member(deps, "1000007315")
    slots = enroll_slots(await method_id(deps, "6120"), True)
    texts, _, _ = await run(
        ActionDraftEnroll(), tracker(earl, SATURDAY + timedelta(days=1), slots=slots)
    )
    assert texts == [STALE_TERMS]
    assert await count(deps, DraftEnrollment, DraftEnrollment.account_id == earl.account_id) == 0


async def test_a_card_id_slipped_into_the_slot_is_refused_by_the_service(demo) -> None:
    deps = demo()
    dana = await member(deps, "1000004821")
    slots = enroll_slots(await method_id(deps, "4242"), True)
    texts, _, _ = await run(ActionDraftEnroll(), tracker(dana, SATURDAY, slots=slots))
    assert texts == ["I couldn't find that bank account any more. Nothing was set up."]
    assert await count(deps, DraftEnrollment, DraftEnrollment.account_id == dana.account_id) == 0


# ---------------------------------------------------------------- cancel


async def test_cancel_question_and_cancel_before_the_bank_has_the_draft(demo) -> None:
    deps = demo()
    loretta = await member(deps, "1000002209")
    texts, _, _ = await run(
        ActionAskDraftCancelConfirmed(), tracker(loretta, SATURDAY, loop="draft_cancel_form")
    )
    assert texts == [
        "Cancel your bank draft? Your Dec 18 draft and all later drafts will be stopped. "
        "Reply YES or NO."
    ]

    texts, _, _ = await run(
        ActionDraftCancel(),
        tracker(
            loretta, SATURDAY, text="yes", intent="affirm", slots={"draft_cancel_confirmed": True}
        ),
    )
    assert texts == [
        "Bank draft cancelled on Nov 28, 2026. Jefferson Energy Cooperative will make no drafts "
        "from Dec 18, 2026 on.",
        "I've sent a copy of this cancellation to l***@example.com. Anything else?",
    ]
    async with deps.sessions() as session:
        e = await session.scalar(
            select(DraftEnrollment).where(DraftEnrollment.account_id == loretta.account_id)
        )
        assert (e.status, e.ends_on) == ("cancelled", date(2026, 11, 28))
        cancel = await session.scalar(
            select(DraftAuthorization).where(
                DraftAuthorization.enrollment_id == e.id, DraftAuthorization.action == "cancel"
            )
        )
        assert cancel.text == texts[0] and cancel.copy_sent_to == "l***@example.com"


async def test_cancel_after_the_draft_went_to_the_bank_says_that_draft_still_happens(demo) -> None:
    wednesday = datetime(2026, 12, 16, 9, 0, tzinfo=EASTERN)
    deps = demo(wednesday)
    loretta = await member(deps, "1000002209")
    texts, _, _ = await run(
        ActionAskDraftCancelConfirmed(), tracker(loretta, wednesday, loop="draft_cancel_form")
    )
    assert texts == [
        (
            "Cancel your bank draft? Your Dec 18 draft was already sent to the bank and will still "
            "happen. Drafts from Jan 18 on will stop. Reply YES or NO."
        )
    ]
    texts, _, _ = await run(
        ActionDraftCancel(), tracker(loretta, wednesday, slots={"draft_cancel_confirmed": True})
    )
    assert texts[0] == (
        "Bank draft cancelled on Dec 16, 2026. Jefferson Energy Cooperative will make no drafts "
        "from Jan 18, 2027 on. The draft on Dec 18, 2026 was already sent to the bank and will "
        "still happen."
    )


async def test_no_to_cancel_keeps_the_draft(demo) -> None:
    deps = demo()
    loretta = await member(deps, "1000002209")
    texts, _, _ = await run(
        ActionDraftCancel(), tracker(loretta, SATURDAY, slots={"draft_cancel_confirmed": False})
    )
    assert texts == ["OK, your bank draft stays as it is. Nothing was changed. Anything else?"]
    assert (
        await count(
            deps,
            DraftEnrollment,
            DraftEnrollment.account_id == loretta.account_id,
            DraftEnrollment.status == "active",
        )
        == 1
    )


# ---------------------------------------------------------------- change


async def test_change_the_day_shows_new_terms_and_needs_yes(demo, profile) -> None:
    deps = demo()
    loretta = await member(deps, "1000002209")
    v = ValidateDraftChangeForm()
    t = tracker(
        loretta,
        SATURDAY,
        text="change the day to the 3rd",
        intent="change_draft",
        entities=[{"entity": "draft_day", "value": "3rd"}],
        loop="draft_change_form",
        requested="draft_change_what",
    )
    texts, result = await validate(v, "draft_change_what", "change the day to the 3rd", t)
    assert (texts, result) == ([], {"draft_change_what": "day", "draft_day": 3})

    slots = {"draft_change_what": "day", "draft_day": 3}
    assert await v.required_slots(
        [], CollectingDispatcher(), tracker(loretta, SATURDAY, slots=slots), {}
    ) == ["draft_change_what", "draft_day", "draft_authorized"]
    shown, _, _ = await run(
        ActionAskDraftAuthorized(),
        tracker(loretta, SATURDAY, slots=slots, loop="draft_change_form"),
    )
    assert shown == [
        full_balance_from_checking(profile, date(2027, 1, 3), 3, "2209", "3344") + AUTHORIZE
    ]

    slots |= {"draft_authorized": True, "draft_shown_on": "2026-11-28"}
    texts, _, _ = await run(
        ActionDraftChange(), tracker(loretta, SATURDAY, text="yes", intent="affirm", slots=slots)
    )
    assert texts == [
        "Done. Your new draft terms take effect with the draft on Jan 3.",
        "I've sent a copy of this authorization to l***@example.com.",
    ]
    async with deps.sessions() as session:
        e = await session.scalar(
            select(DraftEnrollment).where(DraftEnrollment.account_id == loretta.account_id)
        )
        assert (e.draft_day, e.starts_on, e.status) == (3, date(2027, 1, 3), "active")
        change = await session.scalar(
            select(DraftAuthorization).where(
                DraftAuthorization.enrollment_id == e.id, DraftAuthorization.action == "change"
            )
        )
        assert change.text + AUTHORIZE == shown[0]


async def test_change_not_enrolled_offers_to_enroll(demo) -> None:
    texts, buttons, slots = await start(demo(), EARL, "change")
    assert texts == ["Your account isn't on bank draft. Would you like to set it up?"]
    assert buttons[0]["payload"] == "/setup_draft" and slots["draft_next"] == "done"


async def test_change_request_for_an_enrolled_member_opens_the_change_form(demo) -> None:
    deps = demo()
    _, _, slots = await start(deps, LORETTA, "change")
    assert slots["draft_next"] == "change"
    _, _, slots = await start(deps, LORETTA, "cancel")
    assert slots["draft_next"] == "cancel"


# ---------------------------------------------------------------- way out


async def test_never_mind_changes_nothing(demo) -> None:
    demo()
    texts, _, slots = await run(
        ActionDraftStop(), Tracker("x", {}, {"text": "never mind"}, [], False, None, {}, "")
    )
    assert texts == ["OK, nothing was changed. Anything else?"]
    assert all(slots[s] is None for s in DRAFT_SLOTS)


async def test_after_a_validator_reask_the_question_is_not_repeated(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(earl, SATURDAY, text="the 31st", loop="draft_form")
    t.events.append(
        {
            "event": "bot",
            "text": "We can draft on the 3rd or the 18th of the month. Which works for you?",
        }
    )
    texts, _, _ = await run(ActionAskDraftDay(), t)
    assert texts == []
    # After a digression's answer (another action spoke) the question is asked again.
    t.events.append({"event": "action", "name": "action_office_hours"})
    t.events.append({"event": "bot", "text": "Our office is closed now."})
    t.events.insert(0, {"event": "action", "name": "action_ask_draft_day"})
    texts, _, _ = await run(ActionAskDraftDay(), t)
    assert texts == [
        "Back to your bank draft: we draft on the 3rd or the 18th. Which day works best?"
    ]


async def test_one_prompt_per_miss_with_the_tracker_rasa_gives_the_question(demo) -> None:
    """Rasa asks the next question with a temporary tracker: the member's message, slot
    extraction, the form's own ActionExecuted, then the validator's re-ask. One prompt, not two."""
    deps = demo()
    earl = await member(deps, "1000007315")
    t = tracker(earl, SATURDAY, text="the 31st", loop="draft_form")
    t.events += [
        {"event": "action", "name": "action_extract_slots"},
        {"event": "slot", "name": "requested_slot", "value": "draft_day"},
        {"event": "action", "name": "draft_form"},
        {"event": "bot", "text": "We can draft on the 3rd or the 18th of the month. Which works?"},
    ]
    texts, _, _ = await run(ActionAskDraftDay(), t)
    assert texts == []


async def test_fixed_amount_on_the_3rd_needs_only_the_cancel_notice(demo) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    slots = {
        "draft_day": 3,
        "draft_amount_rule": "fixed",
        "draft_fixed_amount": 7500,
        "draft_method_id": await method_id(deps, "6120"),
    }
    shown, _, _ = await run(
        ActionAskDraftAuthorized(), tracker(earl, SATURDAY, slots=slots, loop="draft_form")
    )
    assert shown[0].startswith(
        "Starting Dec 3, 2026, Jefferson Energy Cooperative will draft $75.00 on "
        "account ending 7315"
    )
    slots |= {"draft_authorized": True, "draft_shown_on": "2026-11-28"}
    texts, _, _ = await run(ActionDraftEnroll(), tracker(earl, SATURDAY, slots=slots))
    assert texts[0].startswith("You're enrolled. First draft: Dec 3.")
    async with deps.sessions() as session:
        e = await session.scalar(
            select(DraftEnrollment).where(DraftEnrollment.account_id == earl.account_id)
        )
        assert (e.amount_rule, e.fixed_amount_cents, e.starts_on) == (
            "fixed",
            7500,
            date(2026, 12, 3),
        )


# ---------------------------------------------------------------- the member's copy


class FailingNotifier:
    """Every text and email fails (the provider is down)."""

    def __init__(self) -> None:
        self.tried = 0

    async def send_sms(self, to_e164: str, body: str) -> DeliveryResult:
        self.tried += 1
        return DeliveryResult("failed", error="provider down")

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        self.tried += 1
        return DeliveryResult("failed", error="provider down")


NO_COPY = (
    "I couldn't send you a copy of this authorization right now; member services at "
    "(706) 547-2167 can send you one."
)


async def test_a_copy_that_could_not_be_sent_is_not_claimed_and_the_member_is_told(demo) -> None:
    notifier = FailingNotifier()
    deps = demo(notifier=notifier)
    earl = await member(deps, "1000007315")
    slots = enroll_slots(await method_id(deps, "6120"), True)
    texts, _, _ = await run(ActionDraftEnroll(), tracker(earl, SATURDAY, slots=slots))
    assert texts == ["You're enrolled. First draft: Dec 18. " + NO_COPY]
    assert notifier.tried == 1
    async with deps.sessions() as session:
        auth = await session.scalar(
            select(DraftAuthorization)
            .join(DraftEnrollment)
            .where(DraftEnrollment.account_id == earl.account_id)
        )
        assert auth.action == "enroll" and auth.copy_sent_to is None


async def test_with_no_contact_on_file_the_member_is_told_to_call_for_a_copy(demo) -> None:
    deps = demo()
    loretta = await member(deps, "1000002209")
    async with deps.sessions() as session:
        await session.execute(delete(Contact).where(Contact.member_id == loretta.member_id))
        await session.commit()
    texts, _, _ = await run(
        ActionDraftCancel(), tracker(loretta, SATURDAY, slots={"draft_cancel_confirmed": True})
    )
    assert texts[1] == (
        "I couldn't send you a copy of this cancellation right now; member services at "
        "(706) 547-2167 can send you one. Anything else?"
    )
    assert await count(deps, OutboxMessage) == 0
    async with deps.sessions() as session:
        cancel = await session.scalar(
            select(DraftAuthorization).where(DraftAuthorization.action == "cancel")
        )
        assert cancel.copy_sent_to is None


@pytest.mark.parametrize(
    "typed,expected",
    [
        *((word, True) for word in ("yes", "i authorize", "i do", "ok", "sure", "authorize")),
        *((word, False) for word in ("no", "nope", "no thanks", "i do not", "dont", "don't")),
    ],
)
async def test_the_draft_words_for_yes_and_no_still_count(demo, typed, expected) -> None:
    deps = demo()
    earl = await member(deps, "1000007315")
    forms = [(ValidateDraftForm(), "draft_authorized")]
    forms.append((ValidateDraftCancelForm(), "draft_cancel_confirmed"))
    for form, slot in forms:
        t = tracker(earl, SATURDAY, text=typed, intent="inform", requested=slot)
        texts, result = await validate(form, slot, typed, t)
        assert (texts, result[slot]) == ([], expected)
