"""Information answers: which co-op facts answer which question, worded for SMS.

Pure: a `CoopProfile` in, a list of short messages out; no Rasa types, no database, no clock.
Every fact (addresses, phones, fees, terms, FAQ texts) is read from the profile, so the co-op
corrects an answer in `profiles/jec.yml` without a code change. Each message is one idea, GSM-7
and at most 320 characters; a profile text longer than that is split at sentence ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.core.gsm7 import gsm7_length
from bot.core.gsm7 import to_gsm7 as gsm7_safe
from bot.core.money import format_cents
from bot.profile import CoopProfile, Office
from bot.services.notify import SMS_MAX_CHARS
from bot.services.office_hours import format_clock, format_clock_range

_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --------------------------------------------------------------------------------------------
# Message shaping
# --------------------------------------------------------------------------------------------


def split_for_sms(text: str, limit: int = SMS_MAX_CHARS) -> list[str]:
    """GSM-7-safe pieces of at most `limit` characters, cut between sentences (or words)."""
    text = " ".join(gsm7_safe(text).split())
    if not text:
        return []
    if gsm7_length(text) <= limit:
        return [text]
    sentences = re.split(r"(?<=[.!?])\s+", text)
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        candidate = f"{current} {sentence}".strip()
        if gsm7_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = sentence
        while gsm7_length(current) > limit:  # one sentence longer than a text: cut at a word
            cut = current.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(current[:cut].strip())
            current = current[cut:].strip()
    if current:
        pieces.append(current)
    return pieces


def _messages(*texts: str) -> list[str]:
    out: list[str] = []
    for text in texts:
        out.extend(split_for_sms(text))
    return out


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------------------------
# Offices
# --------------------------------------------------------------------------------------------


def office_for_town(profile: CoopProfile, towns: Iterable[str | None]) -> Office | None:
    """The office in one of `towns` ("Louisville", "louisville ga", "wrens"), if any."""
    by_key = {}
    for office in profile.offices:
        by_key[office.town.casefold()] = office
        by_key[office.id.casefold()] = office
    for town in towns:
        words = re.sub(r"[^\w\s]", " ", str(town or "")).casefold().split()
        if words and words[-1] in ("ga", "georgia"):
            words = words[:-1]
        key = " ".join(words)
        if key in by_key:
            return by_key[key]
    return None


def office_address(office: Office) -> str:
    """`3077 Hwy 17 N, Wrens, GA 30833`; a missing street is said plainly, never made up."""
    place = f"{office.town}, {office.state} {office.zip}"
    return f"{office.street}, {place}" if office.street else place


def _week_hours(profile: CoopProfile) -> str:
    """ "Mon-Fri 8 AM-5 PM" from the weekly hours (runs of equal days)."""
    runs: list[tuple[int, int, tuple]] = []
    for day in range(7):
        hours = profile.office_hours.get(day)
        if hours is None:
            continue
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == tuple(hours):
            runs[-1] = (runs[-1][0], day, tuple(hours))
        else:
            runs.append((day, day, tuple(hours)))
    parts = []
    for first, last, (opens, closes) in runs:
        days = _DAY_ABBR[first] if first == last else f"{_DAY_ABBR[first]}-{_DAY_ABBR[last]}"
        parts.append(f"{days} {format_clock_range(opens, closes)}")
    return ", ".join(parts) if parts else "by appointment"


def _lunch_sentence(profile: CoopProfile, offices: Iterable[Office]) -> str:
    groups: dict[tuple, list[str]] = {}
    for office in offices:
        if office.lunch_closure is not None:
            key = (office.lunch_closure.start, office.lunch_closure.end)
            groups.setdefault(key, []).append(office.town)
    sentences = []
    for (start, end), towns in groups.items():
        noun = "office closes" if len(towns) == 1 else "offices close"
        sentences.append(f"The {_join(towns)} {noun} {format_clock_range(start, end)} for lunch.")
    return " ".join(sentences)


def office_locations(profile: CoopProfile, town: str | None = None) -> list[str]:
    """Where the offices are; with a town that has an office, just that office and its lunch
    hour."""
    office = office_for_town(profile, [town]) if town else None
    if office is not None:
        if office.street:
            text = f"Our {office.town} office is at {office_address(office)}."
        else:
            text = (
                f"Our {office.town} office is in {office_address(office)}. Call "
                f"{profile.phones.member_services} for the street address and directions."
            )
        hours = f"It is open {_week_hours(profile)}, closed on co-op holidays."
        lunch = _lunch_sentence(profile, [office])
        if lunch:
            hours += f" {lunch}"
        services = f" It has a {_join(list(office.services))}." if office.services else ""
        return _messages(text, hours + services)

    listed = "; ".join(f"{o.town}: {office_address(o)}" for o in profile.offices)
    first = f"We have {len(profile.offices)} offices. {listed}."
    if any(not o.street for o in profile.offices):
        first += f" For directions call {profile.phones.member_services}."
    services = sorted({s for o in profile.offices for s in o.services})
    second = f"Offices are open {_week_hours(profile)}, closed on co-op holidays."
    lunch = _lunch_sentence(profile, profile.offices)
    if lunch:
        second += f" {lunch}"
    if services:
        second += (
            f" Each office has a {_join(services)}."
            if all(set(o.services) == set(services) for o in profile.offices)
            else ""
        )
    return _messages(first, second)


# --------------------------------------------------------------------------------------------
# The other answers
# --------------------------------------------------------------------------------------------


def phone_numbers(profile: CoopProfile) -> list[str]:
    p = profile.phones
    services = p.member_services + (
        f" or {p.member_services_toll_free}" if p.member_services_toll_free else ""
    )
    text = (
        f"Member services: {services}, {_week_hours(profile)}. Outages and emergencies, 24/7: "
        f"{p.outage_24_7}."
    )
    if p.fax:
        text += f" Fax: {p.fax}."
    return _messages(text)


def _lower_first(text: str) -> str:
    """ "By mail" -> "by mail" inside a list; "JEC app" stays (an acronym or name)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def ways_to_pay(profile: CoopProfile) -> list[str]:
    ways = [_lower_first(w.rstrip(".")) for w in profile.payments.ways_to_pay]
    first = "Ways to pay: " + "; ".join(ways) + "."
    b = profile.billing
    second = (
        f"Online payments usually post in {b.online_payment_posting}. A payment must reach an "
        f"office by {format_clock(b.payment_cutoff_local_time)} on the due date."
    )
    return _messages(first, second)


def due_date_rule(profile: CoopProfile) -> list[str]:
    b = profile.billing
    text = (
        f"A bill is due {b.due_days_after_billing} days after its billing date. Payment must reach "
        f"us by {format_clock(b.payment_cutoff_local_time)} on the due date."
    )
    if b.senior_billing_day is not None and "senior_billing" in profile.faq:
        text += " " + profile.faq["senior_billing"]
    return _messages(text)


def late_fee(profile: CoopProfile) -> list[str]:
    b = profile.billing
    fee = (
        f"A past-due balance over {format_cents(b.late_fee_threshold_cents)} gets a "
        f"{b.late_fee_percent.normalize():f}% late fee, at least "
        f"{format_cents(b.late_fee_minimum_cents)}."
    )
    return _messages(fee, b.disconnect_rule)


def reconnect_fee(profile: CoopProfile) -> list[str]:
    b = profile.billing
    hours = b.reconnect_business_hours
    days = sorted(hours.days)
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
        day_text = f"{_DAY_ABBR[days[0]]}-{_DAY_ABBR[days[-1]]}"
    else:
        day_text = ", ".join(_DAY_ABBR[d] for d in days)
    text = (
        f"Reconnecting service after a disconnection for non-payment costs "
        f"{format_cents(b.reconnect_fee_business_hours_cents)} {day_text} "
        f"{format_clock_range(hours.start, hours.end)}, and "
        f"{format_cents(b.reconnect_fee_other_times_cents)} at other times."
    )
    return _messages(text)


def extreme_weather(profile: CoopProfile) -> list[str]:
    return _messages(
        profile.extreme_weather.summary,
        "Questions about a past-due bill? Call member services at "
        f"{profile.phones.member_services}.",
    )


def _faq(key: str) -> Callable[[CoopProfile], list[str]]:
    def answer(profile: CoopProfile) -> list[str]:
        text = profile.faq.get(key)
        if not text:
            return _messages(
                f"Please call member services at {profile.phones.member_services} about that."
            )
        return _messages(text)

    return answer


# intent -> answer. ask_office_hours is answered by action_office_hours (it needs the clock).
_ANSWERS: dict[str, Callable[[CoopProfile], list[str]]] = {
    "ask_phone_numbers": phone_numbers,
    "ask_ways_to_pay": ways_to_pay,
    "ask_due_date": due_date_rule,
    "ask_late_fee": late_fee,
    "ask_reconnect_fee": reconnect_fee,
    "ask_extreme_weather": extreme_weather,
    "ask_levelized_billing": _faq("levelized_billing"),
    "ask_register_online": _faq("register_online"),
}

INFO_INTENTS: frozenset[str] = frozenset({*_ANSWERS, "ask_office_locations"})


def answer(intent: str, profile: CoopProfile, *, town: str | None = None) -> list[str]:
    """The messages answering an information intent; `KeyError` for an intent that is not one."""
    if intent == "ask_office_locations":
        return office_locations(profile, town)
    return _ANSWERS[intent](profile)
