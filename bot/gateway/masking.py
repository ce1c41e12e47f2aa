"""Masking at the edge: the first thing done to every member message, before it is stored,
logged, forwarded to Rasa or shown to an agent (compliance.md, "Card and bank data").

The detection rules live in `bot.services.checks` (Luhn for cards, ABA checksum for routing
numbers); this module only applies them to inbound messages and words the notice to the member.
"""

from __future__ import annotations

from bot.core.masking import MaskResult, mask_sensitive

__all__ = ["MaskResult", "mask_inbound", "masked_notice"]


def mask_inbound(text: str) -> MaskResult:
    """The member's text with every card number and bank account number masked."""
    return mask_sensitive(text)


def masked_notice(result: MaskResult) -> str | None:
    """What the member is told when a number was masked (wording from dialogues.md), else None."""
    if not result.found_any:
        return None
    if result.found_card and result.found_bank:
        what = "those card and bank account numbers"
    elif result.found_card:
        what = "that card number"
    else:
        what = "that bank account number"
    return (
        f"For your safety I didn't keep {what}. Please never send card or bank account numbers "
        "in a chat or text. You can add a card or bank account on our secure page; I'll share a "
        "link once I've confirmed it's your account."
    )
