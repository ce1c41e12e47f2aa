"""Member turns through the durable queue (bot.gateway.queue_worker), in the gateway's process.

What a member notices: the webhook answers at once; ten quick texts are answered in order, one
turn at a time, even with two gateway copies taking turns from the same database; a turn that
waits too long gets one courtesy message; the assistant being down is apologised for only after
a while, and the message is answered when it is back ("Sorry for the wait: ...").
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import PROJECT_ROOT
from bot.gateway.app import create_app
from bot.gateway.conversations import ConversationStore, PendingTurn
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.simulate import twiml_bodies
from bot.gateway.state import GatewayOptions
from bot.store.models import ConversationMessage, QueueJob, TurnRequest
from gateway.helpers import FakeRasa, Texter, eventually, gateway_settings, outbox_after, rows

OPTIONS = GatewayOptions(hello_timeout_seconds=5.0)


@dataclass
class CountingRasa(FakeRasa):
    """A FakeRasa that also counts the turns it is answering at the same moment."""

    inflight: int = 0
    most: int = 0

    async def webhook(self, request: web.Request) -> web.Response:
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        try:
            return await super().webhook(request)
        finally:
            self.inflight -= 1


async def serve(aiohttp_server: Any, fake: FakeRasa) -> FakeRasa:
    app = web.Application()
    app.router.add_post(CHANNEL_PATH, fake.webhook)
    app.router.add_get("/", fake.root)
    fake.server = await aiohttp_server(app)
    return fake


async def settled(texter: Texter, sids: list[str], timeout: float = 30.0) -> None:
    await asyncio.gather(*(texter.wait_for_turn(s, timeout) for s in sids))


async def test_the_webhook_acks_without_waiting_for_rasa(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path, db
):
    fake = await serve(aiohttp_server, FakeRasa(delay=3.0))
    settings = gateway_settings(sqlite_url, fake, tmp_path)
    client = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(client, settings)
    form = texter.form("is my power out")
    started = time.monotonic()
    resp = await texter.post("/sms/twilio", form)
    acked = time.monotonic() - started
    assert resp.status == 200 and twiml_bodies(await resp.text()) == []
    assert acked < 1.0, acked  # Rasa takes 3 s; Twilio hears back at once
    [turn] = await rows(db, TurnRequest)
    assert turn.key == f"sms:{form['MessageSid']}"  # durable before the ack
    await settled(texter, [form["MessageSid"]])
    assert await outbox_after(sqlite_url, 0, "+17065550101") == ["You said: is my power out"]


@pytest.fixture(params=["sql", "redis"])
def engine_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The queue engine: the database, or the local Redis under a random prefix (cleaned)."""
    if request.param == "sql":
        yield {"queue_backend": "sql"}
        return
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    prefix = f"jec-test-{uuid.uuid4().hex[:10]}"
    # The rate limits' windows live under REDIS_PREFIX too: a run's own, or the same test phone
    # run again within ten minutes would be over its text budget.
    yield {
        "queue_backend": "redis",
        "redis_url": url,
        "queue_redis_prefix": prefix,
        "redis_prefix": prefix,
    }
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


async def test_ten_quick_texts_are_answered_in_order_one_turn_at_a_time_across_two_copies(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path, db, engine_settings
):
    fake = await serve(aiohttp_server, CountingRasa(delay=0.05))
    settings = gateway_settings(sqlite_url, fake, tmp_path, max_pending_turns=10, **engine_settings)
    copy_a = await aiohttp_client(create_app(settings, options=OPTIONS))
    copy_b = await aiohttp_client(create_app(settings, options=OPTIONS))
    texters = [Texter(copy_a, settings), Texter(copy_b, settings)]
    sids = []
    for n in range(10):
        texter = texters[n % 2]  # Twilio's webhooks land on either copy
        form = texter.form(f"message {n}", sid=f"SMorder{n:028d}")
        resp = await texter.post("/sms/twilio", form)
        assert resp.status == 200
        sids.append(form["MessageSid"])
    await settled(texters[0], sids)
    said = [f"message {n}" for n in range(10)]
    assert fake.messages == said  # Rasa heard them in order
    assert fake.most == 1  # never two turns of one conversation at once
    assert await outbox_after(sqlite_url, 0, "+17065550101") == [f"You said: {m}" for m in said]
    replies = await rows(
        db,
        ConversationMessage,
        ConversationMessage.sender == "bot",
        order_by=ConversationMessage.seq,
    )
    assert [r.text for r in replies] == [f"You said: {m}" for m in said]

    if engine_settings["queue_backend"] == "sql":

        async def all_done() -> bool:  # the other messages' jobs find nothing left to do
            jobs = await rows(db, QueueJob, QueueJob.kind == "turn")
            return {j.status for j in jobs} == {"done"}

        assert await eventually(all_done, timeout=10)


def _profile_with_courtesy_after(tmp_path: Path, seconds: int) -> Path:
    text = (PROJECT_ROOT / "profiles" / "jec.yml").read_text(encoding="utf-8")
    text = text.replace("courtesy_after_seconds: 15", f"courtesy_after_seconds: {seconds}")
    path = tmp_path / "profile.yml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_member_kept_waiting_gets_one_courtesy_message_per_busy_period(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path
):
    fake = await serve(aiohttp_server, FakeRasa(delay=2.5))
    settings = gateway_settings(
        sqlite_url, fake, tmp_path, coop_profile=_profile_with_courtesy_after(tmp_path, 1)
    )
    client = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(client, settings)
    first, second = texter.form("outage on Main St"), texter.form("any news?")
    for form in (first, second):
        assert (await texter.post("/sms/twilio", form)).status == 200
    await settled(texter, [first["MessageSid"], second["MessageSid"]])
    texts = await outbox_after(sqlite_url, 0, "+17065550101")
    courtesy = (
        "We're getting a lot of messages right now. You're in line and I'll answer shortly. "
        "For a downed line or an emergency call 911, then 1-800-262-5131."
    )
    assert texts.count(courtesy) == 1, texts
    assert texts.index(courtesy) < texts.index("You said: outage on Main St")
    assert [t for t in texts if t != courtesy] == [
        "You said: outage on Main St",
        "You said: any news?",
    ]


async def test_rasa_down_is_apologised_for_only_after_a_while_and_then_answered(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path
):
    fake = await serve(aiohttp_server, FakeRasa(fail=True))
    settings = gateway_settings(sqlite_url, fake, tmp_path, assistant_down_apology_seconds=2.5)
    client = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(client, settings)
    form = texter.form("my lights are out")
    assert (await texter.post("/sms/twilio", form)).status == 200
    await asyncio.sleep(1.5)
    assert len(fake.calls) >= 2  # retried with backoff
    assert await outbox_after(sqlite_url, 0, "+17065550101") == []  # no apology yet
    for _ in range(100):
        if await outbox_after(sqlite_url, 0, "+17065550101"):
            break
        await asyncio.sleep(0.1)
    [apology] = await outbox_after(sqlite_url, 0, "+17065550101")
    assert apology.startswith("Sorry, I'm having trouble right now.")
    fake.fail = False  # the assistant is back: the message was kept and is answered
    await settled(texter, [form["MessageSid"]], timeout=30)
    texts = await outbox_after(sqlite_url, 0, "+17065550101")
    assert texts == [apology, "Sorry for the wait: You said: my lights are out"]


async def test_a_retried_turn_never_stores_a_second_answer(session_factory):
    from datetime import UTC, datetime

    store = ConversationStore(session_factory, lambda: datetime(2026, 12, 2, tzinfo=UTC))
    conv = await store.get_or_create("web", "web-retry")
    from bot.gateway.conversations import TurnSpec

    message, _ = await store.append(
        conv.id,
        direction="in",
        sender="member",
        text="hello",
        turn=TurnSpec(key="web:web-retry:c1", metadata={"channel": "web"}),
    )
    [turn] = await store.pending_turns(conv.id)
    assert isinstance(turn, PendingTurn) and turn.seq == message.seq
    first = await store.finish_turn(turn, "bot", [{"text": "Hi!"}], None, set_buttons=False)
    again = await store.finish_turn(turn, "bot", [{"text": "Hi!"}], None, set_buttons=False)
    assert first is not None and [m.text for m in first] == ["Hi!"]
    assert again is None  # the worker that crashed after Rasa answered: nothing stored twice
    assert [m.text for m in await store.messages_after(conv.id, 0)] == ["hello", "Hi!"]


async def test_a_gateway_without_workers_leaves_turns_to_a_worker_process(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path
):
    """QUEUE_WORKERS_IN_GATEWAY=false plus `jecbot worker` (the same container, no HTTP)."""
    from bot.gateway.worker_main import print_jobs

    fake = await serve(aiohttp_server, FakeRasa())
    settings = gateway_settings(sqlite_url, fake, tmp_path, queue_workers_in_gateway=False)
    gateway = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(gateway, settings)
    form = texter.form("balance please")
    assert (await texter.post("/sms/twilio", form)).status == 200
    await asyncio.sleep(1.0)
    assert fake.calls == []  # stored and queued, nobody here runs it
    out = __import__("io").StringIO()
    await asyncio.to_thread(print_jobs, settings, out)
    assert "queued 1" in out.getvalue() and "waiting for the assistant: 1" in out.getvalue()
    runner = web.AppRunner(create_app(settings, run_workers=True))  # what `jecbot worker` runs
    await runner.setup()
    try:
        await settled(texter, [form["MessageSid"]])
    finally:
        await runner.cleanup()
    assert await outbox_after(sqlite_url, 0, "+17065550101") == ["You said: balance please"]


async def test_each_periodic_occurrence_runs_once_across_two_copies(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path, db
):
    from datetime import UTC, datetime

    from bot.gateway.state import GATEWAY
    from bot.worker.base import PeriodicTask

    fake = await serve(aiohttp_server, FakeRasa())
    settings = gateway_settings(sqlite_url, fake, tmp_path)
    copies = [await aiohttp_client(create_app(settings, options=OPTIONS)) for _ in range(2)]
    runs: list[str] = []

    async def job(ctx: Any) -> int:
        runs.append(ctx.settings.database_url)
        return 1

    task = PeriodicTask("restore-texts", 3600.0, job)
    workers = [c.app[GATEWAY].workers for c in copies]
    for w in workers:
        assert w is not None
        w.periodic = {task.name: task}
    at = datetime.now(UTC)  # (the copies' own ticks run too, in the same hour's slot)
    for w in workers:  # both copies tick in the same slot, twice each
        await w.tick(at)
        await w.tick(at)

    async def ran() -> bool:
        return len(runs) >= 1

    assert await eventually(ran)
    await asyncio.sleep(1.0)
    assert len(runs) == 1
    # (the registry's own periodic jobs may have run at start-up too: look at this task's rows)
    [row] = await rows(
        db, QueueJob, QueueJob.kind == "periodic", QueueJob.key.like("periodic:restore-texts:%")
    )
    assert row.key == f"periodic:restore-texts:{int(at.timestamp() // 3600)}"
    assert row.status == "done"


async def test_a_waiting_message_gets_one_recovery_job_however_many_passes_run(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path, db
):
    """In a storm every member waits minutes; each recovery pass (every RECOVER_SECONDS) used to
    queue one more job per waiting member, thousands of extra claims while members waited."""
    from datetime import UTC, datetime, timedelta

    from bot.gateway.queue_worker import RECOVER_SECONDS
    from bot.gateway.state import GATEWAY

    fake = await serve(aiohttp_server, FakeRasa())
    settings = gateway_settings(sqlite_url, fake, tmp_path, queue_workers_in_gateway=False)
    client = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(client, settings)
    for body in ("is my power out", "and when will it be back"):
        assert (await texter.post("/sms/twilio", texter.form(body))).status == 200
    workers = client.app[GATEWAY].workers
    start = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    for passes in range(4):  # two minutes of a backlog nobody is draining
        await workers.recover(start + timedelta(seconds=passes * RECOVER_SECONDS))
    keys = [j.key for j in await rows(db, QueueJob) if j.key.startswith("recover:")]
    assert len(keys) == 1, keys


@pytest.mark.slow
async def test_a_text_waits_out_a_long_held_write_lock_instead_of_failing(
    aiohttp_server, aiohttp_client, sqlite_url, tmp_path, db
):
    """In a storm SQLite's one write lock can be taken by others for more than ten seconds
    before a webhook's turn comes; it answered Twilio 500 and the member's text was lost."""
    import sqlite3
    import threading

    fake = await serve(aiohttp_server, FakeRasa())
    settings = gateway_settings(sqlite_url, fake, tmp_path)
    client = await aiohttp_client(create_app(settings, options=OPTIONS))
    texter = Texter(client, settings)
    holder = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a busy moment holds it
    release = threading.Timer(12.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        form = texter.form("is my power out")
        resp = await texter.post("/sms/twilio", form)
    finally:
        release.join()
        holder.close()
    assert resp.status == 200
    [turn] = await rows(db, TurnRequest)
    assert turn.key == f"sms:{form['MessageSid']}"  # stored, so it is answered
