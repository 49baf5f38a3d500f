"""The layering the code keeps: routes translate between HTTP and `geo/`, which decides and
reads the data; `geo/` never imports the web or the map pages; the event loop never waits."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUTES = sorted((ROOT / "api" / "routes").glob("*.py"))
GEO = sorted((ROOT / "geo").rglob("*.py"))
DATA_ACCESS = {"tx", "snapshot", "rows", "one", "run", "run_many", "columns"}
SQL = re.compile(r"\b(SELECT |INSERT INTO|UPDATE \w+ SET|DELETE FROM)")
# Handlers and dependencies that may be `async def`, with the reason each needs no thread:
# they must not touch the store or compute.
ASYNC_ALLOWED: dict[tuple[str, str], str] = {}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module, package: str) -> list[str]:
    """The modules `tree` imports, absolute, relative ones resolved within `package`."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", ROUTES, ids=_id)
def test_a_route_module_imports_no_other_route_module(path):
    own = f"api.routes.{path.stem}"
    others = [name for name in _imported(_tree(path), "api.routes")
              if name.startswith("api.routes.") and name != own
              and not name.startswith(own + ".")]
    assert others == [], f"{_id(path)} imports {others}: shared parts belong in api/deps.py"


@pytest.mark.parametrize("path", ROUTES, ids=_id)
def test_a_route_module_runs_no_sql(path):
    tree = _tree(path)
    calls = sorted({f".{node.func.attr}(" for node in ast.walk(tree)
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in DATA_ACCESS})
    statements = [node.value[:60] for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and SQL.search(node.value)]
    assert calls == [], f"{_id(path)} calls {calls}: data access belongs in geo/"
    assert statements == [], f"{_id(path)} holds SQL {statements}: it belongs in geo/"


@pytest.mark.parametrize("path", GEO, ids=_id)
def test_geo_imports_neither_the_api_nor_the_maps(path):
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    web = [name for name in _imported(_tree(path), package)
           if name.split(".")[0] in ("api", "maps")]
    assert web == [], f"{_id(path)} imports {web}"


def _async_defs() -> set[tuple[str, str]]:
    return {(path.stem, node.name) for path in ROUTES for node in ast.walk(_tree(path))
            if isinstance(node, ast.AsyncFunctionDef)}


def test_every_async_route_is_allowed_with_its_reason():
    """A handler that reads the store or computes is a plain `def` (FastAPI runs it in the
    thread pool); an `async def` one would hold up every other request while it works."""
    found = _async_defs()
    assert found - ASYNC_ALLOWED.keys() == set(), "make these plain def, or allow them with why"
    assert ASYNC_ALLOWED.keys() - found == set(), "allowed but gone: remove them from the list"
    assert all(reason.strip() for reason in ASYNC_ALLOWED.values())


def test_the_checks_see_what_they_look_for():
    """The checks above would fail on a route module that broke the rules."""
    bad = ast.parse("from api.routes.issues import Id\nfrom . import hotspots\n"
                    "async def page(store):\n"
                    "    with store.snapshot() as tx:\n"
                    "        tx.run_many('DELETE FROM photo', [])\n"
                    "        return tx.columns('SELECT id FROM issue')\n")
    assert {"api.routes.issues", "api.routes.hotspots"} <= set(_imported(bad, "api.routes"))
    assert any(isinstance(n, ast.AsyncFunctionDef) for n in ast.walk(bad))
    assert {n.func.attr for n in ast.walk(bad) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)} == {"snapshot", "run_many", "columns"}
    assert {"snapshot", "run_many", "columns"} <= DATA_ACCESS
    assert SQL.search("SELECT id FROM issue") and SQL.search("INSERT INTO photo (id)")


def _installed_packages() -> list[str]:
    """The packages `pip install .` ships, by pyproject's own find rule."""
    import tomllib

    from setuptools import find_packages

    rule = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return find_packages(str(ROOT), include=rule["packages"]["find"]["include"])


def test_the_installed_product_carries_no_test_code():
    packages = _installed_packages()
    assert {"geo", "geo.store", "api", "api.routes", "maps", "fixtures"} <= set(packages)
    assert not [p for p in packages if p.split(".")[0] == "tests"]
    shipped = [path for package in packages
               for path in (ROOT / package.replace(".", "/")).glob("*.py")]
    assert not [_id(path) for path in shipped
                if any(name.split(".")[0] == "tests" for name in _imported(_tree(path), "geo"))]
    assert not [_id(path) for path in shipped if path.name in ("pgcluster.py", "throwaway.py")]
