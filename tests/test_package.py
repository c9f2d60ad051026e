"""`pip install .` gives a working `epaper` with the built-in catalogue: the wheel carries
papers.yaml and the replica's seed pages as package data, not as files of this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_runs_epaper_papers_from_anywhere(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            str(ROOT),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "papers" / "papers.yaml").is_file() and list(
        (site / "replica" / "data").glob("*.txt")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import papers, sys; from epaper.cli import main; print(papers.__file__, file=sys.stderr);"
        " main(['papers'])"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "EPAPER_HOME": str(tmp_path / "home")}
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith(str(site)), (
        "the installed package, not this checkout, was imported"
    )
    assert "rmrb" in run.stdout and len(run.stdout.splitlines()) >= 60
