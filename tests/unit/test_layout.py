"""The shape of the product code: imports run one way, the policy core stays plain Python."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each top-level package of the product lives.
PACKAGES = {
    "jupyter_hds": ROOT / "hub" / "jupyter_hds",
    "hds_quota": ROOT / "quota" / "hds_quota",
    **{p.name: p for p in (ROOT / "extensions").glob("*/hds_*") if p.is_dir()},
}
FRAMEWORKS = ("jupyterhub", "dockerspawner", "docker", "tornado", "jupyter_server", "sqlalchemy")


def module_name(path: Path) -> str:
    for package, folder in PACKAGES.items():
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


@functools.cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for folder in PACKAGES.values()
        for path in folder.rglob("*.py")
        if "build" not in path.relative_to(folder).parts
    }


def type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Import statements under `if TYPE_CHECKING:` (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(n for child in node.body for n in ast.walk(child))
    return skipped


def imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports (absolute names) at run time, wherever in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = modules()
    tree = ast.parse(path.read_text())
    skipped = type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                # `from package import module` needs the module, not the package's own code.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return found


def graph() -> dict[str, set[str]]:
    """Product module -> the product modules it imports (a package import is its __init__)."""
    known = modules()
    return {name: {m for m in imports(name, path) if m in known and m != name}
            for name, path in known.items()}  # fmt: skip


def test_no_import_cycle_between_files():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for child in sorted(edges[node]):
            if state.get(child) == 1:
                cycles.append(" -> ".join([*trail[trail.index(child) :], child]))
            elif child not in state:
                visit(child, [*trail, child])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_quota_imports_nothing_from_the_hub_package():
    offenders = {
        name: sorted(m for m in imports(name, path) if m.split(".")[0] == "jupyter_hds")
        for name, path in modules().items()
        if name.startswith("hds_quota")
    }
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize(
    "package", ["jupyter_hds.policy", "hds_quota"], ids=["policy-core", "quota"]
)
def test_the_core_imports_no_framework(package):
    offenders = {
        name: sorted(m for m in imports(name, path) if m.split(".")[0] in FRAMEWORKS)
        for name, path in modules().items()
        if name == package or name.startswith(package + ".")
    }
    assert not {k: v for k, v in offenders.items() if v}
