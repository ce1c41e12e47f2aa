"""Item 8, as the attack: guessing an agent's password, or spraying one password over many
usernames, from a script; and flooding sign-in so argon2 starves everything else."""

from __future__ import annotations

import asyncio
import threading

import pytest
from gateway.agent_helpers import PASSWORD, hidden_csrf

from bot.gateway.console import views
from bot.gateway.console.sessions import HashingPool, PoolBusy


async def _try(client, username: str, password: str) -> tuple[int, str]:
    page = await client.get("/console/login")
    resp = await client.post(
        "/console/login",
        data={"csrf": hidden_csrf(await page.text()), "username": username, "password": password},
        allow_redirects=False,
    )
    return resp.status, await resp.text()


def _alert(html: str) -> str:
    return html.split('role="alert">', 1)[1].split("</p>", 1)[0]


@pytest.fixture
def checks(monkeypatch) -> list[str]:
    """The thread each password check ran on."""
    ran: list[str] = []
    real = views.verify_password

    def counting(password_hash, password):
        ran.append(threading.current_thread().name)
        return real(password_hash, password)

    monkeypatch.setattr(views, "verify_password", counting)
    return ran


async def test_guessing_one_agents_password_is_locked_with_growing_waits(
    client, agents, clock, checks
):
    for guess in range(5):
        assert (await _try(client, "maria", f"guess number {guess}"))[0] == 401
    status, html = await _try(client, "maria", PASSWORD)  # even the right one, while locked
    assert status == 429 and "Too many sign-in attempts" in html and "1 minute" in html
    assert len(checks) == 5  # no password is checked while locked
    clock.advance(minutes=1, seconds=1)
    for guess in range(5):
        assert (await _try(client, "maria", f"second round {guess}"))[0] == 401
    status, html = await _try(client, "maria", PASSWORD)
    assert status == 429 and "2 minutes" in html  # the next lock is twice as long
    clock.advance(minutes=2, seconds=1)
    assert (await _try(client, "maria", PASSWORD))[0] == 303


async def test_one_address_spraying_a_password_over_many_usernames_is_locked(
    client, agents, clock, checks
):
    for n in range(20):
        assert (await _try(client, f"agent{n}", "Summer2026!!"))[0] == 401
    status, html = await _try(client, "maria", PASSWORD)
    assert status == 429 and "5 minutes" in html
    assert len(checks) == 20


async def test_a_locked_username_reads_the_same_whether_or_not_it_exists(client, agents):
    for guess in range(5):
        await _try(client, "maria", f"guess {guess}")
        await _try(client, "nobody", f"guess {guess}")
    known = await _try(client, "maria", "again")
    unknown = await _try(client, "nobody", "again")
    assert known[0] == unknown[0] == 429
    assert _alert(known[1]) == _alert(unknown[1])


async def test_password_checks_run_in_their_own_small_pool(client, agents, checks):
    await asyncio.gather(*(_try(client, "maria", f"wrong {n}") for n in range(4)))
    assert checks and all(name.startswith("argon2") for name in checks)


async def test_the_pool_refuses_work_beyond_its_bound_instead_of_queueing_forever():
    pool = HashingPool(workers=2, max_waiting=3)
    release = threading.Event()
    running = [asyncio.create_task(pool.run(release.wait, 5)) for _ in range(5)]
    await asyncio.sleep(0.05)
    with pytest.raises(PoolBusy):
        await pool.run(lambda: True)
    release.set()
    assert all(await asyncio.gather(*running))
    assert await pool.run(lambda: True)
    pool.close()
