"""The gateway benchmark's pure parts and its counting (no servers; `make bench` and
`make bench-storm` are run by hand and assert nothing about speed).

The storm's counts come from what the gateway stored, read with the real schema: these tests
write the rows a storm leaves (answers held in the webhook, answers texted later through the
outbox, the courtesy message, the apology, nothing at all) and check what the bench reports.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench import gateway_load as gl
from bench.gateway_run import summary
from bot.store.models import Base

COURTESY_TEXT = (
    "We're getting a lot of messages right now. You're in line and I'll answer shortly. For a "
    "downed line or an emergency call 911, then 1-800-262-5131."
)
APOLOGY_TEXT = (
    "Sorry, I'm having trouble right now. Please try again in a few minutes. For outages call "
    "1-800-262-5131 any time."
)


def test_messages_are_classified_by_their_wording() -> None:
    assert gl.classify(COURTESY_TEXT) == gl.COURTESY
    assert gl.classify(APOLOGY_TEXT) == gl.APOLOGY
    assert gl.classify("Sorry for the wait: Wrens has an outage, crews are on it.") == gl.ANSWER
    assert gl.classify("We're open 8 AM to 5 PM, Monday to Friday.") == gl.ANSWER
    assert (
        gl.classify("You're sending messages faster than I can answer them. Please wait a moment.")
        == gl.SLOW_DOWN
    )


def test_arrivals_are_an_open_loop_poisson_process_at_the_offered_rate() -> None:
    offsets = gl.arrivals(20.0, 4000, seed=1)
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert offsets[0] == 0.0 and all(g >= 0 for g in gaps)
    assert statistics.mean(gaps) == pytest.approx(1 / 20.0, rel=0.05)
    # Exponential gaps: about as spread as they are long (a fixed clock would have stdev 0).
    assert statistics.pstdev(gaps) == pytest.approx(1 / 20.0, rel=0.1)
    assert gl.arrivals(5.0, 10, seed=3) == gl.arrivals(5.0, 10, seed=3)


def test_texters_have_distinct_numbers_and_the_storm_mix_has_every_kind() -> None:
    numbers = {gl.phone_number(i) for i in range(20_000)}
    assert len(numbers) == 20_000 and all(len(n) == 12 for n in numbers)
    texts = [gl.pick(gl.STORM_MIX, i) for i in range(400)]
    assert {t for t, _ in gl.STORM_MIX} == set(texts)
    assert any("line down" in t for t in texts)  # an outage with a hazard


def test_a_summary_counts_the_unanswered_and_gives_percentiles() -> None:
    row = summary([10.0, 20.0, 30.0, 40.0], offered=5, wall_s=2.0)
    assert (row["answered"], row["unanswered"], row["p50_ms"]) == (4, 1, 25.0)
    assert summary([], offered=3, wall_s=1.0)["p99_ms"] is None
    # An apology is neither an answer nor silence: counted apart, not in the percentiles.
    sorry = summary([10.0], offered=4, wall_s=1.0, apologies=2)
    assert (sorry["answered"], sorry["apologies"], sorry["unanswered"]) == (1, 2, 1)


def test_answers_are_read_per_member_from_stored_messages_and_the_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jec.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    rows = {
        "+14785500001": [("bot", "Wrens: power is out for 212 members.")],  # held in the webhook
        "+14785500002": [("system", COURTESY_TEXT), ("bot", "Sorry for the wait: we're open 8-5")],
        "+14785500003": [("system", APOLOGY_TEXT)],
        "+14785500004": [],  # nothing yet
        "+14785500005": [],  # answered later through the outbox only
    }
    with engine.begin() as conn:
        for n, (phone, messages) in enumerate(rows.items()):
            conn.execute(
                text(
                    "insert into conversations (id, channel, external_id, mode, next_seq, "
                    "created_at, last_activity_at) values (:id, 'sms', :p, 'bot', 9, "
                    "'2026-12-01', '2026-12-01')"
                ),
                {"id": f"sms-{n}", "p": phone},
            )
            conn.execute(
                text(
                    "insert into messages (conversation_id, seq, direction, sender, text, "
                    "payload, created_at) values (:c, 0, 'in', 'member', 'power out?', '{}', "
                    "'2026-12-01')"
                ),
                {"c": f"sms-{n}"},
            )
            for seq, (sender, body) in enumerate(messages, start=1):
                conn.execute(
                    text(
                        "insert into messages (conversation_id, seq, direction, sender, text, "
                        "payload, created_at) values (:c, :s, 'out', :who, :t, '{}', "
                        "'2026-12-01')"
                    ),
                    {"c": f"sms-{n}", "s": seq, "who": sender, "t": body},
                )
        conn.execute(
            text(
                'insert into outbox (channel, "to", body, status, created_at, retryable, '
                "attempts) values ('sms', '+14785500005', 'Louisville has no reported outage.', "
                "'outbox', '2026-12-01', false, 0)"
            )
        )
    engine.dispose()
    book = gl.AnswerBook(url)
    try:
        found = asyncio.run(book.read(list(rows)))
        asyncio.run(book.watch(list(rows), until=time.perf_counter() + 0.3, every=0.1))
    finally:
        book.close()
    kinds = {p: [gl.classify(b) for b in bodies] for p, bodies in found.items()}
    assert kinds == {
        "+14785500001": [gl.ANSWER],
        "+14785500002": [gl.COURTESY, gl.ANSWER],
        "+14785500003": [gl.APOLOGY],
        "+14785500004": [],
        "+14785500005": [gl.ANSWER],
    }
    assert set(book.first_answer) == {"+14785500001", "+14785500002", "+14785500005"}
