"""Ctrl-C and SIGTERM end a real `epaper archive` mid-crawl: in seconds, with one line and
exit 130/143, no process of the run left (crawl, temporary Prefect server, embedded
SeaweedFS), no port of theirs listening, and no manifest of the half edition."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from replica import ReplicaServer, build_site
from storage.archive import open_archive

DAY = date(2025, 4, 28)
EXIT_WITHIN = 20  # seconds from the signal


def run_processes(marker: str) -> dict[int, str]:
    """Live processes whose environment holds `marker` (NAME=value): all a run started,
    whichever session or parent they ended up in. pid -> command line."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0") and state != "Z":
            found[int(pid)] = command.decode(errors="replace")
    return found


def listening_ports(pids) -> set[int]:
    """TCP ports the processes `pids` listen on (their socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        inodes |= {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory):
    # Shared by the module's runs: the temporary server migrates a new database only once.
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def stuck_run(tmp_path, prefect_home):
    """An `epaper archive` in a session of its own, without PREFECT_API_URL nor
    EPAPER_S3_ENDPOINT, held mid-crawl by an article that never answers."""
    site = build_site("founder-new", "bcrb", [DAY], pages=2, faults={"article:0": "timeout"})
    [stuck_path] = site.fault_paths("article:0")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "EPAPER_"))
    }
    env.update(EPAPER_HOME=str(home), EPAPER_DOWNLOAD_DELAY="0", PREFECT_HOME=str(prefect_home))
    with ReplicaServer([site], fault_delay=300) as replica:
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(replica.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "epaper.cli",
                "archive",
                "bcrb",
                "--date",
                DAY.isoformat(),
                "--papers",
                str(papers),
            ],
            env=env,
            cwd=tmp_path,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 240  # a first run migrates the Prefect database
            while stuck_path not in replica.paths() and process.poll() is None:
                assert time.monotonic() < deadline, "the crawl never reached the stuck article"
                time.sleep(0.2)
            assert process.poll() is None, process.communicate()
            yield process, home
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
            # A failed test leaves nothing running either.
            for pid in run_processes(f"EPAPER_HOME={home}"):
                os.kill(pid, signal.SIGKILL)


def interrupt(process, home: Path, send) -> dict:
    marker = f"EPAPER_HOME={home}"
    during = run_processes(marker)
    needles = {"crawl": "spiders.crawl", "prefect": "prefect server start", "seaweedfs": "weed"}
    kinds = {kind for kind, needle in needles.items() if any(needle in c for c in during.values())}
    assert kinds == {"crawl", "prefect", "seaweedfs"}, during  # all three are there to be ended
    ports = listening_ports(during)
    sent = time.monotonic()
    send(process)
    stdout, stderr = process.communicate(timeout=EXIT_WITHIN)
    took = time.monotonic() - sent
    left = run_processes(marker)
    return {
        "code": process.returncode,
        "took": took,
        "stdout": stdout,
        "stderr": stderr,
        "started": len(during),
        "left": left,
        "ports": ports,
        "still_listening": {port for port in ports if accepts(port)},
    }


def last_run_state(prefect_home: Path) -> str:
    """State of the latest flow run of the edition in the temporary server's database."""
    with sqlite3.connect(prefect_home / "prefect.db") as db:
        [(state,)] = db.execute(
            "SELECT state_type FROM flow_run WHERE name = ? ORDER BY created DESC LIMIT 1",
            (f"bcrb {DAY}",),
        ).fetchall()
    return state


def manifests(home: Path, monkeypatch) -> list[str]:
    """What the run's embedded SeaweedFS holds under editions/ (started again to look)."""
    monkeypatch.setenv("EPAPER_HOME", str(home))
    for name in (
        "EPAPER_S3_ENDPOINT",
        "EPAPER_S3_ACCESS_KEY",
        "EPAPER_S3_SECRET_KEY",
        "EPAPER_S3_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    with open_archive() as archive:
        return list(archive.list("editions/"))


def check_ended_cleanly(outcome: dict, code: int, signame: str) -> None:
    assert outcome["code"] == code, outcome["stderr"]
    [line] = outcome["stderr"].splitlines()
    assert line.startswith(f"epaper: interrupted by {signame} (details: ")
    assert Path(line.split("(details: ", 1)[1].rstrip(")")).is_file()
    assert outcome["left"] == {}
    assert outcome["ports"] and outcome["still_listening"] == set()


@pytest.mark.timeout(360)
def test_ctrl_c_to_the_process_group_ends_the_run_and_everything_it_started(
    stuck_run, prefect_home, monkeypatch, fault_report
):
    process, home = stuck_run
    outcome = interrupt(process, home, lambda p: os.killpg(p.pid, signal.SIGINT))
    check_ended_cleanly(outcome, 130, "SIGINT")
    assert last_run_state(prefect_home) == "CRASHED"  # reported before its server was stopped
    assert manifests(home, monkeypatch) == []
    fault_report.row(
        "Ctrl-C (SIGINT to the process group) during a crawl stuck on an unanswered article",
        f"exit 130 in {outcome['took']:.1f} s with one line; the run reported "
        f"Crashed to its own temporary Prefect server; "
        f"{outcome['started']} processes ended",
        f"no process left, none of their {len(outcome['ports'])} ports listening, "
        "no manifest of the half edition in the bucket",
    )


@pytest.mark.timeout(360)
def test_one_sigterm_ends_the_run_and_everything_it_started(
    stuck_run, prefect_home, monkeypatch, fault_report
):
    process, home = stuck_run
    outcome = interrupt(process, home, lambda p: os.kill(p.pid, signal.SIGTERM))
    check_ended_cleanly(outcome, 143, "SIGTERM")
    assert last_run_state(prefect_home) == "CRASHED"
    assert manifests(home, monkeypatch) == []
    fault_report.row(
        "One SIGTERM to `epaper archive` during a crawl stuck on an unanswered article",
        f"exit 143 in {outcome['took']:.1f} s with one line; run reported Crashed; "
        "crawl, temporary Prefect server and embedded SeaweedFS ended "
        f"({outcome['started']} processes)",
        f"no process left, none of their {len(outcome['ports'])} ports listening, "
        "no manifest of the half edition in the bucket",
    )
