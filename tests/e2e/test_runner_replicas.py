"""`jecbot run` with Rasa replicas (issue 13 item 4): what the runner starts and what each Rasa
is told, for the embedded default and a production `.env`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import Settings, replica_problems
from bot.runner import STARTUP_TIMEOUT_SECONDS, build_children, start_groups, write_endpoints

PRODUCTION = {
    "rasa_tracker_url": "postgresql://jec:secret@db.internal:5432/jec_rasa",
    "redis_url": "redis://cache.internal:6379/3",
    "redis_prefix": "jecprod",
}


def test_the_embedded_default_runs_one_rasa_whatever_the_cores(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, rasa_tracker_url=f"sqlite:///{tmp_path}/t.db")
    assert settings.rasa_replica_count == 1
    names = [c.name for c in build_children(settings, tmp_path / "endpoints.yml")]
    assert names == ["actions", "rasa", "gateway"]


def test_more_than_one_rasa_without_shared_state_is_refused() -> None:
    problems = replica_problems(Settings(rasa_replicas=2, rasa_tracker_url="sqlite:///x.db"))
    assert problems and "REDIS_URL" in problems[0] and "PostgreSQL" in problems[0]
    assert replica_problems(Settings(rasa_replicas=2, **PRODUCTION)) == []
    assert replica_problems(Settings(hub="redis")) == ["HUB=redis needs REDIS_URL"]


def test_production_replicas_each_pair_rasa_with_its_own_action_server(tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        rasa_url="http://127.0.0.1:5105",
        action_server_port=5155,
        rasa_replicas=2,
        **PRODUCTION,
    )
    endpoints = write_endpoints(settings)
    children = {c.name: c for c in build_children(settings, endpoints)}
    assert list(children) == ["actions", "actions-2", "rasa", "rasa-2", "gateway"]
    assert [[c.name for c in g] for g in start_groups(list(children.values()))] == [
        ["actions", "actions-2"],
        ["rasa", "rasa-2"],  # both load their model at the same time
        ["gateway"],
    ]
    assert settings.rasa_urls == ("http://127.0.0.1:5105", "http://127.0.0.1:5106")
    for name, rasa_port, actions_port in (("rasa", 5105, 5155), ("rasa-2", 5106, 5156)):
        argv = children[name].argv
        assert argv[argv.index("-p") + 1] == str(rasa_port)
        written = yaml.safe_load(Path(argv[argv.index("--endpoints") + 1]).read_text())
        assert written["action_endpoint"]["url"] == f"http://127.0.0.1:{actions_port}/webhook"
        # every replica shares the PostgreSQL tracker store, read through the windowed SQL store
        assert written["tracker_store"] == {
            "type": "rasa_addons.tracker_store.WindowedSQLTrackerStore",
            "url": PRODUCTION["rasa_tracker_url"],
            "window_events": 60,
        }
        assert written["lock_store"]["type"] == "redis"
        assert written["lock_store"]["key_prefix"] == "jecprod"
        assert children[name].log_path == tmp_path / "log" / f"{name}.log"
    actions2 = children["actions-2"]
    assert actions2.argv[-2:] == ["--port", "5156"]
    assert actions2.health_url == "http://127.0.0.1:5156/health"
    assert STARTUP_TIMEOUT_SECONDS["rasa-2"] == STARTUP_TIMEOUT_SECONDS["rasa"]


def test_automatic_replicas_follow_the_machine_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.config as config

    monkeypatch.setattr(config.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(config, "_machine_replicas", lambda: 3)  # e.g. memory for three
    assert Settings(**PRODUCTION).rasa_replica_count == 3
    assert Settings().rasa_replica_count == 1  # no Redis, no PostgreSQL: one


def test_listed_rasa_urls_are_what_the_gateway_uses() -> None:
    settings = Settings(rasa_url_list=("http://10.0.0.7:5005", "http://10.0.0.8:5005"))
    assert settings.rasa_urls == ("http://10.0.0.7:5005", "http://10.0.0.8:5005")
    assert settings.rasa_replica_count == 2


def test_the_queue_worker_is_started_only_when_the_queue_is_on_redis(tmp_path: Path) -> None:
    """`jecbot worker` runs as its own process only with QUEUE_BACKEND=redis and
    QUEUE_WORKERS_IN_GATEWAY=false."""

    def names(settings: Settings) -> list[str]:
        return [c.name for c in build_children(settings, tmp_path / "endpoints.yml")]

    separate = {"queue_backend": "redis", "queue_workers_in_gateway": False}
    assert "worker" in names(Settings(var_dir=tmp_path, **PRODUCTION, **separate))
    assert names(Settings(var_dir=tmp_path, **PRODUCTION, **separate))[-2:] == [
        "worker",
        "gateway",
    ]
    for other in (
        {"queue_backend": "redis", "queue_workers_in_gateway": True},  # inside the gateway
        {"queue_backend": "sql", "queue_workers_in_gateway": False},
    ):
        assert "worker" not in names(Settings(var_dir=tmp_path, **PRODUCTION, **other))
    assert "worker" not in names(Settings(var_dir=tmp_path, **PRODUCTION))
