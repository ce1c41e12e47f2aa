"""Every rules object the services need, built from the co-op profile in one place."""

from __future__ import annotations

from dataclasses import dataclass

from bot.profile import CoopProfile
from bot.services.balance import BillingRules
from bot.services.identity import VerificationRules
from bot.services.otp import OtpRules
from bot.services.payment_rules import PaymentRules


@dataclass(frozen=True)
class Rules:
    billing: BillingRules
    payment: PaymentRules
    verification: VerificationRules
    otp: OtpRules

    @classmethod
    def from_profile(cls, profile: CoopProfile, *, processor_timeout_seconds: float) -> Rules:
        return cls(
            billing=BillingRules.from_profile(profile),
            payment=PaymentRules.from_profile(
                profile, processor_timeout_seconds=processor_timeout_seconds
            ),
            verification=VerificationRules.from_profile(profile),
            otp=OtpRules.from_profile(profile),
        )
