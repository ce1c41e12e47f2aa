"""The deployment files name the processes, ports, settings and health paths the code has.

An IT person deploys with deploy/compose.yaml, deploy/k8s/ or deploy/systemd/; `jecbot run`
(bot/runner.py) and the settings (bot/config.py) are what the code really does. Each test reads
the deployment files and compares them with the code itself (the runner's process list and
command lines, the names `load_settings` reads, the gateway's routes), so a renamed setting, a new
process or a moved port fails here instead of on a co-op's server. See docs/deploy.md.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dotenv import dotenv_values

import bot.config as config_module
from bot.cli import build_parser
from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.runner import build_children, endpoints_config
from bot.runner import write_endpoints as runner_write_endpoints

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
# Rasa's own root URL answers without the API token: the gateway's Rasa ping uses it too.
RASA_HEALTH_PATH = "/"
# Third-party containers in the compose file; everything else runs our images.
INFRA_SERVICES = {"postgres", "redis", "caddy"}


# ----------------------------------------------------------------------------- the code's view


def config_setting_names() -> set[str]:
    """Every environment variable `load_settings` reads (the `env.get("NAME", ...)` calls)."""
    tree = ast.parse(Path(config_module.__file__).read_text())
    fn = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "load_settings"
    )
    names = set()
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return names


def settings_from(values: Mapping[str, str | None]) -> Settings:
    """The Settings a process gets from exactly these variables (no .env, no real environment)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config_module, "load_dotenv", lambda *_a, **_k: False)
        mp.setattr(config_module.os, "environ", {k: v or "" for k, v in values.items()})
        return load_settings()


def runner_children(settings: Settings) -> dict[str, Any]:
    """The runner's processes for these settings, by name (`jecbot run`)."""
    children = build_children(settings, PROJECT_ROOT / "var" / "endpoints.yml")
    return {child.name: child for child in children}


def gateway_get_paths() -> set[str]:
    """The GET paths the gateway application really serves."""
    from bot.gateway.app import create_app

    app = create_app(Settings())
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


def options(argv: list[str]) -> dict[str, str | None]:
    """`--flag value` pairs of a command line (a flag followed by another flag has no value)."""
    found: dict[str, str | None] = {}
    for i, token in enumerate(argv):
        if token.startswith("-"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            found[token] = None if nxt is None or nxt.startswith("-") else nxt
    return found


# ----------------------------------------------------------------------------- the files' view


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_objects() -> Iterator[dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")) + sorted((K8S / "secret").glob("*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def k8s(kind: str, name: str) -> dict[str, Any]:
    return next(o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name)


def k8s_workload_processes() -> dict[str, dict[str, Any]]:
    """Deployments of our processes by component name (jec-gateway -> gateway)."""
    return {
        o["metadata"]["name"].removeprefix("jec-"): o
        for o in k8s_objects()
        if o["kind"] == "Deployment"
    }


def k8s_settings_values() -> dict[str, str]:
    values = dict(k8s("ConfigMap", "jec-settings")["data"])
    values.update(k8s("Secret", "jec-secrets")["stringData"])
    return values


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings (key -> values, in order; `[Section]` lines dropped)."""
    entries: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def systemd_processes() -> dict[str, dict[str, list[str]]]:
    """Long-running units (Type=simple) by process name (jec-rasa.service -> rasa)."""
    found = {}
    for path in sorted(SYSTEMD.glob("jec-*.service")):
        entries = unit(path.name)
        if entries.get("Type") == ["simple"]:
            found[path.stem.removeprefix("jec-")] = entries
    return found


def unit_environment(entries: dict[str, list[str]]) -> dict[str, str]:
    env = {}
    for line in entries.get("Environment", []):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def dockerfile_stage(path: Path, stage: str | None) -> list[str]:
    """The instructions of one build stage (the last one when `stage` is None), continuation
    lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    stages: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            match = re.search(r"\bAS\s+(\S+)", line, re.IGNORECASE)
            stages.append((match.group(1) if match else None, []))
        stages[-1][1].append(line)
    return stages[-1][1] if stage is None else next(s for n, s in stages if n == stage)


def instruction(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.split()[0].upper() == name).split(None, 1)[1]


def json_or_shell(argument: str) -> list[str]:
    argument = argument.strip()
    return json.loads(argument) if argument.startswith("[") else shlex.split(argument)


def with_defaults(text: str) -> str:
    """`${NAME:-default}` (shell default expansion in image commands) -> its default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def healthcheck_instruction_url(lines: list[str]) -> str:
    """The URL a Dockerfile HEALTHCHECK asks deploy/healthcheck.py about."""
    cmd = json_or_shell(instruction(lines, "HEALTHCHECK").split(" CMD ", 1)[1])
    return with_defaults(cmd[-1].split()[-1])


def deploy_module(relative: str) -> Any:
    """Import a script of deploy/ (they are not a package)."""
    path = DEPLOY / relative
    spec = importlib.util.spec_from_file_location(f"deploy_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rasa_launch(values: Mapping[str, str | None], listen: str | None, tmp: Path) -> list[str]:
    """The argv the Rasa container or unit execs for these settings: deploy/rasa_config.py's
    spec, through deploy/rasa/launch.py."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config_module, "load_dotenv", lambda *_a, **_k: False)
        mp.setattr(config_module.os, "environ", {k: v or "" for k, v in values.items()})
        spec = deploy_module("rasa_config.py").rasa_spec(tmp)
    argv, _env = deploy_module("rasa/launch.py").command(json.loads(json.dumps(spec)), listen)
    return argv


def url_path_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return parts.path or "/", parts.port


def healthcheck_url(test: list[str]) -> str:
    return next(t for t in test if t.startswith("http://"))


# ----------------------------------------------------------------------------- settings


ENV_TEMPLATES = {
    "compose (deploy/env.example)": DEPLOY / "env.example",
    "systemd (deploy/systemd/jec.env.example)": SYSTEMD / "jec.env.example",
}


def template_names(path: Path) -> set[str]:
    """Variables a template sets or shows commented out (`# NAME=`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", path.read_text(), re.MULTILINE))


@pytest.mark.parametrize("where", sorted(ENV_TEMPLATES))
def test_env_templates_set_exactly_the_settings_the_code_reads(where: str) -> None:
    names = config_setting_names()
    assert names, "no settings found in bot/config.py's load_settings"
    listed = template_names(ENV_TEMPLATES[where])
    assert listed - names == set(), f"{where} sets variables bot/config.py never reads"
    assert names - listed == set(), f"{where} is missing settings bot/config.py reads"


def test_kubernetes_configmap_and_secret_hold_exactly_the_settings() -> None:
    names = config_setting_names()
    config_map = set(k8s("ConfigMap", "jec-settings")["data"])
    secret = set(k8s("Secret", "jec-secrets")["stringData"])
    assert config_map & secret == set(), "a setting is both in the ConfigMap and the Secret"
    assert (config_map | secret) - names == set(), "the manifests set unknown settings"
    assert names - (config_map | secret) == set(), "the manifests miss settings"
    # Secrets never sit in the ConfigMap.
    assert {"SECRET_KEY", "RASA_TOKEN", "DATABASE_URL", "REDIS_URL"} <= secret


def test_containers_get_only_known_settings() -> None:
    names = config_setting_names()
    services = compose()["services"]
    for name, service in services.items():
        if name in INFRA_SERVICES:
            continue
        if name == "rasa":  # gets its configuration from rasa-config's files only
            assert "env_file" not in service and "environment" not in service
            continue
        assert service["env_file"] == ".env", f"compose service {name} must read deploy/.env"
        assert set(service.get("environment") or {}) <= names, name
    for workload in k8s_workload_processes().values():
        spec = workload["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert {e["name"] for e in container.get("env", [])} <= names, container["name"]
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                assert ref["name"] in {"jec-settings", "jec-secrets"}
    for name, entries in systemd_processes().items():
        assert entries["EnvironmentFile"] == ["/etc/jec/jec.env"], name


# ----------------------------------------------------------------------------- processes


def test_every_file_runs_the_processes_the_runner_supervises() -> None:
    expected = set(runner_children(Settings()))
    assert expected == {"actions", "rasa", "gateway"}  # the gateway exists: all three run
    services = compose()["services"]
    long_running = {
        n for n, s in services.items() if n not in INFRA_SERVICES and s.get("restart") != "no"
    }
    assert long_running == expected, "compose.yaml"
    assert set(k8s_workload_processes()) == expected, "deploy/k8s"
    assert set(systemd_processes()) == expected, "deploy/systemd"


def test_one_shot_steps_are_real_commands() -> None:
    """Migrations run `jecbot init-db`; Rasa's configuration comes from deploy/rasa_config.py,
    which the Rasa image's launcher reads."""
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    services = compose()["services"]
    job = k8s("Job", "jec-migrate")["spec"]["template"]["spec"]["containers"][0]["command"]
    migrate_unit = shlex.split(unit("jec-migrate.service")["ExecStart"][0])
    for argv in (services["migrate"]["command"], job, migrate_unit):
        assert Path(argv[0]).name == "jecbot" and argv[1] in commands
    init = k8s("Deployment", "jec-rasa")["spec"]["template"]["spec"]["initContainers"][0]
    pre = shlex.split(unit("jec-rasa.service")["ExecStartPre"][0])
    for argv in (services["rasa-config"]["command"], init["command"], pre):
        assert argv[1] == "deploy/rasa_config.py"
        assert (PROJECT_ROOT / argv[1]).is_file()
        assert argv[2] == "/run/jec"
    image = json_or_shell(
        instruction(dockerfile_stage(DEPLOY / "rasa" / "Dockerfile", None), "ENTRYPOINT")
    )
    service = shlex.split(unit("jec-rasa.service")["ExecStart"][0])
    for argv in (image, service):
        assert Path(argv[1]).name == "launch.py" and argv[2] == "/run/jec/rasa.json"
    # Both k8s and compose share /run/jec between the writer and Rasa.
    mounts = {v.split(":")[1] for v in services["rasa"]["volumes"]}
    assert "/run/jec" in mounts


def _app_commands() -> dict[str, dict[str, list[str]]]:
    """The command line of the actions and gateway processes in each kind of file."""
    dockerfile = DEPLOY / "app" / "Dockerfile"
    services = compose()["services"]
    deployments = k8s_workload_processes()
    units = systemd_processes()
    found: dict[str, dict[str, list[str]]] = {}
    for name in ("actions", "gateway"):
        image_cmd = json_or_shell(instruction(dockerfile_stage(dockerfile, name), "CMD"))
        if image_cmd[:2] == ["sh", "-c"]:
            image_cmd = shlex.split(image_cmd[2].removeprefix("exec "))
        found[name] = {
            "Dockerfile": image_cmd,
            "compose": services[name].get("command") or image_cmd,
            "k8s": deployments[name]["spec"]["template"]["spec"]["containers"][0]["command"],
            "systemd": shlex.split(units[name]["ExecStart"][0]),
        }
    return found


@pytest.mark.parametrize("name", ["actions", "gateway"])
def test_app_processes_run_the_runners_command(name: str) -> None:
    settings = Settings()
    expected = runner_children(settings)[name].argv[1:]  # after the interpreter
    for where, argv in _app_commands()[name].items():
        assert Path(argv[0]).name == "python", where
        assert [with_defaults(a) for a in argv[1:]] == expected, where


@pytest.mark.parametrize(
    ("where", "listen"),
    [
        ("compose (deploy/env.example)", "0.0.0.0"),
        ("systemd (deploy/systemd/jec.env.example)", None),
    ],
)
def test_rasa_runs_the_runners_command_line(where: str, listen: str | None, tmp_path) -> None:
    """Rasa starts with `jecbot run`'s own argv (only the bind address differs in a container),
    and whatever module that argv runs is in the Rasa image."""
    values = dotenv_values(ENV_TEMPLATES[where])
    settings = settings_from(values)
    runner_write_endpoints(settings, tmp_path / "runner" / "endpoints.yml")
    children = build_children(settings, tmp_path / "endpoints.yml", gateway=False)
    expected = next(c for c in children if c.name == "rasa").argv
    argv = rasa_launch(values, listen, tmp_path)
    if listen is not None:
        expected[expected.index("-i") + 1] = listen
    assert argv == expected
    assert (tmp_path / "endpoints.yml").is_file()
    assert (tmp_path / "endpoints.yml").read_text() == (
        tmp_path / "runner" / "endpoints.yml"
    ).read_text()
    dockerfile = (DEPLOY / "rasa" / "Dockerfile").read_text()
    assert Path(argv[0]).is_relative_to(PROJECT_ROOT)
    image_path = "/app/" + str(Path(argv[0]).relative_to(PROJECT_ROOT))
    assert image_path.startswith("/app/rasa-env/.venv/bin/"), image_path
    if "-m" in argv:  # e.g. a Rasa-side package of ours: the image must contain it
        package = argv[argv.index("-m") + 1].split(".")[0]
        assert re.search(rf"^COPY {package}\b", dockerfile, re.MULTILINE), package


# ----------------------------------------------------------------------------- ports and hosts


def test_compose_ports_hosts_and_health_paths_match_the_settings() -> None:
    settings = settings_from(dotenv_values(DEPLOY / "env.example"))
    services = compose()["services"]
    rasa = urlsplit(settings.rasa_url)
    assert rasa.hostname in services and rasa.hostname == "rasa"
    assert settings.action_server_host in services
    assert settings.gateway_host == "0.0.0.0"  # reachable by Caddy on the compose network
    ports = {
        "gateway": settings.gateway_port,
        "actions": settings.action_server_port,
        "rasa": rasa.port,
    }
    for name, port in ports.items():
        assert services[name]["expose"] == [str(port)], name
        path, health_port = url_path_port(healthcheck_url(services[name]["healthcheck"]["test"]))
        assert health_port == port, name
    # The endpoints file Rasa gets points at the action service.
    action_url = endpoints_config(settings)["action_endpoint"]["url"]  # type: ignore[index]
    assert urlsplit(action_url).hostname == "actions"
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert f"reverse_proxy gateway:{settings.gateway_port}" in caddyfile
    assert "PUBLIC_BASE_URL" in services["caddy"]["environment"]


def test_kubernetes_services_ports_and_policies_match_the_settings() -> None:
    settings = settings_from(k8s_settings_values())
    rasa = urlsplit(settings.rasa_url)
    ports = {
        "gateway": settings.gateway_port,
        "actions": settings.action_server_port,
        "rasa": rasa.port,
    }
    assert rasa.hostname == "jec-rasa" and settings.action_server_host == "jec-actions"
    assert settings.gateway_host == "0.0.0.0"
    for name, port in ports.items():
        service = k8s("Service", f"jec-{name}")
        assert [p["port"] for p in service["spec"]["ports"]] == [port], name
        container = k8s("Deployment", f"jec-{name}")["spec"]["template"]["spec"]["containers"][0]
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        policy = next(
            o
            for o in k8s_objects()
            if o["kind"] == "NetworkPolicy"
            and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
            == f"jec-{name}"
        )
        assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [port], name


def test_network_policies_let_only_the_gateway_reach_rasa_and_only_rasa_the_actions() -> None:
    def allowed(target: str) -> set[str]:
        policy = next(
            o
            for o in k8s_objects()
            if o["kind"] == "NetworkPolicy"
            and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
            == target
        )
        return {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in policy["spec"]["ingress"]
            for peer in rule["from"]
            if "podSelector" in peer
        }

    deny = k8s("NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert allowed("jec-rasa") == {"jec-gateway"}
    assert allowed("jec-actions") == {"jec-rasa"}
    # Rasa keeps its tracker in PostgreSQL and its locks in Redis (endpoints_config).
    assert allowed("jec-postgres") == {"jec-gateway", "jec-actions", "jec-rasa", "jec-migrate"}
    assert allowed("jec-redis") == {"jec-gateway", "jec-actions", "jec-rasa"}


def test_systemd_units_listen_where_the_settings_say() -> None:
    settings = settings_from(dotenv_values(SYSTEMD / "jec.env.example"))
    units = systemd_processes()
    children = runner_children(settings)
    rasa = urlsplit(settings.rasa_url)
    # The runner binds the action server with SANIC_HOST = ACTION_SERVER_HOST; so does the unit.
    assert unit_environment(units["actions"])["SANIC_HOST"] == children["actions"].env["SANIC_HOST"]
    rasa_opts = options(children["rasa"].argv)  # what launch.py execs (see above)
    assert (
        (rasa_opts["-i"], rasa_opts["-p"])
        == (rasa.hostname, str(rasa.port))
        == (
            "127.0.0.1",
            "5005",
        )
    )
    ports = {
        "gateway": settings.gateway_port,
        "actions": settings.action_server_port,
        "rasa": rasa.port,
    }
    for name, port in ports.items():
        check = units[name]["ExecStartPost"][0]
        url = re.search(r"http://[^ ;']+", check).group(0)  # type: ignore[union-attr]
        assert urlsplit(url).hostname == "127.0.0.1" and urlsplit(url).port == port, name
    assert config_module.is_local(settings) is False  # a real installation: secrets enforced


def test_image_defaults_match_the_settings_defaults() -> None:
    """Each image exposes and health-checks the default port of its process."""
    defaults = Settings()
    app = DEPLOY / "app" / "Dockerfile"
    stages = {
        "actions": (dockerfile_stage(app, "actions"), defaults.action_server_port),
        "gateway": (dockerfile_stage(app, "gateway"), defaults.gateway_port),
        "rasa": (
            dockerfile_stage(DEPLOY / "rasa" / "Dockerfile", None),
            urlsplit(defaults.rasa_url).port,
        ),
    }
    for name, (lines, port) in stages.items():
        assert instruction(lines, "EXPOSE") == str(port), name
        assert url_path_port(healthcheck_instruction_url(lines))[1] == port, name


# ----------------------------------------------------------------------------- health paths


def _health_paths() -> dict[str, dict[str, str]]:
    """Health-check paths per process and per file (probe kind -> path)."""
    services = compose()["services"]
    found: dict[str, dict[str, str]] = {}
    for name in ("actions", "rasa", "gateway"):
        paths = {
            "compose": url_path_port(healthcheck_url(services[name]["healthcheck"]["test"]))[0]
        }
        container = k8s("Deployment", f"jec-{name}")["spec"]["template"]["spec"]["containers"][0]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in container:
                paths[f"k8s {probe}"] = container[probe]["httpGet"]["path"]
        check = systemd_processes()[name]["ExecStartPost"][0]
        url = re.search(r"http://[^ ;']+", check).group(0)  # type: ignore[union-attr]
        paths["systemd"] = url_path_port(url)[0]
        found[name] = paths
    app = DEPLOY / "app" / "Dockerfile"
    for name in ("actions", "gateway"):
        url = healthcheck_instruction_url(dockerfile_stage(app, name))
        found[name]["Dockerfile"] = url_path_port(url)[0]
    url = healthcheck_instruction_url(dockerfile_stage(DEPLOY / "rasa" / "Dockerfile", None))
    found["rasa"]["Dockerfile"] = url_path_port(url)[0]
    return found


def test_action_server_and_rasa_health_paths_are_the_ones_they_serve() -> None:
    paths = _health_paths()
    actions_path = urlsplit(runner_children(Settings())["actions"].health_url).path
    assert set(paths["actions"].values()) == {actions_path} == {"/health"}
    assert set(paths["rasa"].values()) == {RASA_HEALTH_PATH}


def test_gateway_probes_are_routes_the_gateway_serves() -> None:
    served = gateway_get_paths()
    assert {"/livez", "/readyz"} <= served
    paths = _health_paths()["gateway"]
    assert set(paths.values()) <= served
    assert paths["k8s livenessProbe"] == "/livez" and paths["k8s readinessProbe"] == "/readyz"
    assert {paths["compose"], paths["Dockerfile"], paths["systemd"]} == {"/livez"}
