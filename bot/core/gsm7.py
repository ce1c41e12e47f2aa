"""GSM-7, the alphabet of a plain text message: checking, measuring and rewriting text for SMS.

One character outside GSM-7 switches a whole text to UCS-2 and cuts a segment from 160 to 70
characters, so everything the assistant texts is checked or rewritten here first.
"""

from __future__ import annotations

import re
import unicodedata

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # each costs two characters in a text

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u2122": "TM",
    "\u00b0": " degrees",
}


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (basic set or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def gsm7_length(text: str) -> int:
    """Septets the text takes in an SMS: extension characters (like `€` or `[`) count twice."""
    return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)


def to_gsm7(text: str) -> str:
    """Text rewritten to GSM-7: straight quotes and dashes, `...`, accents dropped where needed,
    emoji and other symbols removed (so one stray character cannot switch a text to UCS-2, which
    cuts a message from 160 to 70 characters)."""
    out: list[str] = []
    removed = False
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and all(c in GSM7_BASIC for c in base):
            out.append(base)
            continue
        removed = True  # emoji, variation selectors, zero-width joiners, other scripts' symbols
    result = "".join(out)
    if removed:
        result = re.sub(r"[ ]{2,}", " ", result)
        result = re.sub(r" +([.,!?])", r"\1", result)
        result = "\n".join(line.strip() for line in result.split("\n")).strip()
    return result


_STRAIGHTEN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\t": " ",
    }
)


def straighten(text: str) -> str:
    """Straighten typographic quotes, dashes and ellipses that creep in from profile text, and
    nothing else: a text that is still not GSM-7 afterwards is refused, not rewritten."""
    return text.translate(_STRAIGHTEN)
