"""The `jecbot` command: one entry point for IT staff and developers.

Each subcommand is a thin wrapper; the work lives in the module named beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, check_secrets, load_settings


def _cmd_init_db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.migrate import upgrade

    upgrade(settings.database_url)
    print(f"Database is at the latest schema: {settings.database_url}")
    return 0


def _cmd_demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import generate_demo_data

    report = generate_demo_data(
        settings.database_url,
        members=args.members,
        seed=args.seed,
        only_if_empty=args.if_empty,
        usage_days=args.usage_days,
        conversations=args.conversations,
    )
    print(report)
    return 0


def _cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.importer import import_files

    result = import_files(settings.database_url, [Path(p) for p in args.files])
    print(result.summary())
    return 0 if result.ok else 1


def _cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.outbox import print_outbox

    print_outbox(settings.database_url, limit=args.limit, to=args.to)
    return 0


def _cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.chat import run_chat

    return run_chat(settings, sender=args.sender)


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run_all

    return run_all(settings)


def _cmd_sms(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.simulate import simulate_sms

    return simulate_sms(settings, args.from_number, " ".join(args.body))


def _cmd_create_agent(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.agents_cli import AgentError, create_agent

    try:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
        agent_id = create_agent(settings, args.username, args.display_name, password, args.admin)
    except AgentError as exc:
        print(f"Could not create the agent: {exc}", file=sys.stderr)
        return 1
    print(
        f"Created agent {args.username!r} (id {agent_id}); they can sign in at "
        f"{settings.public_base_url}/console"
    )
    return 0


def _cmd_agents(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway import agents_cli

    try:
        if args.action == "list":
            print("\n".join(agents_cli.list_agents(settings)) or "No agents yet.")
        elif args.action == "set-password":
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
            ended = agents_cli.set_password(settings, args.username, password)
            print(f"Password changed for {args.username!r}; {ended} session(s) ended.")
        elif args.action == "disable":
            ended = agents_cli.disable_agent(settings, args.username)
            print(f"Agent {args.username!r} disabled; {ended} session(s) ended.")
        elif args.action == "enable":
            agents_cli.enable_agent(settings, args.username)
            print(f"Agent {args.username!r} may sign in again.")
        elif args.action == "set-role":
            before = agents_cli.set_role(settings, args.username, args.role)
            print(f"Agent {args.username!r} is now {args.role} (was {before}).")
        else:  # enrol-totp
            uri = agents_cli.enrol_totp(settings, args.username)
            print("Add this to the agent's authenticator app (as a QR code or typed):")
            print(uri)
    except agents_cli.AgentError as exc:
        print(f"Could not do that: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.worker_main import run_worker

    return run_worker(settings)


def _cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.gateway.worker_main import print_jobs

    return print_jobs(settings)


def _cmd_check_profile(settings: Settings, args: argparse.Namespace) -> int:
    from bot.profile import load_profile

    profile = load_profile(settings.coop_profile)
    print(f"{settings.coop_profile}: OK ({profile.coop.name})")
    return 0


def _backup_or_refusal(what: str, work: Callable[[], Any], done: str) -> int:
    """Run a backup or a restore: 0 and `done` (with the report's summary), or 1 and why the
    work was refused."""
    from bot.ops.backup import BackupError

    try:
        report = work()
    except BackupError as exc:
        print(f"{what} refused: {exc}", file=sys.stderr)
        return 1
    print(done.format(summary=report.summary()))
    return 0


def _cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.clock import clock_from_env
    from bot.ops.backup import backup

    return _backup_or_refusal(
        "Backup",
        lambda: backup(
            settings.database_url, settings.rasa_tracker_url, Path(args.path), clock_from_env()()
        ),
        "Backed up to {summary}",
    )


def _cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.clock import clock_from_env
    from bot.ops.backup import restore

    return _backup_or_refusal(
        "Restore",
        lambda: restore(
            settings.database_url,
            settings.rasa_tracker_url,
            Path(args.path),
            clock_from_env()(),
            force=args.force,
        ),
        "Restored from {summary}; run `jecbot init-db` if the code is newer",
    )


def _cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.clock import clock_from_env
    from bot.ops.retention import run_retention
    from bot.profile import load_profile

    report = run_retention(
        settings.database_url,
        settings.rasa_tracker_url,
        load_profile(settings.coop_profile),
        clock_from_env()(),
        dry_run=args.dry_run,
    )
    print(report.summary())
    return 0


def _cmd_member(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.core.clock import clock_from_env
    from bot.ops.member import MemberNotFound, erase_member, export_member

    try:
        if args.action == "export":
            data = export_member(settings.database_url, settings.rasa_tracker_url, args.account)
            out = json.dumps(data, indent=2, default=str)
            if args.output:
                Path(args.output).write_text(out + "\n", encoding="utf-8")
                print(f"Wrote {args.output}")
            else:
                print(out)
            return 0
        if not args.yes:
            print("Erasing cannot be undone: run again with --yes to go ahead.", file=sys.stderr)
            return 1
        report = erase_member(
            settings.database_url,
            settings.rasa_tracker_url,
            args.account,
            clock_from_env()(),
            actor=f"it:{args.by}",
        )
    except MemberNotFound as exc:
        print(f"Not found: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.clock import clock_from_env
    from bot.ops.doctor import run_doctor

    findings = run_doctor(settings, clock_from_env()().date())
    for finding in findings:
        print(finding.line())
    to_fix = [f for f in findings if f.level == "fix"]
    if to_fix:
        print(f"\n{len(to_fix)} thing(s) to fix before going live (see docs/operations.md).")
        return 1
    print("\nReady to go live.")
    return 0


def _since_until(args: argparse.Namespace) -> tuple[datetime, datetime | None] | None:
    """The --since and --until times (no --until: None), or None and why on stderr when one
    cannot be read."""
    from bot.ops.integration import parse_since

    try:
        return parse_since(args.since), parse_since(args.until) if args.until else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return None


def _cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.integration import export_events

    window = _since_until(args)
    if window is None:
        return 2
    since, until = window
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            n = export_events(settings.database_url, since, args.format, out, until)
        print(f"Wrote {n} events to {args.output}")
    else:
        export_events(settings.database_url, since, args.format, None, until)
    return 0


def _cmd_events(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.clock import clock_from_env
    from bot.ops.integration import print_event_status, replay_events

    if args.action == "status":
        print_event_status(settings.database_url)
        return 0
    if not args.since:
        print("replay needs --since (a date or an ISO 8601 time)", file=sys.stderr)
        return 2
    window = _since_until(args)
    if window is None:
        return 2
    since, until = window
    n = replay_events(settings.database_url, since, clock_from_env()(), until)
    print(f"Queued {n} events for the webhook again (the worker sends them).")
    return 0


def _cmd_undeliverable(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.integration import print_undeliverable

    print_undeliverable(settings.database_url)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jecbot", description="JEC member assistant tools")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[Settings, argparse.Namespace], int], help_: str):
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    add("init-db", _cmd_init_db, "create or upgrade the database schema (Alembic migrations)")
    p = add(
        "demo-data", _cmd_demo_data, "load deterministic demo members, bills, usage and outages"
    )
    p.add_argument("--members", type=int, default=300, help="how many members (default 300)")
    p.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    p.add_argument(
        "--conversations",
        type=int,
        default=60,
        help="closed demo conversations for the console's insights page (default 60)",
    )
    p.add_argument(
        "--usage-days",
        type=int,
        default=None,
        help="days of daily usage per account (default 365; fewer for scale tests)",
    )
    p.add_argument("--if-empty", action="store_true", help="do nothing if members already exist")
    p = add("import", _cmd_import, "import a billing-system export (see docs/import-format.md)")
    p.add_argument("files", nargs="+", help="JSON or CSV files")
    p = add("outbox", _cmd_outbox, "show texts and emails the assistant sent to the local outbox")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--to", default=None, help="only messages to this phone or email")
    p = add("chat", _cmd_chat, "chat with the running assistant from this terminal")
    p.add_argument("--sender", default=None, help="conversation id (default: a new one)")
    p = add("sms", _cmd_sms, "simulate an inbound text to the running gateway, signed like Twilio")
    p.add_argument(
        "--from",
        dest="from_number",
        default="+17065550101",
        help="the sender's phone (default: Dana Whitfield's demo phone)",
    )
    p.add_argument("body", nargs="+", help="the text message")
    p = add(
        "create-agent",
        _cmd_create_agent,
        "create a member-service agent for the console (asks for the password)",
    )
    p.add_argument("username")
    p.add_argument("display_name", help="shown to members, e.g. Maria")
    p.add_argument("--admin", action="store_true", help="may manage other agents")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (for scripts) instead of asking",
    )
    p = add(
        "agents",
        _cmd_agents,
        "manage console agents: list, set-password, disable, enable, enrol-totp, set-role",
    )
    p.add_argument(
        "action", choices=["list", "set-password", "disable", "enable", "enrol-totp", "set-role"]
    )
    p.add_argument("username", nargs="?", default="")
    p.add_argument("role", nargs="?", default="", help="set-role: agent, supervisor or admin")
    p.add_argument("--password-stdin", action="store_true", help="set-password: read stdin")
    add("run", _cmd_run, "start Rasa, the action server and the gateway; Ctrl-C stops them")
    add("worker", _cmd_worker, "run the queue's workers (turns, periodic jobs) without HTTP")
    add("jobs", _cmd_jobs, "what the queue holds: queued, running, failed, recent periodic runs")
    add("check-profile", _cmd_check_profile, "validate the co-op profile file")
    p = add(
        "backup",
        _cmd_backup,
        "copy the SQLite databases into a new directory while the assistant runs (online backup)",
    )
    p.add_argument("path", help="a new (or empty) directory, e.g. var/backups/2026-12-02")
    p = add("restore", _cmd_restore, "put a `jecbot backup` directory back (assistant stopped)")
    p.add_argument("path", help="the backup directory")
    p.add_argument(
        "--force", action="store_true", help="replace the current database (kept beside it)"
    )
    p = add("retention", _cmd_retention, "delete what is past its period (profile `retention:`)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p = add("member", _cmd_member, "a member's data: export it as JSON, or erase what may be")
    p.add_argument("action", choices=["export", "erase"])
    p.add_argument("account", help="one of the member's account numbers")
    p.add_argument("--output", help="export: write the JSON to this file instead of stdout")
    p.add_argument("--yes", action="store_true", help="erase: confirm (it cannot be undone)")
    p.add_argument("--by", default="it", help="erase: who asked, for the audit log")
    add("doctor", _cmd_doctor, "check the configuration before going live; prints what to fix")
    p = add("export", _cmd_export, "export integration events as CSV or JSON (docs/integration.md)")
    p.add_argument("--since", required=True, help="a date (UTC midnight) or an ISO 8601 time")
    p.add_argument("--until", default=None, help="up to (not including) this date or time")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--output", default=None, help="write to this file instead of stdout")
    p = add("events", _cmd_events, "integration events: webhook status, or replay since a time")
    p.add_argument("action", choices=["status", "replay"])
    p.add_argument("--since", default=None, help="replay: a date or an ISO 8601 time")
    p.add_argument("--until", default=None, help="replay: up to (not including) this")
    add("undeliverable", _cmd_undeliverable, "phones and emails our messages kept failing to reach")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.handler is not _cmd_doctor:  # the doctor reports unsafe secrets instead
            check_secrets(settings)  # example or short secrets never serve a public installation
        return args.handler(settings, args)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
