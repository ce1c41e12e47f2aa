"""`jecbot create-agent` and `jecbot agents ...`: an admin manages the console's agents.

The password is hashed with argon2 (`bot.gateway.console.auth.hash_password`) and never stored or
printed in clear. A password change or disabling an agent revokes every session the agent has
(`console_sessions`), so a copied cookie stops working at once. `enrol-totp` gives the agent a
second factor (an authenticator app). Run from the command line, so it uses the sync engine.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.gateway.console.auth import hash_password, new_totp_secret, totp_uri
from bot.store.db import make_sync_engine, sync_session_factory, sync_session_scope
from bot.store.models import Agent, AuditEntry, ConsoleSessionRow
from bot.store.types import utcnow

MIN_PASSWORD_LENGTH = 12
ROLES = ("agent", "supervisor", "admin")


class AgentError(ValueError):
    """The agent cannot be created as asked (the message says why)."""


def _prompt_password(prompt: str = "Password for the new agent: ") -> str:
    first = getpass.getpass(prompt)
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
                role="admin" if admin else "agent",
                presence="offline",
                created_at=utcnow(),
            )
            session.add(agent)
            session.flush()
            return agent.id
    finally:
        engine.dispose()


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_sync_engine(settings.database_url)
    try:
        with sync_session_scope(sync_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _agent(session: Session, username: str) -> Agent:
    agent = session.execute(
        select(Agent).where(Agent.username == username.strip().lower())
    ).scalar_one_or_none()
    if agent is None:
        raise AgentError(f"There is no agent called {username!r}.")
    return agent


def _revoke_sessions(session: Session, agent_id: int, reason: str) -> int:
    result = session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.agent_id == agent_id, ConsoleSessionRow.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(result.rowcount or 0)


def audit_agent_change(
    session: Session,
    actor: str,
    action: str,
    agent: Agent,
    details: dict[str, object] | None = None,
) -> None:
    """An audit entry for a change to an agent (never a password)."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            channel="console",
            details={"agent": agent.username, **(details or {})},
        )
    )


def set_role(settings: Settings, username: str, role: str, actor: str = "cli") -> str:
    """agent | supervisor | admin; returns the previous role. Their sessions end (new rights)."""
    if role not in ROLES:
        raise AgentError(f"A role is one of {', '.join(ROLES)}.")
    with _session(settings) as session:
        agent = _agent(session, username)
        before = agent.role
        agent.role, agent.is_admin = role, role == "admin"
        _revoke_sessions(session, agent.id, "role_changed")
        audit_agent_change(
            session, actor, "agents.role_changed", agent, {"from": before, "to": role}
        )
        return before


def set_password(settings: Settings, username: str, password: str | None = None) -> int:
    """Give the agent a new password and end their sessions; returns how many were ended."""
    if password is None:
        password = _prompt_password("New password: ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AgentError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    with _session(settings) as session:
        agent = _agent(session, username)
        agent.password_hash = hash_password(password)
        audit_agent_change(session, "cli", "agents.password_reset", agent)
        return _revoke_sessions(session, agent.id, "password_changed")


def disable_agent(settings: Settings, username: str) -> int:
    """Stop the agent signing in and end their sessions; returns how many were ended."""
    with _session(settings) as session:
        agent = _agent(session, username)
        agent.disabled_at = agent.disabled_at or utcnow()
        agent.presence = "offline"
        audit_agent_change(session, "cli", "agents.disabled", agent)
        return _revoke_sessions(session, agent.id, "agent_disabled")


def enable_agent(settings: Settings, username: str) -> None:
    with _session(settings) as session:
        agent = _agent(session, username)
        agent.disabled_at = None
        audit_agent_change(session, "cli", "agents.enabled", agent)


def enrol_totp(settings: Settings, username: str, issuer: str = "JEC console") -> str:
    """Give the agent a new TOTP secret (replacing any earlier one, ending their sessions) and
    return the otpauth:// URI to load into their authenticator app."""
    secret = new_totp_secret()
    with _session(settings) as session:
        agent = _agent(session, username)
        agent.totp_secret = secret
        agent.totp_last_step = None
        _revoke_sessions(session, agent.id, "totp_enrolled")
        return totp_uri(secret, agent.username, issuer)


def _role(agent: Agent) -> str:
    return "admin" if agent.is_admin else (agent.role or "agent")


def list_agents(settings: Settings) -> list[str]:
    """One line per agent: username, name, role (unless plain agent), disabled, second factor."""
    with _session(settings) as session:
        agents = session.execute(select(Agent).order_by(Agent.username)).scalars().all()
        return [
            "\t".join(
                [a.username, a.display_name]
                + ([_role(a)] if _role(a) != "agent" else [])
                + (["disabled"] if a.disabled_at else [])
                + (["TOTP"] if a.totp_secret else ["no second factor"])
            )
            for a in agents
        ]
