"""The payment processor contract: what the assistant needs from a card/bank processor.

Adapters implement `PaymentProcessor` (the sandbox in `bot.adapters.sandbox_processor`; a real
processor's API in production). The assistant only ever holds tokens and last four digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol, runtime_checkable

ProcessorStatus = Literal["succeeded", "declined", "error"]


@dataclass(frozen=True)
class ProcessorResult:
    status: ProcessorStatus
    reference: str | None = None  # the processor's id for the charge
    decline_reason: str | None = None  # processor wording; shown to staff, not verbatim to members


@dataclass(frozen=True)
class CardToken:
    """What a tokenized card leaves behind: everything we may store, nothing more."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder_name: str
    kind: str = "card"


@dataclass(frozen=True)
class BankToken:
    token: str
    last4: str
    kind: str  # checking|savings
    holder_name: str
    brand: str | None = None  # bank name, when the processor knows it


class TokenizeError(ValueError):
    """The details typed on the secure page are not a usable card or bank account.

    The message is member-friendly and never repeats the number.
    """


@runtime_checkable
class PaymentProcessor(Protocol):
    """A card and bank (ACH) processor. Production wraps the processor's API and hosted page.

    - `charge` must honour `idempotency_key`: the same key again returns the first result without
      moving money (every real processor supports this; pass the key through).
    - `charge` returns `declined` for a decision by the bank, `error` when the processor could
      not decide; it should not raise, but the service treats an exception as `error`.
    - `tokenize_*` runs behind the secure payment page only. It returns a token plus what we may
      store; it must never return, log or keep the full number or the CVV.
    """

    async def charge(
        self, token: str, amount_cents: int, idempotency_key: str
    ) -> ProcessorResult: ...

    async def tokenize_card(
        self, *, number: str, exp_month: int, exp_year: int, cvv: str, name: str, today: date
    ) -> CardToken: ...

    async def tokenize_bank(
        self, *, routing: str, account: str, kind: str, name: str
    ) -> BankToken: ...


ACCEPTED_BRANDS = frozenset({"Visa", "Mastercard", "American Express", "Discover"})
