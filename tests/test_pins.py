"""requirements.lock against what its pinned packages declare, and against known-bad pairs.

A resolver only ever checks declared ranges; a pair that satisfies them and still breaks
(SQLAlchemy 2.1 beside Prefect 3.8) goes into KNOWN_BAD with the reason, so no lock update
brings it back.
"""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"

# (package, bad versions, beside package, in versions, why)
KNOWN_BAD = [
    (
        "sqlalchemy",
        ">=2.1",
        "prefect",
        "==3.8.*",
        "Prefect 3.8's scheduler fails every minute with `InvalidRequestError: Can't evaluate bulk "
        "DML statement` in _insert_scheduled_flow_runs: cron deployments never get runs",
    ),
]


def read_lock(text: str) -> dict[str, Version]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version.split(";")[0].strip())
    return pins


def declared(name: str, extra: str = "") -> list[Requirement]:
    """What the installed distribution `name` requires here (with `extra` requested)."""
    requirements = [Requirement(text) for text in metadata.requires(name) or []]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": extra})]


def violations(pins: dict[str, Version]) -> list[str]:
    """Pins outside a range that another pinned package (or an extra asked for) declares."""
    found, seen = [], set()
    todo = [(name, "") for name in pins]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for requirement in declared(name, extra):
            wanted = canonicalize_name(requirement.name)
            if wanted not in pins:
                continue  # markers false here were filtered out; an unpinned need is below
            if not requirement.specifier.contains(pins[wanted], prereleases=True):
                found.append(
                    f"{wanted}=={pins[wanted]}: {name}{f'[{extra}]' if extra else ''} "
                    f"requires {requirement}"
                )
            todo += [(wanted, e) for e in requirement.extras]
    return found


def known_bad(pins: dict[str, Version]) -> list[str]:
    return [
        f"{package}=={pins[package]} beside {beside}=={pins[beside]}: {why}"
        for package, bad, beside, versions, why in KNOWN_BAD
        if package in pins
        and beside in pins
        and pins[package] in SpecifierSet(bad)
        and pins[beside] in SpecifierSet(versions)
    ]


def test_every_pin_satisfies_what_the_pinned_packages_declare():
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert violations(pins) == []


def test_the_lock_is_what_is_installed():
    # declared() reads the installed metadata: it speaks for the lock only if they agree.
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    installed = {name: Version(metadata.version(name)) for name in pins}
    assert {n: v for n, v in installed.items() if v != pins[n]} == {}


def test_every_requirement_of_a_pinned_package_is_pinned():
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    unpinned = {
        f"{name} needs {r}"
        for name in pins
        for r in declared(name)
        if canonicalize_name(r.name) not in pins
    }
    assert unpinned == set()


def test_prefects_sqlalchemy_range_holds_and_no_known_bad_pair_is_pinned():
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    [sqlalchemy] = [r for r in declared("prefect") if canonicalize_name(r.name) == "sqlalchemy"]
    assert str(sqlalchemy.specifier) == "<3.0.0,>=2.0"  # what Prefect 3.8.8 declares: 2.1 fits it
    assert pins["sqlalchemy"] in sqlalchemy.specifier
    assert known_bad(pins) == []


def test_the_checks_catch_a_bad_lock():
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert "sqlalchemy==1.4.54: prefect requires sqlalchemy[asyncio]<3.0.0,>=2.0" in violations(
        {**pins, "sqlalchemy": Version("1.4.54")}
    )
    [bad] = known_bad({**pins, "sqlalchemy": Version("2.1.9")})
    assert bad.startswith("sqlalchemy==2.1.9 beside prefect==3.8.8: Prefect 3.8's scheduler fails")
    assert violations({**pins, "sqlalchemy": Version("2.1.9")}) == []  # the ranges alone let it in
