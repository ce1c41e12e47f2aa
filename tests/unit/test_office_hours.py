"""Office and agent hours from the JEC profile: weekdays 8 AM-5 PM Eastern, holidays closed,
Louisville and Thomson closed 1-2 PM for lunch, correct on both sides of the 2026 DST changes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import PROJECT_ROOT
from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.profile import load_profile, parse_profile
from bot.services.office_hours import OfficeHours, format_clock, format_clock_range

NY = ZoneInfo("America/New_York")
PROFILE = load_profile(PROJECT_ROOT / "profiles" / "jec.yml")


@pytest.fixture(scope="module")
def hours() -> OfficeHours:
    return OfficeHours(PROFILE)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


# -- is_open --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 11, 30, 7, 59), False),
        (local(2026, 11, 30, 8, 0), True),
        (local(2026, 11, 30, 16, 59), True),
        (local(2026, 11, 30, 17, 0), False),
        (local(2026, 11, 30, 17, 1), False),
        (local(2026, 11, 28, 10, 0), False),  # Saturday
        (local(2026, 11, 29, 10, 0), False),  # Sunday
        (local(2026, 11, 26, 10, 0), False),  # Thanksgiving
        (local(2026, 11, 27, 10, 0), False),  # day after Thanksgiving
        (local(2026, 11, 25, 16, 30), True),  # the day before is a normal day
    ],
)
def test_offices_open_weekdays_8_to_5_except_holidays(
    hours: OfficeHours, moment: datetime, expected: bool
) -> None:
    assert hours.is_open(moment) is expected


def test_louisville_closes_for_lunch_but_wrens_and_the_offices_overall_stay_open(
    hours: OfficeHours,
) -> None:
    for minute in (0, 30, 59):
        moment = local(2026, 12, 1, 13, minute)
        assert not hours.is_open(moment, office_id="louisville")
        assert not hours.is_open(moment, office_id="thomson")
        assert hours.is_open(moment, office_id="wrens")
        assert hours.is_open(moment)
    assert hours.is_open(local(2026, 12, 1, 12, 59), office_id="louisville")
    assert hours.is_open(local(2026, 12, 1, 14, 0), office_id="louisville")


def test_agents_have_no_lunch_closure_but_keep_holidays(hours: OfficeHours) -> None:
    assert hours.is_open(local(2026, 12, 1, 13, 30), schedule="agents")
    assert not hours.is_open(local(2026, 11, 26, 10, 0), schedule="agents")
    assert not hours.is_open(local(2026, 12, 1, 17, 0), schedule="agents")


def test_utc_input_is_read_in_eastern_time(hours: OfficeHours) -> None:
    # 13:30 UTC on Mon Nov 30 is 8:30 AM EST; 12:30 UTC is 7:30 AM.
    assert hours.is_open(datetime(2026, 11, 30, 13, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 11, 30, 12, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("utc_open", "utc_before"),
    [
        # DST starts Sun Mar 8 2026: Fri Mar 6 is EST (8 AM = 13:00 UTC),
        # Mon Mar 9 is EDT (8 AM = 12:00 UTC)
        (datetime(2026, 3, 6, 13, 0), datetime(2026, 3, 6, 12, 59)),
        (datetime(2026, 3, 9, 12, 0), datetime(2026, 3, 9, 11, 59)),
        # DST ends Sun Nov 1 2026: Fri Oct 30 is EDT (12:00 UTC), Mon Nov 2 is EST (13:00 UTC)
        (datetime(2026, 10, 30, 12, 0), datetime(2026, 10, 30, 11, 59)),
        (datetime(2026, 11, 2, 13, 0), datetime(2026, 11, 2, 12, 59)),
    ],
)
def test_opening_is_8_am_local_on_both_sides_of_the_dst_changes(
    hours: OfficeHours, utc_open: datetime, utc_before: datetime
) -> None:
    assert hours.is_open(utc_open.replace(tzinfo=UTC))
    assert not hours.is_open(utc_before.replace(tzinfo=UTC))


def test_naive_datetime_is_refused(hours: OfficeHours) -> None:
    with pytest.raises(ValueError, match="naive"):
        hours.is_open(datetime(2026, 11, 30, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        hours.next_opening(datetime(2026, 11, 30, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        hours.describe_today(datetime(2026, 11, 30, 9, 0))


def test_unknown_office_or_schedule(hours: OfficeHours) -> None:
    with pytest.raises(KeyError):
        hours.is_open(local(2026, 12, 1, 9), office_id="augusta")
    with pytest.raises(ValueError):
        hours.is_open(local(2026, 12, 1, 9), schedule="night")  # type: ignore[arg-type]


# -- next_opening ----------------------------------------------------------------------------------


def test_next_opening_from_saturday_is_monday_8_am(hours: OfficeHours) -> None:
    opening = hours.next_opening(local(2026, 11, 28, 10, 0))
    assert opening == local(2026, 11, 30, 8, 0)
    assert opening.tzinfo == NY


def test_next_opening_skips_thanksgiving_and_the_weekend(hours: OfficeHours) -> None:
    assert hours.next_opening(local(2026, 11, 25, 17, 0)) == local(2026, 11, 30, 8, 0)


def test_next_opening_skips_christmas_eve_and_christmas(hours: OfficeHours) -> None:
    assert hours.next_opening(local(2026, 12, 23, 18, 0)) == local(2026, 12, 28, 8, 0)


def test_next_opening_before_8_is_today_and_while_open_is_now(hours: OfficeHours) -> None:
    assert hours.next_opening(local(2026, 12, 1, 6, 15)) == local(2026, 12, 1, 8, 0)
    now = local(2026, 12, 1, 10, 15)
    assert hours.next_opening(now) == now


def test_next_opening_during_lunch_for_one_office(hours: OfficeHours) -> None:
    assert hours.next_opening(local(2026, 12, 1, 13, 10), office_id="louisville") == local(
        2026, 12, 1, 14, 0
    )


def test_next_opening_across_dst_start_is_8_am_edt(hours: OfficeHours) -> None:
    opening = hours.next_opening(local(2026, 3, 6, 18, 0))  # Friday evening, EST
    assert opening == local(2026, 3, 9, 8, 0)
    assert opening.utcoffset() == timedelta(hours=-4)
    assert opening.astimezone(UTC).hour == 12


def test_next_opening_across_dst_end_is_8_am_est(hours: OfficeHours) -> None:
    opening = hours.next_opening(local(2026, 10, 30, 18, 0))  # Friday evening, EDT
    assert opening == local(2026, 11, 2, 8, 0)
    assert opening.utcoffset() == timedelta(hours=-5)
    assert opening.astimezone(UTC).hour == 13


def test_agents_next_opening(hours: OfficeHours) -> None:
    assert hours.next_opening(local(2026, 11, 26, 9, 0), schedule="agents") == local(
        2026, 11, 30, 8, 0
    )


def test_closes_at(hours: OfficeHours) -> None:
    assert hours.closes_at(local(2026, 12, 1, 9)) == local(2026, 12, 1, 17)
    assert hours.closes_at(local(2026, 12, 1, 9), office_id="louisville") == local(2026, 12, 1, 13)
    assert hours.closes_at(local(2026, 12, 1, 18)) is None


# -- member-facing wording ------------------------------------------------------------------------


def test_describe_today_while_open_mentions_lunch_closures(hours: OfficeHours) -> None:
    assert hours.describe_today(local(2026, 12, 1, 10, 0)) == (
        "Our offices are open until 5 PM today (the Louisville and Thomson offices close 1-2 PM "
        "for lunch)."
    )


def test_describe_today_after_lunch_drops_the_lunch_note(hours: OfficeHours) -> None:
    assert (
        hours.describe_today(local(2026, 12, 1, 15, 0)) == "Our offices are open until 5 PM today."
    )


def test_describe_today_on_saturday(hours: OfficeHours) -> None:
    assert (
        hours.describe_today(local(2026, 11, 28, 10, 0))
        == "Our office is closed now. We open Monday at 8 AM."
    )


def test_describe_today_after_closing_on_a_weekday(hours: OfficeHours) -> None:
    assert (
        hours.describe_today(local(2026, 12, 1, 17, 30))
        == "Our office is closed now. We open tomorrow at 8 AM."
    )


def test_describe_today_early_morning(hours: OfficeHours) -> None:
    assert hours.describe_today(local(2026, 12, 1, 7, 0)) == (
        "Our offices open at 8 AM today and close at 5 PM (the Louisville and Thomson offices "
        "close 1-2 PM for lunch)."
    )


def test_describe_today_on_a_holiday_names_it(hours: OfficeHours) -> None:
    assert hours.describe_today(local(2026, 11, 26, 11, 0)) == (
        "Our office is closed today for Thanksgiving Day. We open Monday at 8 AM."
    )


def test_describe_today_for_one_office(hours: OfficeHours) -> None:
    assert hours.describe_today(local(2026, 12, 1, 10), "louisville") == (
        "The Louisville office is open until 5 PM today, closed 1-2 PM for lunch."
    )
    assert hours.describe_today(local(2026, 12, 1, 13, 20), "louisville") == (
        "The Louisville office is closed for lunch until 2 PM. It is open until 5 PM today."
    )
    assert (
        hours.describe_today(local(2026, 12, 1, 10), "wrens")
        == "The Wrens office is open until 5 PM today."
    )
    assert hours.describe_today(local(2026, 11, 28, 10), "blythe") == (
        "The Blythe office is closed now. It opens Monday at 8 AM."
    )


def test_describe_week(hours: OfficeHours) -> None:
    assert hours.describe_week() == (
        "Our offices are open Mon-Fri 8 AM-5 PM, closed on co-op holidays. "
        "The Louisville and Thomson offices close 1-2 PM for lunch."
    )
    assert hours.describe_week(schedule="agents") == (
        "Member-service agents are open Mon-Fri 8 AM-5 PM, closed on co-op holidays."
    )


def test_every_sentence_fits_one_sms_of_gsm7(hours: OfficeHours) -> None:
    start = local(2026, 11, 23, 0, 0)
    sentences = {hours.describe_week()}
    for step in range(14 * 24 * 2):  # every half hour for two weeks, with and without an office
        moment = start + timedelta(minutes=30 * step)
        for office in (None, "louisville", "wrens"):
            sentences.add(hours.describe_today(moment, office))
    for sentence in sentences:
        assert is_gsm7(sentence), sentence
        assert gsm7_length(sentence) <= 320, sentence


def test_week_with_a_saturday_morning_and_a_long_closure() -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "profiles" / "jec.yml").read_text(encoding="utf-8"))
    doc = copy.deepcopy(raw)
    doc["office_hours"]["sat"] = {"open": "09:00", "close": "12:30"}
    oh = OfficeHours(parse_profile(doc, "test"))
    assert oh.describe_week().startswith(
        "Our offices are open Mon-Fri 8 AM-5 PM, Sat 9 AM-12:30 PM,"
    )
    assert oh.is_open(local(2026, 11, 28, 12, 29))
    assert not oh.is_open(local(2026, 11, 28, 12, 30))
    # Wednesday evening before Christmas Eve 2026: Thu and Fri closed, so Saturday 9 AM
    assert (
        oh.describe_today(local(2026, 12, 23, 18))
        == "Our office is closed now. We open Saturday at 9 AM."
    )


def test_clock_formatting() -> None:
    from datetime import time

    assert format_clock(time(8)) == "8 AM"
    assert format_clock(time(12)) == "12 PM"
    assert format_clock(time(13, 30)) == "1:30 PM"
    assert format_clock(time(0, 5)) == "12:05 AM"
    assert format_clock_range(time(13), time(14)) == "1-2 PM"
    assert format_clock_range(time(11), time(13)) == "11 AM-1 PM"
