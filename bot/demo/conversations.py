"""Closed demo conversations, so the console's insights page and search are not empty.

Deterministic for one (seed, now): `count` conversations over the last 14 days, web and SMS,
most answered by the assistant, some falling back once, some handed to a person (ended, with a
survey answer most of the time), and a few outage reports by town. Member wording is made up and
never holds an account number. Rows are written with SQLAlchemy Core in the caller's transaction.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from bot.store.models import Conversation, ConversationMessage, HandoffRequest, OutageReport

FALLBACK_REPLY = (
    "Sorry, I didn't quite get that. Could you say it another way? Type help to see what I can do."
)
# (topic, what the member says, what the assistant answers, the intent Rasa gave the message)
SCENARIOS = (
    (
        "check balance",
        "what do I owe",
        "Your balance is $142.87, due December 15.",
        "check_balance",
    ),
    (
        "pay bill",
        "I want to pay my bill",
        "Your payment of $98.10 is done. Confirmation P-20431.",
        "pay_bill",
    ),
    (
        "report outage",
        "my power is out",
        "Thanks, I've reported it: reference R-1042.",
        "report_outage",
    ),
    (
        "office hours",
        "when are you open",
        "Our offices are open Monday to Friday, 8 AM to 5 PM.",
        "ask_office_hours",
    ),
    (
        "usage",
        "why is my usage so high",
        "You used 1,020 kWh this month, 18% more than last.",
        "usage_question",
    ),
    (
        "bank draft",
        "set up automatic payments",
        "Your bank draft starts on the 5th.",
        "setup_draft",
    ),
    ("high bill", "my bill doubled", "I can connect you with member services.", "talk_to_human"),
)
MISSED = (
    "can I get a tree trimmed near my line",
    "do you sell solar panels",
    "my neighbor's dog chewed the meter wire",
    "is there a senior discount",
    "what's the capital credits check",
)
TOWNS = ("Louisville", "Wrens", "Wadley", "Stapleton", "Bartow")
NAMES = ("Maria", "Tom")


def add_demo_conversations(conn: Connection, now: datetime, count: int, seed: int) -> int:
    """Write `count` closed conversations (and their handoffs and outage reports); none when
    demo conversations are already there (a second `jecbot demo-data` adds members only)."""
    already = conn.execute(
        select(func.count()).select_from(Conversation).where(Conversation.id.like("demo-%"))
    ).scalar_one()
    if already:
        return 0
    rng = random.Random(f"conversations-{seed}")
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for i in range(count):
        channel = "sms" if rng.random() < 0.3 else "web"
        start = now - timedelta(
            days=rng.randrange(0, 14), hours=rng.randrange(0, 9), minutes=rng.randrange(60)
        )
        conv_id = f"demo-{channel}-{i:03d}"
        # 555-01xx (fictional) in an area code the demo never gives a member
        external = f"+1803555{100 + i:04d}" if channel == "sms" else conv_id
        topic, said, answer, intent = SCENARIOS[rng.randrange(len(SCENARIOS))]
        seq = 0
        at = start

        def message(
            sender: str, text: str, direction: str, nlu: str | None = None, conv_id: str = conv_id
        ) -> None:
            nonlocal seq, at
            seq += 1
            at = at + timedelta(seconds=rng.randrange(5, 60))
            messages.append(
                {
                    "conversation_id": conv_id,
                    "seq": seq,
                    "direction": direction,
                    "sender": sender,
                    "text": text,
                    # a bot reply keeps the intent of the message it answers (insights' top intents)
                    "payload": {"nlu": {"intent": nlu, "confidence": 0.93}} if nlu else {},
                    "created_at": at,
                    "delivered_at": at,
                }
            )

        if rng.random() < 0.15:
            message("member", MISSED[rng.randrange(len(MISSED))], "in")
            message("bot", FALLBACK_REPLY, "out", "nlu_fallback")
        message("member", said, "in")
        message("bot", answer, "out", intent)
        if topic == "report outage":
            reports.append(
                {
                    "reference": f"R-D{i:04d}",
                    "address": f"{100 + i} Main St",
                    "town": TOWNS[rng.randrange(len(TOWNS))],
                    "channel": channel,
                    "conversation_id": conv_id,
                    "created_at": at,
                }
            )
        if topic == "high bill" or rng.random() < 0.08:
            created = at
            assigned = created + timedelta(minutes=rng.randrange(1, 9))
            name = NAMES[rng.randrange(len(NAMES))]
            message("member", "can I talk to a person", "in")
            message("system", f"{name} from member services has joined the chat.", "out")
            message("agent", "Hi, I can see your account. Let me look into it.", "out")
            message(
                "system", "How did we do? Reply with a number from 1 (poor) to 5 (great).", "out"
            )
            answered = rng.random() < 0.75
            score = rng.choice((3, 4, 4, 5, 5, 5, 2)) if answered else None
            if answered:
                message("member", str(score), "in")
            handoffs.append(
                {
                    "conversation_id": conv_id,
                    "channel": channel,
                    "status": "ended",
                    "topic": topic,
                    "summary": f'"{said}"',
                    "verified_tier": "verified",
                    "verified_how": "account number + ZIP",
                    "created_at": created,
                    "assigned_at": assigned,
                    "ended_at": assigned + timedelta(minutes=rng.randrange(3, 15)),
                    "survey_asked_at": assigned,
                    "survey_score": score,
                    "survey_answered_at": at if answered else None,
                }
            )
        conversations.append(
            {
                "id": conv_id,
                "channel": channel,
                "external_id": external,
                "mode": "bot",
                "next_seq": seq,
                "created_at": start,
                "last_activity_at": at,
            }
        )
    if conversations:
        conn.execute(insert(Conversation.__table__), conversations)
        conn.execute(insert(ConversationMessage.__table__), messages)
    if handoffs:
        conn.execute(insert(HandoffRequest.__table__), handoffs)
    if reports:
        conn.execute(insert(OutageReport.__table__), reports)
    return len(conversations)
