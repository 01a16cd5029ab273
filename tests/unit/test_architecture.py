"""The shape of the code, as ARCHITECTURE.md draws it: imports run one way, down the layers, in no circle.

Every import counts, those inside functions too. A new module belongs to a layer below; a
new package is added to LAYERS where ARCHITECTURE.md says it sits.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "mock_crm")
MAX_MODULE_LINES = 300

# Top to bottom. A module imports only from its own package or from a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("app.__main__",),
    ("app.cli",),
    ("app.demo", "app.agent_commands", "app.planning"),
    ("app.demo_printer",),
    ("app.slack_emulator", "app.socket_mode_emulator", "app.slack_request_signer", "app.model_emulator",
     "app.http_server", "app.embedded_redis"),
    ("app.web", "app.worker"),
    ("app.composition",),
    ("app.api", "app.slack"),
    ("app.agent",),
    ("app.runs",),
    ("app.tools",),
    ("app.jobs",),
    ("app.status",),
    ("app.queueing",),
    ("app.state",),
    ("app.integrations",),
    ("app.messages", "app.reports"),
    ("app.domain", "app.store", "app.config", "app.logs", "app.webhook_signature"),
    ("app.http_tool_origins",),
    ("mock_crm",),
)
# Only the edges (and the commands above them) see the whole set of collaborators.
SEES_EVERY_COLLABORATOR = ("app.web.app", "app.worker", "app.cli", "app.demo", "app.planning")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that `path` imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from app.api import agents` imports the module app.api.agents.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _place(module: str) -> tuple[int, str]:
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return level, prefix
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS and to ARCHITECTURE.md")


def test_every_module_sits_in_a_layer() -> None:
    for module in _graph():
        if module not in PACKAGES:
            _place(module)


def test_imports_run_down_the_layers() -> None:
    upward = []
    for module, imported in _graph().items():
        if module in PACKAGES:
            continue
        level, package = _place(module)
        for other in imported - set(PACKAGES):
            other_level, other_package = _place(other)
            if not (other_level > level or other_package == package):
                upward.append(f"{module} -> {other}")
    assert upward == []


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                circles.append(path[path.index(other):] + [other] if other in path else [module, other])
            elif other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_only_the_edges_see_every_collaborator() -> None:
    seeing = sorted(module for module, imported in _graph().items()
                    if {"app.composition", "app.worker.current"} & imported
                    and not module.startswith(SEES_EVERY_COLLABORATOR))
    assert seeing == []
    asking = sorted(module for module, imported in _graph().items() if "app.worker.current" in imported)
    assert asking == ["app.worker.acme_worker", "app.worker.entrypoints"]


def test_modules_stay_small_and_keep_no_globals() -> None:
    for module, path in _modules().items():
        if ".migrations." in module:
            continue
        source = path.read_text()
        assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{module} is over {MAX_MODULE_LINES} lines"
        assert not any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(source))), module
