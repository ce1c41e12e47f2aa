"""The co-op profile: the real file loads with the published facts, and each kind of mistake an
IT person could make stops start-up with a message naming the file and the field."""

from __future__ import annotations

import copy
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import PROJECT_ROOT, ConfigError
from bot.profile import (
    CoopProfile,
    Hours,
    ProfileError,
    load_profile,
    load_profile_or_exit,
    parse_profile,
)

JEC = PROJECT_ROOT / "profiles" / "jec.yml"
SOURCE = "profiles/jec.yml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(JEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def profile() -> CoopProfile:
    return load_profile(JEC)


def error_for(raw: dict[str, Any], change) -> str:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(raw)
    change(doc)
    with pytest.raises(ProfileError) as info:
        parse_profile(doc, SOURCE)
    return str(info.value)


# -- the real profile ---------------------------------------------------------------------------


def test_jec_profile_has_the_published_contact_facts(profile: CoopProfile) -> None:
    assert profile.coop.name == "Jefferson Energy Cooperative"
    assert profile.coop.short_name == "JEC"
    assert profile.phones.member_services == "(706) 547-2167"
    assert profile.phones.outage_24_7 == "1-800-262-5131"
    assert profile.timezone == ZoneInfo("America/New_York")
    assert profile.coop.timezone is profile.timezone


def test_jec_hours_are_weekdays_8_to_5(profile: CoopProfile) -> None:
    assert set(profile.office_hours) == {0, 1, 2, 3, 4}
    assert profile.office_hours["mon"] == Hours(time(8), time(17))
    opens, closes = profile.office_hours[4]
    assert (opens, closes) == (time(8), time(17))
    assert 5 not in profile.office_hours and "sat" not in profile.office_hours
    assert profile.agent_hours == profile.office_hours


def test_jec_offices_and_lunch_closures(profile: CoopProfile) -> None:
    assert [o.id for o in profile.offices] == ["wrens", "louisville", "blythe", "thomson"]
    louisville = profile.office("louisville")
    assert louisville.zip == "30434"
    assert louisville.lunch_closure is not None
    assert (louisville.lunch_closure.start, louisville.lunch_closure.end) == (time(13), time(14))
    assert profile.office("wrens").lunch_closure is None
    assert profile.office("thomson").street is None  # not published
    with pytest.raises(KeyError, match="wrens"):
        profile.office("augusta")


def test_jec_holidays_include_thanksgiving(profile: CoopProfile) -> None:
    holiday = profile.holiday_on(date(2026, 11, 26))
    assert holiday is not None and holiday.name == "Thanksgiving Day"
    assert profile.holiday_on(date(2026, 11, 30)) is None
    assert list(profile.holidays) == sorted(profile.holidays, key=lambda h: h.date)


def test_jec_money_is_integer_cents_and_percent_is_decimal(profile: CoopProfile) -> None:
    billing = profile.billing
    assert billing.late_fee_threshold_cents == 2500
    assert billing.late_fee_minimum_cents == 300
    assert billing.late_fee_percent == Decimal(5)
    assert isinstance(billing.late_fee_percent, Decimal)
    assert billing.reconnect_fee_business_hours_cents == 5000
    assert billing.reconnect_fee_other_times_cents == 10000
    assert billing.payment_cutoff_local_time == time(17)
    assert billing.reconnect_business_hours.days == (0, 1, 2, 3, 4)
    assert profile.payments.minimum_cents == 100
    assert profile.payments.maximum_cents == 500000


def test_jec_drafts_verification_outages_and_faq(profile: CoopProfile) -> None:
    assert profile.drafts.allowed_days == (3, 18)
    assert profile.drafts.member_cancel_notice_days == 3
    assert profile.drafts.amount_notice_days == 10
    assert "{start_date}" in profile.drafts.authorization_template
    assert "\n" not in profile.drafts.authorization_template
    assert profile.verification.max_failures == 5
    assert profile.verification.otp_ttl_minutes == 10
    assert profile.outages.safe_distance_feet == 35
    assert "line down" in profile.outages.hazard_words
    assert profile.extreme_weather.winter_window[0] == (11, 15)
    assert profile.extreme_weather.winter_forecast_low_below_f == 32
    assert "levelized_billing" in profile.faq
    assert profile.faq["levelized_billing"].startswith("Levelized (budget) billing")


def test_profile_is_immutable(profile: CoopProfile) -> None:
    with pytest.raises(AttributeError):
        profile.coop.name = "Other"  # type: ignore[misc]


def test_agent_hours_default_to_office_hours(raw: dict[str, Any]) -> None:
    doc = copy.deepcopy(raw)
    del doc["agent_hours"]
    assert parse_profile(doc, SOURCE).agent_hours == parse_profile(raw, SOURCE).office_hours


# -- mistakes -----------------------------------------------------------------------------------


def test_percent_that_is_not_a_number_names_the_field(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["billing"].__setitem__("late_fee_percent", "five"))
    assert message == "profiles/jec.yml: billing.late_fee_percent must be a number, got 'five'"


def test_missing_required_field(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["phones"].pop("outage_24_7"))
    assert message == "profiles/jec.yml: phones.outage_24_7 is missing"


def test_missing_section(raw: dict[str, Any]) -> None:
    assert error_for(raw, lambda d: d.pop("billing")) == "profiles/jec.yml: billing is missing"


def test_bad_time(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["office_hours"]["mon"].__setitem__("close", "25:00"))
    assert message.startswith("profiles/jec.yml: office_hours.mon.close must be a time")
    assert "'25:00'" in message


def test_unquoted_yaml_time_is_explained(raw: dict[str, Any]) -> None:
    # YAML reads an unquoted 17:00 as 1020 (base 60)
    message = error_for(raw, lambda d: d["office_hours"]["tue"].__setitem__("close", 1020))
    assert 'office_hours.tue.close must be a time in quotes, like "17:00", got 1020' in message


def test_close_before_open(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["office_hours"]["wed"].update({"open": "17:00", "close": "08:00"})
    )
    assert "office_hours.wed.close (08:00) must be after office_hours.wed.open (17:00)" in message


def test_lunch_outside_hours(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["offices"][1]["lunch_closure"].update({"start": "17:30", "end": "18:00"})
    )
    assert (
        "offices[1] (louisville).lunch_closure (17:30-18:00) must fall inside office hours "
        "(08:00-17:00)" in message
    )


def test_lunch_that_ends_before_it_starts(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["offices"][3]["lunch_closure"].update({"start": "14:00", "end": "13:00"})
    )
    assert "offices[3] (thomson).lunch_closure.end" in message


@pytest.mark.parametrize("day", [0, 29, 31, -3, "18th"])
def test_draft_days_outside_1_to_28(raw: dict[str, Any], day: object) -> None:
    message = error_for(raw, lambda d: d["drafts"].__setitem__("allowed_days", [3, day]))
    assert (
        message
        == "profiles/jec.yml: drafts.allowed_days[1] must be a day of the month from 1 to 28, "
        f"got {day!r}"
    )


def test_unknown_timezone(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["coop"].__setitem__("timezone", "America/Wrens"))
    assert (
        message == "profiles/jec.yml: coop.timezone must be a time zone like America/New_York, "
        "got 'America/Wrens'"
    )


def test_duplicate_holiday_dates(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["holidays"].append({"date": date(2026, 11, 26), "name": "Again"})
    )
    assert "holidays[18].date 2026-11-26 is listed twice (also holidays[5])" in message


def test_money_as_a_yaml_float_is_refused(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["billing"].__setitem__("late_fee_minimum", 3.0))
    assert message == (
        'profiles/jec.yml: billing.late_fee_minimum must be an amount in quotes, like "25.00", got '
        "3.0 (a number)"
    )


def test_money_with_fractions_of_a_cent_is_refused(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["payments"].__setitem__("minimum", "1.005"))
    assert message == "profiles/jec.yml: payments.minimum must be whole cents, got '1.005'"


def test_money_that_is_not_an_amount(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["billing"].__setitem__("reconnect_fee_other_times", "a hundred")
    )
    assert "billing.reconnect_fee_other_times must be an amount" in message


def test_maximum_payment_below_minimum(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["payments"].__setitem__("maximum", "0.50"))
    assert "payments.maximum" in message and "must not be below payments.minimum" in message


def test_misspelt_key_is_refused(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["billing"].__setitem__("late_fee_percnt", "5"))
    assert message.startswith("profiles/jec.yml: billing.late_fee_percnt is not a known setting")


def test_unknown_placeholder_in_authorization_template(raw: dict[str, Any]) -> None:
    message = error_for(
        raw,
        lambda d: d["drafts"].__setitem__(
            "authorization_template", "Draft {amount} on {draft_day_ordinal}"
        ),
    )
    assert "drafts.authorization_template uses unknown placeholder(s) {amount}" in message


def test_bad_amount_rule(raw: dict[str, Any]) -> None:
    message = error_for(
        raw, lambda d: d["drafts"].__setitem__("amount_rules", ["full_balance", "half"])
    )
    assert (
        message
        == "profiles/jec.yml: drafts.amount_rules[1] must be full_balance or fixed, got 'half'"
    )


def test_unquoted_zip_is_refused(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["offices"][0].__setitem__("zip", 30833))
    assert "offices[0] (wrens).zip must be a ZIP code in quotes" in message


def test_boolean_that_is_text(raw: dict[str, Any]) -> None:
    message = error_for(raw, lambda d: d["payments"].__setitem__("warn_above_balance", "sometimes"))
    assert (
        message
        == "profiles/jec.yml: payments.warn_above_balance must be true or false, got 'sometimes'"
    )


def test_profile_error_is_a_config_error_and_a_value_error() -> None:
    assert issubclass(ProfileError, ConfigError)
    assert issubclass(ProfileError, ValueError)


# -- files --------------------------------------------------------------------------------------


def test_load_profile_names_the_file_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "profiles").mkdir()
    text = JEC.read_text(encoding="utf-8").replace(
        'late_fee_percent: "5"', "late_fee_percent: five"
    )
    (tmp_path / "profiles" / "jec.yml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError) as info:
        load_profile("profiles/jec.yml")
    assert (
        str(info.value) == "profiles/jec.yml: billing.late_fee_percent must be a number, got 'five'"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.yml")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("coop:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"not valid YAML at line \d+"):
        load_profile(path)


def test_load_profile_or_exit_prints_the_reason_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(JEC.read_text(encoding="utf-8"))
    doc["coop"]["timezone"] = "Mars/Olympus"
    path = tmp_path / "wrong.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        load_profile_or_exit(path)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "coop.timezone must be a time zone like America/New_York, got 'Mars/Olympus'" in err


def test_load_profile_or_exit_returns_a_good_profile() -> None:
    assert load_profile_or_exit(JEC).coop.short_name == "JEC"
