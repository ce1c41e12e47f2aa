"""Outage safety: spotting a hazard in a member's words and the safety message that comes first.

Any hazard (a line down, sparks, fire, someone hurt) gets the safety message before anything else,
wherever in the outage journey it is mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


def detect_hazard(text: str, hazard_words: Iterable[str]) -> bool:
    """Whether a message mentions a hazard ("line down", "sparks", "someone hurt"...).

    Whole words only ("fire" is not "firewood"), plurals and apostrophes tolerated ("lines down",
    "line's down"). Errs towards yes: the safety message is cheap and a miss is not.
    """
    cleaned = " ".join(re.sub(r"[^\w\s]", "", (text or "").lower()).split())
    for phrase in hazard_words:
        words = [re.escape(w) for w in re.sub(r"[^\w\s]", "", phrase.lower()).split()]
        if not words:
            continue
        pattern = r"\b" + r"s?\s+".join(words) + r"s?\b"
        if re.search(pattern, cleaned):
            return True
    return False


def safety_message(profile_like: Any) -> list[str]:
    """The safety message, first thing after a hazard is mentioned; each part fits one SMS.

    `profile_like` needs `.phones.outage_24_7` and `.outages.safe_distance_feet` (a CoopProfile).
    """
    feet = profile_like.outages.safe_distance_feet
    phone = profile_like.phones.outage_24_7
    return [
        (
            f"Stay away from that line. Keep at least {feet} feet from it and anything touching "
            "it, and never touch it. If anyone is in danger, call 911. If a line is on your car, "
            "stay inside until help arrives."
        ),
        (
            f"Please also call our 24/7 line, {phone}, to report it. Hazards must be reported by "
            "phone too, not only here."
        ),
    ]
