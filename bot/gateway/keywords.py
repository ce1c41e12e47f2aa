"""SMS keywords (CTIA): opt-out, opt-in and HELP, recognised only when sent alone."""

from __future__ import annotations

from enum import Enum

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
CONDITIONAL_OPT_IN_WORDS = frozenset({"YES"})  # "yes" is also a normal answer mid-conversation
HELP_WORDS = frozenset({"HELP", "INFO"})


class Keyword(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def _normalise(body: str) -> str:
    return body.strip().strip(".!").strip().upper()


def classify(body: str, *, opted_out: bool) -> Keyword | None:
    """The keyword a text is, or None for an ordinary message.

    "YES" opts in only when the number is currently opted out; otherwise it is an answer.
    """
    word = _normalise(body)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (opted_out and word in CONDITIONAL_OPT_IN_WORDS):
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    return None
