"""Work folders: a live run's is never swept, a killed run's is swept by the next run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from papers.workdir import edition_workdir, sweep_abandoned

ROOT = Path(__file__).resolve().parent.parent
HOLD = """
import sys
from papers.workdir import edition_workdir
with edition_workdir("bcrb", "2025-04-28") as path:
    print(path, flush=True)
    sys.stdin.read()
"""


def test_a_live_runs_folder_is_kept_and_a_killed_ones_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path))
    run = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        live = Path(run.stdout.readline().strip())
        assert live.is_dir()
        assert sweep_abandoned() == [] and live.is_dir()
        with edition_workdir(
            "bcrb", "2025-04-28"
        ) as mine:  # a second run of the same edition beside it
            assert live.is_dir() and mine != live
        assert not mine.exists(), "a run that ends well removes its folder"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert live.is_dir()
    assert sweep_abandoned() == [live] and not live.exists()


def test_a_failed_runs_folder_stays_until_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path))
    with pytest.raises(RuntimeError), edition_workdir("bcrb", "2025-04-28") as failed:
        raise RuntimeError("the crawl failed")
    assert failed.is_dir(), "kept for inspection"
    with edition_workdir("bcrb", "2025-04-29") as next_run:
        assert not failed.exists() and next_run.is_dir()
