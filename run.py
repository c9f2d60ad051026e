#!/usr/bin/env python3
"""The project's front door, needing nothing but Python 3.11+.

    python3 run.py demo            archive the bundled replica sites (the main job)
    python3 run.py test [ARGS]     run the test suite (ARGS go to pytest)
    python3 run.py lint            ruff's checks and format check (CI runs it first)
    python3 run.py epaper ARGS     any `epaper` command

On first use it creates .venv and installs the pinned requirements.lock; it
reinstalls only when the lock file or pyproject.toml changes.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def ensure_env() -> None:
    wanted = hashlib.sha256(
        (ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("run.py: creating .venv", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("run.py: installing pinned packages (first use only)", flush=True)
    subprocess.run(pip + ["-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


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
