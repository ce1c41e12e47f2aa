"""Co-op facts the gateway speaks on its own (HELP, opt-out confirmations, outage fallback).

Every fact comes from the co-op profile, never from code.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.profile import CoopProfile


@dataclass(frozen=True)
class GatewayTexts:
    """The few messages the gateway sends without asking the assistant."""

    coop_name: str
    short_name: str
    member_services_phone: str
    outage_phone: str

    @classmethod
    def from_profile(cls, profile: CoopProfile) -> GatewayTexts:
        return cls(
            coop_name=profile.coop.name,
            short_name=profile.coop.short_name,
            member_services_phone=profile.phones.member_services,
            outage_phone=profile.phones.outage_24_7,
        )

    @property
    def sms_help(self) -> str:
        return (
            f"{self.coop_name} account and outage texts. Member services "
            f"{self.member_services_phone}, "
            f"outages 24/7 {self.outage_phone}. Reply STOP to opt out. Msg & data rates may apply."
        )

    @property
    def sms_opted_out(self) -> str:
        return (
            f"You're unsubscribed from {self.coop_name} texts and will get no more messages. "
            "Reply START to subscribe again."
        )

    @property
    def sms_opted_in(self) -> str:
        return (
            f"You're subscribed to {self.coop_name} texts again. Reply HELP for help, STOP to opt "
            "out. Msg & data rates may apply."
        )

    @property
    def assistant_unavailable(self) -> str:
        return (
            "Sorry, I'm having trouble right now. Please try again in a few minutes. "
            f"For outages call {self.outage_phone} any time."
        )

    @property
    def courtesy_wait(self) -> str:
        """Once per busy period, to a member whose turn has waited (profile `busy:`)."""
        return (
            "We're getting a lot of messages right now. You're in line and I'll answer shortly. "
            f"For a downed line or an emergency call 911, then {self.outage_phone}."
        )
