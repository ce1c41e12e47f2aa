"""The package's layers: imports point one way, and only the containers wire collaborators.

core -> config (logs) -> profile -> store -> services -> adapters (ops) -> (actions | gateway) ->
entry points.
A module may import its own layer and the layers below it, never above; actions and gateway never
import each other; a journey's action module imports only the shared action modules. Every import
counts, including those inside functions and under `TYPE_CHECKING`: a type is a dependency too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bot.config import PROJECT_ROOT

BOT = PROJECT_ROOT / "bot"

LAYERS: dict[str, int] = {
    "bot.core": 0,
    "bot.config": 1,
    "bot.logs": 1,
    "bot.profile": 2,
    "bot.store": 3,
    "bot.services": 4,
    "bot.adapters": 5,
    "bot.queue": 5,
    "bot.ops": 5,
    "bot.actions": 6,
    "bot.gateway": 6,
    "bot.demo": 7,
    "bot.runner": 7,
    "bot.chat": 7,
    "bot.cli": 7,
    "bot.worker": 6,
}
SIDEWAYS_FORBIDDEN = {("bot.actions", "bot.gateway"), ("bot.gateway", "bot.actions")}
SHARED_ACTION_MODULES = {
    "bot.actions",
    "bot.actions.deps",
    "bot.actions.tracker",
    "bot.actions.common",
}
CONTAINERS = {"bot/actions/deps.py", "bot/gateway/app.py"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    for name in sorted(LAYERS, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            # `from bot.actions import tracker` imports the submodule bot.actions.tracker
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "bot" or name.startswith("bot.")]


def _journey_module(module: str) -> str | None:
    """`bot.actions.draft.forms` -> `bot.actions.draft`; shared modules -> None."""
    if module in SHARED_ACTION_MODULES or not module.startswith("bot.actions."):
        return None
    return ".".join(module.split(".")[:3])


def _real_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PROJECT_ROOT / relative).with_suffix(".py").exists() or (
        PROJECT_ROOT / relative / "__init__.py"
    ).exists()


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = [_module_name(p) for p in BOT.rglob("*.py") if _layer(_module_name(p)) is None]
    unplaced = [m for m in unplaced if m != "bot"]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def test_imports_point_down_the_layers() -> None:
    wrong: list[str] = []
    for path in sorted(BOT.rglob("*.py")):
        source = _module_name(path)
        source_layer = _layer(source)
        if source_layer is None:
            continue
        for line, target in _imports(path):
            if not _real_module(target):
                continue  # `from bot.x import name`: the module itself is checked
            target_layer = _layer(target)
            if target_layer is None or target == "bot":
                continue
            where = f"{path.relative_to(PROJECT_ROOT)}:{line} imports {target}"
            if LAYERS[target_layer] > LAYERS[source_layer]:
                wrong.append(f"{where} (a higher layer)")
            elif (source_layer, target_layer) in SIDEWAYS_FORBIDDEN:
                wrong.append(f"{where} (actions and gateway stay apart)")
            else:
                mine, theirs = _journey_module(source), _journey_module(target)
                if theirs is not None and mine != theirs:
                    wrong.append(f"{where} (another journey's actions)")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_only_the_containers_construct_the_member_services() -> None:
    builders = {"SqlMemberServices", "build_notifier", "SandboxProcessor"}
    found: list[str] = []
    for path in sorted(BOT.rglob("*.py")):
        relative = str(path.relative_to(PROJECT_ROOT))
        if relative in CONTAINERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in builders:
                    found.append(f"{relative}:{node.lineno} calls {name}(...)")
    assert not found, "collaborators built outside the containers:\n" + "\n".join(found)
