"""The terminal chat: buttons become numbered choices, a number sends the button's payload, and a
stopped assistant gets a friendly message instead of a traceback."""

from __future__ import annotations

import io

import pytest

from bot.chat import ChatState, render, run_chat, to_message
from bot.config import Settings


def test_buttons_are_numbered_and_a_number_picks_the_payload() -> None:
    state = ChatState()
    shown = render(
        [
            {
                "text": "Hi! What can I help with?",
                "buttons": [
                    {"title": "Office hours", "payload": "/ask_office_hours"},
                    {"title": "Outage in my area", "payload": "/outage_status"},
                ],
            },
            {"text": "Call 1-800-262-5131 for outages."},
        ],
        state,
    )

    assert shown == (
        "bot> Hi! What can I help with?\n"
        "     1. Office hours\n"
        "     2. Outage in my area\n"
        "bot> Call 1-800-262-5131 for outages."
    )
    assert to_message("2", state) == "/outage_status"
    assert to_message(" 1 ", state) == "/ask_office_hours"
    assert to_message("3", state) == "3"  # not a choice: sent as typed (a ZIP, an amount...)
    assert to_message("30833", state) == "30833"


def test_the_next_reply_replaces_the_choices() -> None:
    state = ChatState()
    render([{"text": "a", "buttons": [{"title": "A", "payload": "/a"}]}], state)
    render([{"text": "no buttons now"}], state)

    assert to_message("1", state) == "1"


def test_chat_says_how_to_start_the_assistant_when_it_is_not_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unused_tcp_port: int
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hi\n"))
    code = run_chat(
        Settings(rasa_url=f"http://127.0.0.1:{unused_tcp_port}", http_timeout_seconds=2)
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "The assistant isn't answering" in err and "make run" in err
