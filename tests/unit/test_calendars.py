"""The bank calendar for draft dates, quiet hours in the co-op's time zone, the holiday runway,
and the notice wording (two plain texts at most)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from bot.actions.server import warn_if_holidays_run_out
from bot.config import PROJECT_ROOT
from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.profile import Holiday, ProfileError, load_profile, parse_profile
from bot.services import calendars, drafts, notice_texts

PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 12, 18), True),  # a Friday
        (date(2026, 12, 19), False),  # Saturday
        (date(2026, 12, 25), False),  # Christmas
        (date(2027, 1, 18), False),  # Martin Luther King Jr. Day
        (date(2026, 6, 19), False),  # Juneteenth
        (date(2026, 10, 12), False),  # Columbus Day: banks closed, the co-op open
        (date(2026, 11, 11), False),  # Veterans Day
        (date(2026, 11, 27), True),  # day after Thanksgiving: co-op closed, banks open
        (date(2026, 7, 3), True),  # Jul 4 on a Saturday is not moved to the Friday by the Fed
        (date(2027, 7, 5), False),  # Jul 4 on a Sunday is observed on the Monday
    ],
)
def test_bank_business_days_follow_the_federal_reserve(day: date, business: bool) -> None:
    assert calendars.is_bank_business_day(day) is business


def test_a_draft_on_a_bank_holiday_settles_as_the_profile_says() -> None:
    mlk = date(2027, 1, 18)
    assert drafts.settlement_date(mlk, PROFILE) == date(2027, 1, 19)
    before = replace(
        PROFILE, drafts=replace(PROFILE.drafts, bank_holiday_rule="previous_business_day")
    )
    assert drafts.settlement_date(mlk, before) == date(2027, 1, 15)
    assert drafts.amount_notice_date(mlk, PROFILE) == date(2027, 1, 9)
    assert drafts.amount_notice_date(date(2026, 12, 18), PROFILE) == date(2026, 12, 8)


def test_scheduled_dates_never_start_before_the_enrollment() -> None:
    class Schedule:
        draft_day = 3
        starts_on = date(2027, 1, 3)

    got = drafts.scheduled_dates(Schedule(), date(2026, 11, 1), date(2027, 3, 10))
    assert got == [date(2027, 1, 3), date(2027, 2, 3), date(2027, 3, 3)]


def test_quiet_hours_are_local_and_wrap_over_midnight() -> None:
    assert calendars.in_quiet_hours(datetime(2026, 12, 2, 2, 0, tzinfo=UTC), PROFILE)  # 9 PM
    assert calendars.in_quiet_hours(datetime(2026, 12, 2, 12, 59, tzinfo=UTC), PROFILE)  # 7:59
    assert not calendars.in_quiet_hours(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), PROFILE)  # 8:00
    assert not calendars.in_quiet_hours(
        datetime(2026, 12, 2, 1, 59, tzinfo=UTC), PROFILE
    )  # 8:59 PM


def test_quiet_hours_end_at_8_local_on_the_night_dst_starts() -> None:
    # 10 PM EST on Mar 13, 2027; the clocks go forward at 2 AM: 8 AM on the 14th is EDT (12:00 UTC)
    held = datetime(2027, 3, 14, 3, 0, tzinfo=UTC)
    assert calendars.quiet_hours_end(held, PROFILE) == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    awake = datetime(2027, 3, 14, 15, 0, tzinfo=UTC)
    assert calendars.quiet_hours_end(awake, PROFILE) == awake


def test_the_holiday_runway_warns_under_60_days() -> None:
    assert calendars.holiday_runout_warning(PROFILE, date(2027, 10, 1)) is None
    warning = calendars.holiday_runout_warning(PROFILE, date(2027, 11, 1))
    assert warning is not None
    assert "end in 56 days" in warning and "2027-12-27" in warning and "holidays:" in warning
    gone = calendars.holiday_runout_warning(PROFILE, date(2028, 1, 5))
    assert gone is not None and "already ended" in gone
    empty = replace(PROFILE, holidays=())
    assert "no co-op holidays" in (calendars.holiday_runout_warning(empty, date(2027, 1, 1)) or "")


def test_the_action_server_warns_at_start_when_the_holidays_run_out(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from bot.config import load_settings

    settings = load_settings()
    with caplog.at_level(logging.WARNING, logger="bot.actions.server"):
        warning = warn_if_holidays_run_out(
            settings, lambda: datetime(2027, 11, 15, 15, 0, tzinfo=UTC)
        )
    assert warning is not None and "add next year's" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.actions.server"):
        assert warn_if_holidays_run_out(settings, lambda: datetime(2027, 6, 1, tzinfo=UTC)) is None
    assert caplog.text == ""


async def test_the_worker_checks_the_holiday_list_daily(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.worker import notices
    from bot.worker.registry import periodic_tasks

    task = next(t for t in periodic_tasks() if t.name == "calendar.holidays")
    ctx = type("Ctx", (), {})()
    ctx.profile = replace(PROFILE, holidays=(Holiday(date(2026, 12, 25), "Christmas Day"),))
    ctx.clock = lambda: datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="bot.worker.notices"):
        assert await task.run(ctx) == 1  # type: ignore[arg-type]
    assert "end in 23 days" in caplog.text
    assert task.run is notices.run_calendar_check


LONG = {
    "account_last4": "4821",
    "amount": "$4,999.99",
    "due_date": "Sep 30, 2027",
    "received_date": "Sep 30, 2027",
    "past_due_amount": "$4,999.99",
    "late_fee": "$250.00",
    "fee_note": " A late fee of $250.00 applies.",
    "amount_due": "$5,249.99",
    "disconnect_note": PROFILE.billing.disconnect_rule,
    "draft_date": "Sep 30, 2027",
    "method": "checking ending 6120",
    "cancel_by": "Sep 26, 2027",
}


@pytest.mark.parametrize("kind", notice_texts.KINDS)
def test_every_default_wording_fits_two_plain_texts(kind: str) -> None:
    text = notice_texts.render(kind, PROFILE, **LONG)
    assert is_gsm7(text.sms)
    assert gsm7_length(text.sms) <= 306
    assert "{" not in text.sms and "JEC" in text.sms


def test_every_kind_has_its_placeholders_declared_in_the_profile_module() -> None:
    from string import Formatter

    from bot.profile import NOTICE_COMMON_FIELDS, NOTICE_FIELDS

    for kind, wording in notice_texts.DEFAULT_WORDING.items():
        names = {n for _, n, _, _ in Formatter().parse(wording) if n}
        assert names <= NOTICE_FIELDS[kind] | NOTICE_COMMON_FIELDS, kind


def _raw() -> dict:  # type: ignore[type-arg]
    import yaml

    return yaml.safe_load((PROJECT_ROOT / "profiles" / "jec.yml").read_text(encoding="utf-8"))


def test_the_profile_reads_the_notice_settings() -> None:
    raw = _raw()
    raw["notices"] = {
        "quiet_hours": {"start": "20:30", "end": "07:45"},
        "lookback_days": 2,
        "holiday_warning_days": 90,
        "wording": {"bill_ready": "{coop}: {amount} due {due_date} \u2014 thanks"},
    }
    raw["drafts"]["bank_holiday_rule"] = "previous_business_day"
    profile = parse_profile(raw, "p.yml")
    assert (profile.notices.quiet_start, profile.notices.quiet_end) == (time(20, 30), time(7, 45))
    assert profile.notices.lookback_days == 2 and profile.notices.holiday_warning_days == 90
    assert profile.notices.wording["bill_ready"] == "{coop}: {amount} due {due_date} - thanks"
    assert profile.drafts.bank_holiday_rule == "previous_business_day"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: raw["drafts"].update(bank_holiday_rule="skip"),
            "drafts.bank_holiday_rule must be next_business_day or previous_business_day",
        ),
        (
            lambda raw: raw.update(notices={"wording": {"bill_ready": "{amount} {balance}"}}),
            "notices.wording.bill_ready uses unknown placeholder(s) {balance}",
        ),
        (
            lambda raw: raw.update(notices={"wording": {"bill_redy": "{amount}"}}),
            "notices.wording.bill_redy is not a known setting",
        ),
        (
            lambda raw: raw.update(
                notices={"wording": {"bill_ready": "Due {due_date} \U0001f4a1"}}
            ),
            "notices.wording.bill_ready must fit a plain text message (GSM-7)",
        ),
        (
            lambda raw: raw.update(notices={"quiet_hours": {"start": 2100, "end": "08:00"}}),
            "notices.quiet_hours.start must be a time in quotes",
        ),
    ],
)
def test_a_wrong_notice_setting_names_the_field(change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _raw()
    change(raw)
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_profile(raw, "p.yml")
