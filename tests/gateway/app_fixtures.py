"""`gw` and `router`: the gateway state and the handoff router of the app behind a directory's
`client` fixture (tests/gateway/agents and tests/security/live_gateway define `client`).

A plugin of the top tests/conftest.py (`pytest_plugins`), so a directory's own fixtures of
these names win."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.gateway.handoff import HANDOFF, HandoffRouter
from bot.gateway.state import GATEWAY, Gateway


@pytest.fixture
def gw(client: TestClient) -> Gateway:
    return client.app[GATEWAY]


@pytest.fixture
def router(client: TestClient) -> HandoffRouter:
    return client.app[HANDOFF]
