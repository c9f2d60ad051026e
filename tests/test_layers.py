"""Imports run one way: from the entry points down to the papers model (docs/internals.md).

Every import in every module counts, those inside functions too, since a cycle hidden in a
function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A package may import its own modules and any package of a lower layer.
LAYERS = (
    ("papers",),
    ("text",),
    ("spiders", "storage", "replica"),
    ("dataset",),
    ("flows",),
    ("web",),
    ("epaper",),
    ("bench",),
    ("tests",),
    ("scripts",),  # developer scripts may borrow the tests' helpers
)
RANK = {pkg: rank for rank, layer in enumerate(LAYERS) for pkg in layer}
# Third-party libraries a layer must not pull in (text processing is pure Python + lxml).
FORBIDDEN = {
    "papers": {"prefect", "scrapy", "boto3", "botocore", "sqlalchemy"},
    "text": {"prefect", "scrapy", "boto3", "botocore", "sqlalchemy"},
    "dataset": {"prefect", "scrapy"},
    "web": {"prefect", "scrapy"},
}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def edges() -> list[tuple[str, str, Path]]:
    found = []
    for pkg in RANK:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found += [(pkg, name, path) for name in imports_of(path)]
    return found


def test_every_package_is_in_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(RANK), f"not in LAYERS: {sorted(packages - set(RANK))}"


def test_no_layer_imports_a_higher_one_or_a_neighbour():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for pkg, name, path in edges()
        if name in RANK and name != pkg and RANK[name] >= RANK[pkg]
    ]
    assert not wrong, "\n".join(wrong)


def test_leaves_import_no_framework():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for pkg, name, path in edges()
        if name in FORBIDDEN.get(pkg, ())
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_wrong_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from flows import archive\n")
    assert "flows" in imports_of(bad)
