#!/usr/bin/env python3
"""The project's front door, needing nothing but Python 3.11+.

    python3 run.py demo            archive the bundled replica sites (the main job)
    python3 run.py test [ARGS]     run the test suite (ARGS go to pytest)
    python3 run.py lint            ruff's checks and format check (CI runs it first)
    python3 run.py epaper ARGS     any `epaper` command

On first use it creates .venv and installs the pinned requirements.lock; it
reinstalls only when the lock file or pyproject.toml changes. pywb (`epaper replay`) pins
redis 2.10, which Prefect's redis>=6 excludes, so it gets an environment of its own,
.venv-pywb, from requirements-pywb.lock.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
VENV = ROOT / ".venv"
BIN = VENV / SCRIPTS
PYWB_VENV = ROOT / ".venv-pywb"


def ensure_venv(folder: Path, lock: str, *extra: list[str]) -> None:
    """Create `folder` and install `lock` (then each `extra` pip command) when they changed."""
    stamp = folder / ".installed"
    wanted = hashlib.sha256(
        (ROOT / lock).read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    python = folder / SCRIPTS / "python"
    if not python.exists():
        print(f"run.py: creating {folder.name}", flush=True)
        venv.create(folder, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print(f"run.py: installing {lock} into {folder.name} (first use only)", flush=True)
    subprocess.run(pip + ["-r", str(ROOT / lock)], check=True)
    for args in extra:
        subprocess.run(pip + args, check=True)
    stamp.write_text(wanted)


def ensure_env() -> None:
    ensure_venv(VENV, "requirements.lock", ["--no-deps", "-e", str(ROOT)])
    ensure_venv(PYWB_VENV, "requirements-pywb.lock")
    # `epaper replay` finds pywb's `wayback` here (a user's own install: EPAPER_PYWB).
    os.environ.setdefault("EPAPER_PYWB", str(PYWB_VENV / SCRIPTS / "wayback"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "lint", "epaper"):
        print(__doc__)
        return 2
    ensure_env()
    os.chdir(ROOT)
    command, rest = argv[0], argv[1:]
    if command == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest])
    if command == "lint":
        ruff = str(BIN / "ruff")
        return subprocess.call([ruff, "check", "."]) or subprocess.call(
            [ruff, "format", "--check", "."]
        )
    if command == "demo":
        rest = ["demo", *rest]
    return subprocess.call([str(BIN / "epaper"), *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
