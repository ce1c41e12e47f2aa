"""Yes and no as members type them: ONE vocabulary for every question the assistant asks.

A form first trusts the NLU (`affirm` / `deny`), then this vocabulary, so "yep", "sure",
"that's right" or "nah" mean the same in a payment, a draft authorization or a service request.
"""

from __future__ import annotations

import re

YES_WORDS = frozenset(
    {
        "yes", "y", "ya", "yeah", "yea", "yep", "yup", "yes please", "yes i do", "yes it is",
        "sure", "ok", "okay", "correct", "right", "thats right", "that's right", "confirm",
        "confirmed", "send it", "i do", "i authorize", "authorize", "i agree", "agree",
        "go ahead", "do it", "please do", "absolutely",
    }
)  # fmt: skip
NO_WORDS = frozenset(
    {
        "no", "n", "nope", "nah", "no thanks", "no thank you", "wrong", "not right",
        "i do not", "i dont", "i don't", "dont", "don't", "do not", "stop",
    }
)  # fmt: skip
_LEADING_YES = ("yes", "yeah", "yep", "yup")
_LEADING_NO = ("no", "nope", "nah")


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def yes_no(text: object) -> bool | None:
    """True for a yes, False for a no, None for anything else (the question is asked again)."""
    words = _words(str(text or ""))
    if not words:
        return None
    if words in YES_WORDS:
        return True
    if words in NO_WORDS:
        return False
    first = words.split(" ", 1)[0]
    if first in _LEADING_YES:
        return True
    if first in _LEADING_NO:
        return False
    return None
