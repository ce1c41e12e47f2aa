"""`jecbot create-agent`: an admin adds a member-service agent who can sign in to the console.

The password is hashed with argon2 (`bot.gateway.console.auth.hash_password`) and never stored or
printed in clear. Run from the command line, so it uses the sync engine.
"""

from __future__ import annotations

import getpass

from sqlalchemy import select

from bot.config import Settings
from bot.gateway.console.auth import hash_password
from bot.store.db import make_sync_engine, sync_session_factory, sync_session_scope
from bot.store.models import Agent
from bot.store.types import utcnow

MIN_PASSWORD_LENGTH = 12


class AgentError(ValueError):
    """The agent cannot be created as asked (the message says why)."""


def _prompt_password() -> str:
    first = getpass.getpass("Password for the new agent: ")
    if first != getpass.getpass("Again: "):
        raise AgentError("The two passwords don't match.")
    return first


def create_agent(
    settings: Settings,
    username: str,
    display_name: str,
    password: str | None = None,
    admin: bool = False,
) -> int:
    """Create an agent and return its id; prompts for the password when it is None."""
    username = username.strip().lower()
    if (
        not username
        or len(username) > 80
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise AgentError("A username is letters, digits, dots, dashes or underscores (at most 80).")
    if not display_name.strip():
        raise AgentError("A display name is needed (members see the first name).")
    if password is None:
        password = _prompt_password()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AgentError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    engine = make_sync_engine(settings.database_url)
    try:
        with sync_session_scope(sync_session_factory(engine)) as session:
            if session.execute(select(Agent.id).where(Agent.username == username)).first():
                raise AgentError(f"An agent called {username!r} already exists.")
            agent = Agent(
                username=username,
                display_name=display_name.strip()[:120],
                password_hash=hash_password(password),
                is_admin=admin,
                presence="offline",
                created_at=utcnow(),
            )
            session.add(agent)
            session.flush()
            return agent.id
    finally:
        engine.dispose()
