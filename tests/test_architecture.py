"""The package boundaries hold: no import circle anywhere, and each package imports only what its
layer may (docs/ARCHITECTURE.md).

Every import statement counts, wherever it is written: at module level, inside a function, or
under `if TYPE_CHECKING:` (a circle that only type checking sees still ties the modules together,
and `typing.get_type_hints` then fails at run time).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("targeting", "oauth", "klaviyo", "stats", "edge", "sandbox", "demo")
# What each top-level package may import of ours (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "targeting": frozenset(),
    "oauth": frozenset(),
    "klaviyo": frozenset(),
    "stats": frozenset(),
    "sandbox": frozenset(),  # a fake of Klaviyo's documented behaviour: it knows nothing of ours
    "edge": frozenset({"targeting", "oauth", "klaviyo", "stats"}),
    "demo": frozenset({"targeting", "oauth", "klaviyo", "stats", "edge", "sandbox"}),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _imported(path: Path, name: str, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of ours that `path` (module `name`) imports."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                continue
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            named = [m for m in submodules if m in modules]
            yield from named
            if len(named) < len(submodules):
                yield target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {target for target in _imported(path, name, modules) if target in modules and target != name}
        for name, path in modules.items()
    }


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_module_takes_part_in_an_import_circle() -> None:
    assert _circles(_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_its_layer_may(package: str) -> None:
    crossing = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package] | {package}
    )
    assert crossing == []


def test_api_access_does_not_depend_on_the_merchant_page() -> None:
    graph = _graph()
    crossing = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("edge.access")
        for target in targets
        if target.startswith("edge.admin")
    )
    assert crossing == []
