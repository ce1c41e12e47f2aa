"""SMS keywords: opt-out, opt-in and HELP, handled before anything else (docs/policies.md).

Opt-out follows the FCC's 2024 revocation rule: consent to texts may be revoked by any reasonable
means, so a text whose clear intent is to stop the texts opts out, not only the CTIA words sent
alone. Recognised, after Unicode normalisation (full-width letters, curly apostrophes), case and
punctuation are set aside:

- a text made only of STOP, STOPALL, UNSUBSCRIBE, OPT OUT or REVOKE and politeness ("STOP ALL",
  "stop please", "Stop. Please.", "unsubscribe me", "opt me out", "stop stop stop", "stop it");
  CANCEL, END and QUIT count alone only, since "cancel please" in the middle of a payment means
  the payment;
- a request about the texts themselves: "stop texting me", "stop sending me messages", "no more
  texts", "don't text me", "quit texting", "cancel these texts", "remove me from your list",
  "I revoke my consent".

Ordinary sentences that merely contain such a word reach the assistant: "stop my service", "how do
i stop my draft", "cancel payment", "stop paperless billing", "opt out of paperless". START and
UNSTOP opt back in; while the number is opted out, so do YES and plain requests ("start texting me
again", "opt me back in"), which otherwise are ordinary messages for the assistant (signing up for
alerts is a settings question). HELP or INFO alone gets the help reply.

OUT ("out", "still out", "power's still out", "we are still out") answers a "Power is back on"
text: `is_still_out` recognises it, and the SMS channel treats it as a keyword only when that
phone's latest restore text was sent recently (`bot.gateway.still_out`); otherwise it is an
ordinary message for the assistant. Opt-out words come first: "opt out" is never OUT.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
CONDITIONAL_OPT_IN_WORDS = frozenset({"YES"})  # "yes" is also a normal answer mid-conversation
HELP_WORDS = frozenset({"HELP", "INFO"})

# Words that may surround a keyword without changing what the text asks for.
_FILLER = frozenset(
    "please pls plz now all it me thanks thank you thx ok okay just already jec sir maam hey hi "
    "hello asap immediately right away texts text txt messages msgs sms".split()
)
# The opt-out words that say "stop texting" even with politeness around them ("opt out" and
# "opt me out" are joined into one word first). CANCEL, END and QUIT only alone.
_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "unsub", "optout", "revoke"})
_IN_WORDS = frozenset({"start", "unstop", "resubscribe", "optin"})
# Not about texts: "unsubscribe me from paper bills", "opt out of paperless".
_OTHER_CHANNELS = r"(?!.*\b(?:e-?mails?|paper\w*|mail\w*|drafts?|autopay|auto\s*pay|billing)\b)"

_TEXTS = r"(?:texts?|texting|txts?|txting|messages?|messaging|msgs?|sms|text messages?)"
_OPT_OUT_PHRASES = [
    re.compile(p)
    for p in (
        rf"\b(?:stop|quit|cease|end)\s+(?:(?:sending|getting|receiving)\s+(?:me\s+)?)?"
        rf"(?:(?:the|these|those|your|my|all|any|all\s+the|all\s+of\s+the)\s+)?{_TEXTS}\b",
        r"\b(?:stop|quit|cease)\s+(?:texting|txting|messaging|contacting|spamming|bothering)\b",
        r"\b(?:stop|quit)\s+sending\s+(?:me\s+)?(?:these|this|them|those)\b",
        rf"\bno\s+more\s+{_TEXTS}\b",
        r"\b(?:dont|do\s+not|never)\s+(?:ever\s+)?(?:text|txt|message|contact|sms)\s+"
        r"(?:me|us|this\s+number|this\s+phone|my\s+(?:number|phone))\b",
        rf"\b(?:cancel|end)\s+(?:(?:the|these|those|your|all|my|all\s+the)\s+)?{_TEXTS}\b",
        r"\b(?:remove|take)\s+(?:me|my\s+number|this\s+number)\s+(?:off|from|out\s+of)\s+"
        r"(?:the|this|your)\s+(?:list|texts?|messages?|texting\s+list|mailing\s+list)\b",
        r"\brevoke\s+(?:my\s+|all\s+)?consent\b",
        rf"\b(?:unsubscribe|optout)\b{_OTHER_CHANNELS}",
    )
]
_OPT_IN_PHRASES = [
    re.compile(p)
    for p in (
        rf"\b(?:start|resume)\s+(?:texting|messaging|sending)(?:\s+(?:me|{_TEXTS}))*"
        r"(?:\s+again)?\b",
        r"\bopt\s+(?:me\s+)?(?:back\s+)?in\b",
        r"\b(?:resubscribe|subscribe\s+me(?:\s+again)?)\b",
    )
]


_STILL_OUT_FILLER = frozenset(
    "i im we were are is my our the power powers lights electricity still out again please pls "
    "yes yeah yep here too house home were".split()
)


def is_still_out(body: str) -> bool:
    """The text says "I'm still out" in reply to a restore text ("OUT", "still out", "power's
    still out", "we're still out"): OUT alone, or "out" with only such words around it."""
    if _normalise(unicodedata.normalize("NFKC", body)) == "OUT":
        return True
    words = _words(body).split()
    if not words or len(words) > 8 or "out" not in words:
        return False
    return all(w == "out" or w in _STILL_OUT_FILLER for w in words)


class Keyword(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def _normalise(body: str) -> str:
    return body.strip().strip(".!").strip().upper()


def _words(body: str) -> str:
    """Lowercase words only: NFKC, apostrophes dropped ("don't" -> "dont"), other punctuation
    as spaces, "opt out" / "opt-out" / "opt me out" as "optout", "stop all" as "stop"."""
    text = unicodedata.normalize("NFKC", body).lower()
    text = re.sub(r"['\u2018\u2019\u02bc`]", "", text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    text = re.sub(r"\bopt\s+(?:me\s+)?out\b", "optout", text)
    return " ".join(text.split())


def _only(words: str, keywords: frozenset[str]) -> bool:
    """The text is one or more of `keywords`, with nothing but politeness around them."""
    tokens = words.split()
    return any(t in keywords for t in tokens) and all(t in keywords or t in _FILLER for t in tokens)


def classify(body: str, *, opted_out: bool) -> Keyword | None:
    """The keyword a text is, or None for an ordinary message.

    "YES" opts in only when the number is currently opted out; otherwise it is an answer.
    """
    word = _normalise(unicodedata.normalize("NFKC", body))
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (opted_out and word in CONDITIONAL_OPT_IN_WORDS):
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    words = _words(body)
    if not words or len(words) > 200:
        return None
    if _only(words, _OUT_WORDS) or any(p.search(words) for p in _OPT_OUT_PHRASES):
        return Keyword.OPT_OUT
    if opted_out and (_only(words, _IN_WORDS) or any(p.search(words) for p in _OPT_IN_PHRASES)):
        return Keyword.OPT_IN
    return None
