"""EPAPER_HOME: the one folder of local state (embedded S3 data, catalog, work files, logs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def default_home() -> Path:
    """EPAPER_HOME when unset: the user's data folder, not the current folder, so that a
    command run from anywhere finds the same archive."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "epaper"


def epaper_home() -> Path:
    return Path(os.environ.get("EPAPER_HOME") or default_home()).resolve()


def settle_home() -> Path:
    """Export EPAPER_HOME (the default unless set), for this process and its children."""
    home = os.environ.get("EPAPER_HOME") or str(default_home())
    old_default = Path(".epaper")
    if (
        not os.environ.get("EPAPER_HOME")
        and old_default.is_dir()
        and old_default.resolve() != Path(home).resolve()
    ):
        print(
            f"epaper: note: using {home}; the archive in {old_default.resolve()} "
            "(the default before) "
            f"is used with EPAPER_HOME={old_default.resolve()}",
            file=sys.stderr,
        )
    os.environ["EPAPER_HOME"] = home
    return Path(home).resolve()
