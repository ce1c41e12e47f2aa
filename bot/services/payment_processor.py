"""The payment processor contract: what the assistant needs from a card/bank processor.

Adapters implement `PaymentProcessor` (the sandbox in `bot.adapters.sandbox_processor`; a real
processor's API in production). The assistant only ever holds tokens and last four digits.

How the card or bank number is entered decides the installation's PCI DSS scope (`CardEntry`,
`PCI_SAQ`; docs/security.md):

- `DIRECT`: the secure page posts the numbers to our gateway, which hands them to `tokenize_*`
  at once and keeps only the token (the sandbox works this way). Card data crosses our server:
  SAQ D for the merchant.
- `HOSTED_FIELDS`: a processor that also implements `HostedFieldsProcessor`. The member types
  the numbers into the processor's own fields (its frames, loaded from `HostedFields.script_url`);
  the page sends our server only the processor's token, and `retrieve_method` turns it into what
  we may store. Our server never sees card data: SAQ A.

The conversation never notices the difference: either way the page stores a `PaymentMethod` and
emits the same `method_saved` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
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


class CardEntry(StrEnum):
    """Where the member's card or bank number is typed, and so which server sees it."""

    DIRECT = "direct"  # our page posts the numbers to our server (the sandbox)
    HOSTED_FIELDS = "hosted_fields"  # the processor's fields; our server sees only a token


# The PCI DSS self-assessment questionnaire each mode falls under (the merchant's side).
PCI_SAQ = {CardEntry.DIRECT: "SAQ D", CardEntry.HOSTED_FIELDS: "SAQ A"}


@dataclass(frozen=True)
class HostedFields:
    """What the secure page needs to show a processor's hosted fields.

    `script_url` is loaded into the page (and `origin` allowed by its content security policy for
    scripts, frames and requests). The script must define `window.jecHostedFields` with
    `mount(container, {publishableKey, kind})`, which draws the processor's fields for a card
    (`kind` "card") or a bank account ("bank") inside `container`, and `tokenize()`, a Promise of
    the processor's token for what the member typed (rejected with a member-friendly message).
    """

    script_url: str
    origin: str
    publishable_key: str  # public by design: it can only create tokens


@runtime_checkable
class HostedFieldsProcessor(Protocol):
    """A processor whose own fields take the card or bank number (see `HostedFields`)."""

    def hosted_fields(self) -> HostedFields: ...

    async def retrieve_method(self, *, token: str, kind: str) -> CardToken | BankToken:
        """What a token from the hosted fields stands for (brand, last four, expiry, name).

        Raises `TokenizeError` for a token that is unknown, used, or not of `kind`."""
        ...


def card_entry(processor: object) -> CardEntry:
    """How the secure page takes card and bank numbers with this processor."""
    if isinstance(processor, HostedFieldsProcessor):
        return CardEntry.HOSTED_FIELDS
    return CardEntry.DIRECT


ACCEPTED_BRANDS = frozenset({"Visa", "Mastercard", "American Express", "Discover"})
