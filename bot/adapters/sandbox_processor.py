"""The sandbox payment processor: the embedded default, deterministic for demos and tests.

Triggers (the README copies this table):

| what | result |
| --- | --- |
| card 4242 4242 4242 4242 (any future expiry, any 3-digit CVV) | tokenizes; charges succeed |
| card 4000 0000 0000 0002 | tokenizes to a token containing `decline`; charges are declined |
| card 4000 0000 0000 0119 | tokenizes to `tok_sandbox_error_...`; charges fail (processor error) |
| bank account number 000000002 (any valid routing number, e.g. 011000015) | declining token |
| any token containing `decline` | declined: "card declined" |
| token `tok_sandbox_error` or any token containing `error` | processor error |
| amount ending in 13 cents (e.g. $20.13) | declined: "insufficient funds" |
| amount ending in 14 cents (e.g. $20.14) | processor error |
| amount ending in 15 cents (e.g. $20.15) | the processor does not answer in time (timeout) |

Any other valid card number passing Luhn, or routing number passing the ABA checksum, tokenizes
and succeeds. A repeated idempotency key returns the first result without charging again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import date

from bot.core.checks import aba_routing_valid, card_brand, luhn_valid
from bot.services.payment_processor import (
    ACCEPTED_BRANDS,
    BankToken,
    CardToken,
    ProcessorResult,
    TokenizeError,
)


def _digits(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw)


SANDBOX_DECLINE_CARDS = frozenset({"4000000000000002"})
SANDBOX_ERROR_CARDS = frozenset({"4000000000000119"})
SANDBOX_DECLINE_BANK_ACCOUNTS = frozenset({"000000002"})


class SandboxProcessor:
    """A deterministic stand-in processor: outcomes follow the triggers in the module docstring.

    It keeps no card or bank number, only which token declines (encoded in the token itself).
    `charges` lists every charge that moved (pretend) money, for tests and the demo.
    `hang_seconds` is how long a "timeout" amount (ending in 15 cents) takes to answer.
    """

    def __init__(self, *, hang_seconds: float = 60.0) -> None:
        self.hang_seconds = hang_seconds
        self.charges: list[tuple[str, int, str]] = []
        self._results: dict[str, ProcessorResult] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def charge(self, token: str, amount_cents: int, idempotency_key: str) -> ProcessorResult:
        lock = self._locks.setdefault(idempotency_key, asyncio.Lock())
        async with lock:
            if idempotency_key in self._results:
                return self._results[idempotency_key]
            if amount_cents % 100 == 15:
                await asyncio.sleep(self.hang_seconds)
            result = self._decide(token, amount_cents)
            if result.status == "succeeded":
                self.charges.append((token, amount_cents, idempotency_key))
            self._results[idempotency_key] = result
            return result

    @staticmethod
    def _decide(token: str, amount_cents: int) -> ProcessorResult:
        reference = f"sbx_{secrets.token_hex(6)}"
        if "error" in token or amount_cents % 100 == 14:
            return ProcessorResult("error", reference, "processor unavailable")
        if "decline" in token:
            return ProcessorResult("declined", reference, "card declined")
        if amount_cents % 100 == 13:
            return ProcessorResult("declined", reference, "insufficient funds")
        return ProcessorResult("succeeded", reference)

    async def tokenize_card(
        self, *, number: str, exp_month: int, exp_year: int, cvv: str, name: str, today: date
    ) -> CardToken:
        digits = _digits(number)
        if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
            raise TokenizeError(
                "That card number doesn't look right. Please check it and try again."
            )
        brand = card_brand(digits)
        if brand not in ACCEPTED_BRANDS:
            raise TokenizeError("We accept Visa, Mastercard, American Express and Discover.")
        if not (1 <= exp_month <= 12) or (exp_year, exp_month) < (today.year, today.month):
            raise TokenizeError("That card has expired or the expiry date isn't right.")
        cvv_len = 4 if brand == "American Express" else 3
        if not (cvv.isdigit() and len(cvv) == cvv_len):
            raise TokenizeError("The security code doesn't look right.")
        if not name.strip():
            raise TokenizeError("Please enter the name on the card.")
        if digits in SANDBOX_DECLINE_CARDS:
            prefix = "tok_sandbox_decline_"
        elif digits in SANDBOX_ERROR_CARDS:
            prefix = "tok_sandbox_error_"
        else:
            prefix = "tok_sandbox_"
        return CardToken(
            token=prefix + secrets.token_hex(8),
            brand=brand,
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
            holder_name=name.strip(),
        )

    async def tokenize_bank(self, *, routing: str, account: str, kind: str, name: str) -> BankToken:
        routing_digits, account_digits = _digits(routing), _digits(account)
        if not aba_routing_valid(routing_digits):
            raise TokenizeError(
                "That routing number doesn't look right. It's the 9 digits at the bottom left of a "
                "check."
            )
        if not (account_digits.isdigit() and 4 <= len(account_digits) <= 17):
            raise TokenizeError(
                "That account number doesn't look right. Please check it and try again."
            )
        if kind not in {"checking", "savings"}:
            raise TokenizeError("Please choose checking or savings.")
        if not name.strip():
            raise TokenizeError("Please enter the name on the bank account.")
        declines = account_digits in SANDBOX_DECLINE_BANK_ACCOUNTS
        prefix = "tok_sandbox_decline_" if declines else "tok_sandbox_"
        return BankToken(
            token=prefix + secrets.token_hex(8),
            last4=account_digits[-4:],
            kind=kind,
            holder_name=name.strip(),
        )
