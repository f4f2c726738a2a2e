"""The package layout: imports between mpies's modules form no circle, environments import no
task (nor anything above configuration) and tasks nothing above environments, policies and
rollouts, and no module imports another module's private names."""

import ast
from pathlib import Path

MPIES = Path(__file__).parent.parent / "mpies"


def module_name(path: Path) -> str:
    parts = path.relative_to(MPIES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """``(imported module, [names])`` for every import of mpies in ``path`` (at any depth)."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            if target.split(".")[0] == "mpies":
                yield target, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mpies":
                    yield alias.name, []


def is_module(name: str) -> bool:
    path = MPIES.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def module_graph() -> dict[str, set[str]]:
    """Module -> the mpies modules it imports (``from . import x`` of a submodule counts as ``x``),
    at module level or inside functions alike."""
    graph: dict[str, set[str]] = {}
    for path in MPIES.rglob("*.py"):
        source = module_name(path)
        for target, names in imports(path):
            submodules = {f"{target}.{n}" for n in names if is_module(f"{target}.{n}")}
            graph.setdefault(source, set()).update((submodules or {target}) - {source})
    return graph


def packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph between top-level units: subpackages (``mpies.io``) and modules (``mpies.rollout``)."""
    def unit(module):
        return ".".join(module.split(".")[:2])
    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        out.setdefault(unit(source), set()).update(unit(t) for t in targets if unit(t) != unit(source))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circle_between_modules():
    graph = module_graph()
    # mpies.config reads the registry inside functions (the registry's modules import config)
    graph["mpies.config"] = graph["mpies.config"] - {"mpies.registry"}
    # the package re-exports mpies.api on first attribute access; modules import only __version__
    graph["mpies"] = graph["mpies"] - {"mpies.api"}
    assert cycles(graph) == []


def test_tasks_and_environments_sit_below_programs_and_io():
    graph = packages(module_graph())
    assert graph["mpies.tasks"] <= {"mpies", "mpies.config", "mpies.envs", "mpies.extras", "mpies.policies",
                                    "mpies.rollout", "mpies.seeding"}
    assert graph["mpies.envs"] <= {"mpies.config", "mpies.extras"}


def test_no_private_names_are_imported_across_modules():
    for path in MPIES.rglob("*.py"):
        for target, names in imports(path):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{module_name(path)} imports {private} from {target}"
